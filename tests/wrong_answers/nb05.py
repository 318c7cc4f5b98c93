import math

from torch import nn


def _shortcut(in_channels, out_channels, stride):
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


def _conv(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)


class _Residual(nn.Module):
    """``branch(x) + shortcut(x)``, then a ReLU if ``relu_after``: the frame each wrong block fills."""

    def __init__(self, branch, shortcut, relu_after):
        super().__init__()
        self.branch, self.shortcut, self.relu_after = branch, shortcut, relu_after

    def forward(self, x):
        out = self.branch(x) + self.shortcut(x)
        return out.relu() if self.relu_after else out


def _post_activated(in_channels, out_channels, stride, *, relu_last=False):
    """The original branch: conv -> BN -> ReLU -> conv -> BN (and a ReLU, with ``relu_last``)."""
    return nn.Sequential(_conv(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels),
                         nn.ReLU(), _conv(out_channels, out_channels), nn.BatchNorm2d(out_channels),
                         *([nn.ReLU()] if relu_last else []))


class BasicBlockReLUInBranch(_Residual):
    """Ends the branch with a ReLU before the sum (ordering c) and none after it."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(_post_activated(in_channels, out_channels, stride, relu_last=True),
                         _shortcut(in_channels, out_channels, stride), relu_after=False)


class BasicBlockAlwaysProject(_Residual):
    """Projects even when the shapes agree: an extra 1x1 conv and batch norm."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(_post_activated(in_channels, out_channels, stride),
                         nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                       nn.BatchNorm2d(out_channels)), relu_after=True)


class BasicBlockProjectionNoNorm(_Residual):
    """A projection shortcut without its batch norm."""

    def __init__(self, in_channels, out_channels, stride=1):
        same = stride == 1 and in_channels == out_channels
        super().__init__(_post_activated(in_channels, out_channels, stride),
                         nn.Identity() if same else nn.Conv2d(in_channels, out_channels, 1,
                                                              stride, bias=False),
                         relu_after=True)


def matching_mid_width_quarter(channels, kernel_size=3):
    """ResNet's expansion of 4 (m = M / 4): a bottleneck's usual width, not the matching one."""
    return channels // 4


def matching_mid_width_root(channels, kernel_size=3):
    """The positive root itself, a float, not rounded down to a whole width."""
    k2 = kernel_size**2
    return channels * (math.sqrt(1 + 2 * k2**2) - 1) / k2


def matching_mid_width_floored_float(channels, kernel_size=3):
    """Floors the root with //, which keeps it a float."""
    k2 = kernel_size**2
    return channels * (math.sqrt(1 + 2 * k2**2) - 1) // k2


def matching_mid_width_rounded(channels, kernel_size=3):
    """Rounds to the nearest width, which can go over the budget."""
    k2 = kernel_size**2
    return round(channels * (math.sqrt(1 + 2 * k2**2) - 1) / k2)


def matching_mid_width_one_conv(channels, kernel_size=3):
    """Matches one 3x3 conv (K^2 M^2) instead of the basic block's two."""
    k2, m = kernel_size**2, 1
    while (m + 1) * (2 * channels + (m + 1) * k2) <= k2 * channels**2:
        m += 1
    return m


class PreActBlockNormAfterAdd(_Residual):
    """Pre-activates, but also keeps the original ReLU after the sum."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                                       _conv(in_channels, out_channels, stride),
                                       nn.BatchNorm2d(out_channels), nn.ReLU(),
                                       _conv(out_channels, out_channels)),
                         _shortcut(in_channels, out_channels, stride), relu_after=True)


class PreActBlockReLUFirst(_Residual):
    """ReLU before BN in each unit (ReLU -> BN -> conv)."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(in_channels),
                                       _conv(in_channels, out_channels, stride),
                                       nn.ReLU(), nn.BatchNorm2d(out_channels),
                                       _conv(out_channels, out_channels)),
                         _shortcut(in_channels, out_channels, stride), relu_after=False)


class PreActBlockOriginal(_Residual):
    """The original post-activation block, unchanged."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(_post_activated(in_channels, out_channels, stride),
                         _shortcut(in_channels, out_channels, stride), relu_after=True)


def keeps_identity_path_preact_only(ordering):
    """Only the full pre-activation block: forgets that (c) and (d) end with the sum too."""
    return ordering == "preact"


def keeps_identity_path_no_norm_after(ordering):
    """Only a batch norm after the sum breaks the path: forgets the ReLU of (a)."""
    return ordering != "bn_after_add"


def keeps_identity_path_starts_with_preactivation(ordering):
    """Looks at where the branch starts instead of what follows the sum."""
    return ordering in ("relu_preact", "preact")


WRONG = {
    "05.BasicBlock": [BasicBlockReLUInBranch, BasicBlockAlwaysProject, BasicBlockProjectionNoNorm],
    "05.matching_mid_width": [matching_mid_width_quarter, matching_mid_width_root,
                              matching_mid_width_floored_float, matching_mid_width_rounded,
                              matching_mid_width_one_conv],
    "05.PreActBlock": [PreActBlockNormAfterAdd, PreActBlockReLUFirst, PreActBlockOriginal],
    "05.keeps_identity_path": [keeps_identity_path_preact_only, keeps_identity_path_no_norm_after,
                               keeps_identity_path_starts_with_preactivation],
}
