"""SqueezeNet's fire module, with the expand stage's KxK branch taken from a variant."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.checks import integer, pair
from cnnlab.layers.conv import Factory, unit_factory
from cnnlab.layers.variants import Variant, resolve_variant

__all__ = ["FireModule"]


class FireModule(nn.Module):
    """Squeeze 1x1 M -> s, then concat(expand 1x1 s -> e1, the variant's KxK s -> e3).

    Squeezing to few channels before the KxK convs is where SqueezeNet saves (seed 002, fig. 5).
    ``variant`` swaps the KxK branch (seed 002, sec. 4.4.1): ``"conv"`` (eq. 4.1), ``"dsc"``
    (fig. 21, eq. 4.2), ``"shuffle"`` (fig. 22: shuffle + depthwise s -> e3, with the squeeze and
    expand-1x1 convs grouped by ``groups``; eq. 4.3 is e3 = s) or ``"shift"`` (fig. 23, eq. 4.4).
    Every conv ends with its norm and activation, so both halves of the output are activated.
    torchvision's SqueezeNet is ``bias=True, norm_layer=None``; the dissertation's CIFAR
    version adds BN.
    """

    def __init__(
        self,
        in_channels: int,
        squeeze_channels: int,
        expand1x1_channels: int,
        expand3x3_channels: int,
        *,
        variant: str | Variant = "conv",
        kernel_size: int = 3,
        groups: int = 1,
        bias: bool = False,
        norm_layer: Factory | None = nn.BatchNorm2d,
        act_layer: Factory | None = nn.ReLU,
    ):
        super().__init__()
        variant = resolve_variant(variant)
        groups = variant.check_groups(groups)
        squeeze_channels = integer("squeeze_channels", squeeze_channels)
        if any(k % 2 == 0 for k in pair("kernel_size", kernel_size)):
            raise ValueError(f"kernel_size={kernel_size} must be odd: the two expand branches are "
                             "concatenated, so the KxK branch must keep the 1x1 branch's size.")
        unit = unit_factory(bias=bias, norm_layer=norm_layer, act_layer=act_layer)
        pointwise_groups = variant.pointwise_groups(groups)
        self.squeeze = unit(in_channels, squeeze_channels, 1, groups=pointwise_groups)
        self.expand1x1 = unit(squeeze_channels, integer("expand1x1_channels", expand1x1_channels),
                              1, groups=pointwise_groups)
        self.expand3x3 = variant.spatial(unit, squeeze_channels,
                                         integer("expand3x3_channels", expand3x3_channels),
                                         kernel_size=kernel_size, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = self.squeeze(x)
        return torch.cat([self.expand1x1(squeezed), self.expand3x3(squeezed)], dim=1)
