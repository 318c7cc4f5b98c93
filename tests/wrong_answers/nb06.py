import torch
from torch import nn


def _unit(in_channels, out_channels, kernel_size, *, bias=False, norm=True, relu=True):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size,
                                   padding=kernel_size // 2, bias=bias),
                         *([nn.BatchNorm2d(out_channels)] if norm else []),
                         *([nn.ReLU()] if relu else []))


class _Fire(nn.Module):
    """squeeze -> (expand 1x1, expand 3x3) -> concatenated, in ``order``."""

    def __init__(self, squeeze, expand1x1, expand3x3, first="1x1"):
        super().__init__()
        self.squeeze, self.expand1x1, self.expand3x3, self.first = squeeze, expand1x1, expand3x3, first

    def forward(self, x):
        s = self.squeeze(x)
        parts = [self.expand1x1(s), self.expand3x3(s)]
        return torch.cat(parts if self.first == "1x1" else parts[::-1], dim=1)


class FireThreeByThreeFirst(_Fire):
    """Concatenates the 3x3 branch before the 1x1 branch: channels in the other order."""

    def __init__(self, in_channels, squeeze_channels, expand1x1_channels, expand3x3_channels):
        super().__init__(_unit(in_channels, squeeze_channels, 1),
                         _unit(squeeze_channels, expand1x1_channels, 1),
                         _unit(squeeze_channels, expand3x3_channels, 3), first="3x3")


class FireNoSqueezeActivation(_Fire):
    """Leaves the ReLU out after the squeeze conv."""

    def __init__(self, in_channels, squeeze_channels, expand1x1_channels, expand3x3_channels):
        super().__init__(_unit(in_channels, squeeze_channels, 1, relu=False),
                         _unit(squeeze_channels, expand1x1_channels, 1),
                         _unit(squeeze_channels, expand3x3_channels, 3))


class FireExpandFromInput(_Fire):
    """Feeds the expand convs the module's input instead of the squeezed maps (no squeeze)."""

    def __init__(self, in_channels, squeeze_channels, expand1x1_channels, expand3x3_channels):
        super().__init__(nn.Identity(), _unit(in_channels, expand1x1_channels, 1),
                         _unit(in_channels, expand3x3_channels, 3))


class FireWithBiases(_Fire):
    """Keeps every conv's bias beside its batch norm: 1 extra parameter per output channel."""

    def __init__(self, in_channels, squeeze_channels, expand1x1_channels, expand3x3_channels):
        super().__init__(_unit(in_channels, squeeze_channels, 1, bias=True),
                         _unit(squeeze_channels, expand1x1_channels, 1, bias=True),
                         _unit(squeeze_channels, expand3x3_channels, 3, bias=True))


class FireTransposed(_Fire):
    """Right layers, but returns the maps with height and width swapped (a transposed output)."""

    def __init__(self, in_channels, squeeze_channels, expand1x1_channels, expand3x3_channels):
        super().__init__(_unit(in_channels, squeeze_channels, 1),
                         _unit(squeeze_channels, expand1x1_channels, 1),
                         _unit(squeeze_channels, expand3x3_channels, 3))

    def forward(self, x):
        return super().forward(x).transpose(2, 3)


def squeeze_for_budget_float(in_channels, out_channels, budget, kernel_size=3):
    """Divides the budget by the per-channel cost and floors with //, which keeps a float."""
    return budget // (in_channels + out_channels / 2 + kernel_size**2 * out_channels / 2)


def squeeze_for_budget_rounded(in_channels, out_channels, budget, kernel_size=3):
    """Rounds to the nearest width, which can go over the budget."""
    return round(budget / (in_channels + out_channels / 2 + kernel_size**2 * out_channels / 2))


def squeeze_for_budget_full_width(in_channels, out_channels, budget, kernel_size=3):
    """Counts both expand branches as N wide."""
    return budget // (in_channels + out_channels + kernel_size**2 * out_channels)


def _activations(in_channels, channels, size, position, pooled):
    total = (in_channels if position == 0 else channels[position - 1]) * pooled**2
    return total + sum(w * (size if i < position else pooled) ** 2 for i, w in enumerate(channels))


def pool_position_earliest(in_channels, channels, size, budget):
    """The earliest position that fits."""
    fits = [p for p in range(len(channels) + 1)
            if _activations(in_channels, channels, size, p, size // 2) <= budget]
    return min(fits) if fits else None


def pool_position_float_size(in_channels, channels, size, budget):
    """Halves the map with /, so an odd map is 3.5 wide, and returns the position as a float."""
    fits = [float(p) for p in range(len(channels) + 1)
            if _activations(in_channels, channels, size, p, size / 2) <= budget]
    return max(fits) if fits else None


def pool_position_no_pool_output(in_channels, channels, size, budget):
    """Leaves the pool's own output out of the total."""
    fits = [p for p in range(len(channels) + 1)
            if _activations(in_channels, channels, size, p, size // 2)
            - (in_channels if p == 0 else channels[p - 1]) * (size // 2) ** 2 <= budget]
    return max(fits) if fits else None


def pool_position_zero_when_none(in_channels, channels, size, budget):
    """Returns position 0 when nothing fits, instead of saying so."""
    fits = [p for p in range(len(channels) + 1)
            if _activations(in_channels, channels, size, p, size // 2) <= budget]
    return max(fits) if fits else 0


WRONG = {
    "06.Fire": [FireThreeByThreeFirst, FireNoSqueezeActivation, FireExpandFromInput,
                FireWithBiases, FireTransposed],
    "06.squeeze_for_budget": [squeeze_for_budget_float, squeeze_for_budget_rounded,
                              squeeze_for_budget_full_width],
    "06.pool_position": [pool_position_earliest, pool_position_float_size,
                         pool_position_no_pool_output, pool_position_zero_when_none],
}
