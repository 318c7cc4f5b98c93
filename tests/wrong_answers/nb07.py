from torch import nn


def channel_shuffle_inverse(x, groups):
    """Views the channels as (C // groups, groups): the inverse, equal only when C = groups^2."""
    n, c, h, w = x.shape
    return x.view(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def channel_shuffle_no_op(x, groups):
    """Forgets to move anything."""
    return x


def channel_shuffle_spatial(x, groups):
    """Shuffles the rows of every map instead of the channels."""
    n, c, h, w = x.shape
    if h % groups:
        return x
    return x.view(n, c, groups, h // groups, w).transpose(2, 3).reshape(n, c, h, w)


def _depthwise(in_channels, stride):
    return nn.Conv2d(in_channels, in_channels, 3, stride, padding=1, groups=in_channels,
                     bias=False)


class DepthwiseSeparableNoBatchNorm(nn.Sequential):
    """Leaves both batch norms out."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(_depthwise(in_channels, stride), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.ReLU())


class DepthwiseSeparableFullFirstConv(nn.Sequential):
    """A standard 3x3 conv where the depthwise one belongs (forgets groups=in_channels)."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, stride, padding=1, bias=False),
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU())


class DepthwiseSeparableNoMiddleReLU(nn.Sequential):
    """Activates only the output, as if the two convs were one linear layer."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(
            _depthwise(in_channels, stride), nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU())


class DepthwiseSeparableUnpadded(nn.Sequential):
    """Forgets the padding, so every map loses its border."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, stride, groups=in_channels, bias=False),
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU())


def _macs_and_moved(layer, with_weights=True, with_groups=True):
    m, n, f = layer["in_channels"], layer["out_channels"], layer["size"]
    k, g = layer["kernel_size"], layer["groups"] if with_groups else 1
    weights = n * (m // g) * k * k
    return f * f * weights, m * f * f + n * f * f + (weights if with_weights else 0)


def higher_ratio_fewer_macs(first, second):
    """Picks the layer with fewer MACs: 'less arithmetic, less time'."""
    return "first" if _macs_and_moved(first)[0] <= _macs_and_moved(second)[0] else "second"


def higher_ratio_without_weights(first, second):
    """Counts only the feature maps as memory traffic, not the weights."""
    r1, r2 = (macs / moved for macs, moved in (_macs_and_moved(first, with_weights=False),
                                               _macs_and_moved(second, with_weights=False)))
    return "first" if r1 >= r2 else "second"


def higher_ratio_ignoring_groups(first, second):
    """Treats every layer as an ungrouped convolution."""
    r1, r2 = (macs / moved for macs, moved in (_macs_and_moved(first, with_groups=False),
                                               _macs_and_moved(second, with_groups=False)))
    return "first" if r1 >= r2 else "second"


def higher_ratio_lower(first, second):
    """Returns the layer with the lower ratio."""
    r1, r2 = (macs / moved for macs, moved in (_macs_and_moved(first), _macs_and_moved(second)))
    return "first" if r1 < r2 else "second"


WRONG = {
    "07.channel_shuffle": [channel_shuffle_inverse, channel_shuffle_no_op,
                           channel_shuffle_spatial],
    "07.DepthwiseSeparable": [DepthwiseSeparableNoBatchNorm, DepthwiseSeparableFullFirstConv,
                              DepthwiseSeparableNoMiddleReLU, DepthwiseSeparableUnpadded],
    "07.higher_ratio": [higher_ratio_fewer_macs, higher_ratio_without_weights,
                        higher_ratio_ignoring_groups, higher_ratio_lower],
}
