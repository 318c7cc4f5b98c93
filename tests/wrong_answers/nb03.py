from torch import nn


def receptive_field_ignores_stride(layers):
    """Adds k - 1 per layer as if every stride were 1."""
    return 1 + sum(kernel - 1 for kernel, _ in layers)


def receptive_field_stride_too_early(layers):
    """Multiplies the jump by the layer's own stride before adding its kernel."""
    side, jump = 1, 1
    for kernel, stride in layers:
        jump *= stride
        side += (kernel - 1) * jump
    return side


def receptive_field_sum_of_kernels(layers):
    """Adds the kernel sizes."""
    return sum(kernel for kernel, _ in layers) or 1


class VGGBlockNoPool(nn.Module):
    """Forgets the max pool."""

    def __init__(self, in_channels, out_channels, num_convs):
        super().__init__()
        layers = []
        for index in range(num_convs):
            layers += [nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3,
                                 padding=1), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class VGGBlockNoPadding(nn.Module):
    """Unpadded convolutions shrink the map by 2 each."""

    def __init__(self, in_channels, out_channels, num_convs):
        super().__init__()
        layers = []
        for index in range(num_convs):
            layers += [nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3),
                       nn.ReLU()]
        self.body = nn.Sequential(*layers, nn.MaxPool2d(2))

    def forward(self, x):
        return self.body(x)


class VGGBlockLastReluMissing(nn.Module):
    """No ReLU after the last convolution."""

    def __init__(self, in_channels, out_channels, num_convs):
        super().__init__()
        layers = []
        for index in range(num_convs):
            layers.append(nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3,
                                    padding=1))
            if index < num_convs - 1:
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers, nn.MaxPool2d(2))

    def forward(self, x):
        return self.body(x)


def fc_params_forgets_side(channels, side, hidden, num_classes, bias=True):
    """FC6 reads only the channels, not the whole flattened map."""
    widths = [channels, hidden, hidden, num_classes]
    return [a * b + (b if bias else 0) for a, b in zip(widths, widths[1:], strict=False)]


def fc_params_no_bias(channels, side, hidden, num_classes, bias=True):
    """Never counts biases."""
    widths = [channels * side * side, hidden, hidden, num_classes]
    return [a * b for a, b in zip(widths, widths[1:], strict=False)]


def fc_params_total(channels, side, hidden, num_classes, bias=True):
    """Returns the total instead of one count per layer."""
    widths = [channels * side * side, hidden, hidden, num_classes]
    return sum(a * b + (b if bias else 0) for a, b in zip(widths, widths[1:], strict=False))


WRONG = {
    "03.receptive_field": [receptive_field_ignores_stride, receptive_field_stride_too_early,
                           receptive_field_sum_of_kernels],
    "03.VGGBlock": [VGGBlockNoPool, VGGBlockNoPadding, VGGBlockLastReluMissing],
    "03.vgg_fc_params": [fc_params_forgets_side, fc_params_no_bias, fc_params_total],
}
