"""GoogLeNet's inception module: four branches on one input, concatenated along channels."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnlab.checks import choice, integer
from cnnlab.layers.conv import Factory, unit_factory

__all__ = ["GOOGLENET_INCEPTION", "LARGE_BRANCHES", "InceptionModule"]

LARGE_BRANCHES = ("5x5", "3x3", "3x3+3x3")


class InceptionModule(nn.Module):
    """Branches 1x1 -> ch1x1; [1x1 -> ch3x3red] 3x3 -> ch3x3; [1x1 -> ch5x5red] large -> ch5x5;
    3x3 max pool (stride 1) [1x1 -> pool_proj].

    Leaving the reductions and ``pool_proj`` as None gives the naive module, whose pool passes
    all M channels through. ``large_branch``: ``"5x5"`` (the paper), ``"3x3"`` (torchvision's
    GoogLeNet, a slip kept for its weights) or ``"3x3+3x3"`` (two stacked 3x3, r -> r -> ch5x5;
    seed 000). Branch names follow torchvision (``branch1`` ... ``branch4``).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3: int,
        ch5x5: int,
        pool_proj: int | None = None,
        *,
        ch3x3red: int | None = None,
        ch5x5red: int | None = None,
        large_branch: str = "5x5",
        bias: bool = False,
        norm_layer: Factory | None = nn.BatchNorm2d,
        act_layer: Factory | None = nn.ReLU,
    ):
        super().__init__()
        large_branch = choice("large_branch", large_branch, LARGE_BRANCHES)
        in_channels = integer("in_channels", in_channels)
        unit = unit_factory(bias=bias, norm_layer=norm_layer, act_layer=act_layer)

        def branch(reduction: int | None, name: str, kernels: list[int], width: int):
            layers, channels = OrderedDict(), in_channels
            if reduction is not None:
                layers["reduce"] = unit(channels, integer(name, reduction), 1)
                channels = reduction
            for index, kernel in enumerate(kernels, 1):
                out = width if index == len(kernels) else channels
                layers[f"conv{index}" if len(kernels) > 1 else "conv"] = unit(channels, out, kernel)
                channels = out
            return nn.Sequential(layers)

        large = {"5x5": [5], "3x3": [3], "3x3+3x3": [3, 3]}[large_branch]
        self.branch1 = unit(in_channels, integer("ch1x1", ch1x1), 1)
        self.branch2 = branch(ch3x3red, "ch3x3red", [3], integer("ch3x3", ch3x3))
        self.branch3 = branch(ch5x5red, "ch5x5red", large, integer("ch5x5", ch5x5))
        pool = OrderedDict(pool=nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True))
        if pool_proj is not None:
            pool["proj"] = unit(in_channels, integer("pool_proj", pool_proj), 1)
        self.branch4 = nn.Sequential(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


# Branch widths of GoogLeNet's nine inception modules (Szegedy et al. 2015, table 1) and the side
# of their input for a 224x224 image: ``InceptionModule(**widths)`` after popping ``in_size``.
GOOGLENET_INCEPTION: dict[str, dict[str, int]] = {
    name: dict(zip(("in_channels", "in_size", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5",
                    "pool_proj"), widths, strict=True))
    for name, widths in {
        "3a": (192, 28, 64, 96, 128, 16, 32, 32),
        "3b": (256, 28, 128, 128, 192, 32, 96, 64),
        "4a": (480, 14, 192, 96, 208, 16, 48, 64),
        "4b": (512, 14, 160, 112, 224, 24, 64, 64),
        "4c": (512, 14, 128, 128, 256, 24, 64, 64),
        "4d": (512, 14, 112, 144, 288, 32, 64, 64),
        "4e": (528, 14, 256, 160, 320, 32, 128, 128),
        "5a": (832, 7, 256, 160, 320, 32, 128, 128),
        "5b": (832, 7, 384, 192, 384, 48, 128, 128),
    }.items()
}
