"""The spatial variants: how a block sees neighbouring pixels, each defined once.

A block (residual, fire, later the pix2pix encoder) is written once and takes a ``variant``:

* :class:`ConvVariant` (``"conv"``): a KxK convolution, grouped by ``groups`` (ResNeXt when > 1);
* :class:`DSCVariant` (``"dsc"``): MobileNet's depthwise-separable convolution,
  :class:`DepthwiseSeparable` (seed 002, eqs. 3.2-3.6);
* :class:`ShuffleVariant` (``"shuffle"``): ShuffleNet's channel shuffle then a KxK depthwise
  conv, with the 1x1 convolutions around it grouped (seed 002, figs. 16b and 22);
* :class:`ShiftVariant` (``"shift"``): ShiftNet's channel shift then a 1x1 that carries the
  stride, so pixels are exchanged before the map shrinks (seed 002, figs. 18 and 23).

Each variant says what its spatial operator is (:meth:`Variant.spatial`), how the 1x1
convolutions around it in a bottleneck are grouped, what follows the bottleneck's first 1x1
(:meth:`Variant.bottleneck`), and whether it can serve a basic block. The block hands it a
``unit`` (see :func:`cnnlab.layers.conv.unit_factory`) so the variant follows the block's norm,
activation and ordering; ``last`` switches off the norm or activation of the variant's last conv
(the block puts them after the residual sum).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import nn

from cnnlab.checks import integer
from cnnlab.layers.conv import Factory, unit_factory
from cnnlab.layers.shuffle import ChannelShuffle
from cnnlab.ops import Shift

__all__ = ["VARIANTS", "ConvVariant", "DSCVariant", "DepthwiseSeparable", "ShiftVariant",
           "ShuffleVariant", "Variant", "resolve_variant"]

Unit = Callable[..., nn.Module]
ALL_ON: Mapping[str, bool] = {"norm": True, "act": True}


class DepthwiseSeparable(nn.Sequential):
    """Depthwise KxK (carries the stride) -> pointwise 1x1: a KxK convolution for
    ``1/N + 1/K^2`` of its parameters and MACs (seed 002, eqs. 3.2-3.6: ``K^2 M + M N``
    parameters; the equations leave out the norms and any bias).

    Each conv is a ``unit`` (default: conv -> BN -> ReLU). ``depthwise_norm`` and
    ``depthwise_act`` say whether the depthwise conv keeps its own (MobileNet keeps both);
    ``activate_output=False`` drops the last activation, for a block that adds a shortcut first.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        *,
        bias: bool = False,
        norm_layer: Factory | None = nn.BatchNorm2d,
        act_layer: Factory | None = nn.ReLU,
        activate_output: bool = True,
        depthwise_norm: bool = True,
        depthwise_act: bool = True,
        unit: Unit | None = None,
        last: Mapping[str, bool] | None = None,
    ):
        unit = unit or unit_factory(bias=bias, norm_layer=norm_layer, act_layer=act_layer)
        in_channels = integer("in_channels", in_channels)
        last = dict(last or {"norm": True, "act": activate_output})
        super().__init__(OrderedDict(
            depthwise=unit(in_channels, in_channels, kernel_size, stride, groups=in_channels,
                           norm=depthwise_norm, act=depthwise_act),
            pointwise=unit(in_channels, out_channels, 1, **last),
        ))


@dataclass(frozen=True)
class Variant:
    """A spatial operator and the rules a block follows around it."""

    name = "variant"
    grouped = False  # whether ``groups`` means something for this variant
    basic = True  # whether it can be a basic block's spatial op (else: bottleneck only)

    def spatial(self, unit: Unit, in_channels: int, out_channels: int,
                stride: int | tuple[int, int] = 1, *, kernel_size: int | tuple[int, int] = 3,
                groups: int = 1, last: Mapping[str, bool] = ALL_ON) -> nn.Module:
        """The operator that mixes neighbouring pixels, ``in_channels -> out_channels``."""
        raise NotImplementedError

    def pointwise_groups(self, groups: int) -> int:
        """Groups of the 1x1 convolutions a block puts around the operator."""
        return 1

    def bottleneck(self, unit: Unit, mid_channels: int, out_channels: int,
                   stride: int | tuple[int, int], *, kernel_size: int | tuple[int, int],
                   groups: int, expand_groups: int, last: Mapping[str, bool]) -> OrderedDict:
        """What follows a bottleneck's reducing 1x1: the operator on m channels, then 1x1 m -> N."""
        return OrderedDict(
            spatial=self.spatial(unit, mid_channels, mid_channels, stride,
                                 kernel_size=kernel_size, groups=groups),
            expand=unit(mid_channels, out_channels, 1, groups=self.pointwise_groups(expand_groups),
                        **last),
        )

    def check_groups(self, groups: int) -> int:
        groups = integer("groups", groups)
        if groups != 1 and not self.grouped:
            raise ValueError(f"groups={groups} has nothing to group in variant {self.name!r}; "
                             "leave groups=1 or use variant 'conv' or 'shuffle'.")
        return groups


@dataclass(frozen=True)
class ConvVariant(Variant):
    """A KxK convolution, grouped by ``groups``."""

    name = "conv"
    grouped = True

    def spatial(self, unit, in_channels, out_channels, stride=1, *, kernel_size=3, groups=1,
                last=ALL_ON):
        return unit(in_channels, out_channels, kernel_size, stride, groups=groups, **last)


@dataclass(frozen=True)
class DSCVariant(Variant):
    """:class:`DepthwiseSeparable`; ``depthwise_norm=False, depthwise_act=False`` is the
    dissertation's ResNet-DSC form (no BN or ReLU between the depthwise and pointwise convs)."""

    name = "dsc"
    depthwise_norm: bool = True
    depthwise_act: bool = True

    def spatial(self, unit, in_channels, out_channels, stride=1, *, kernel_size=3, groups=1,
                last=ALL_ON):
        return DepthwiseSeparable(in_channels, out_channels, kernel_size, stride, unit=unit,
                                  last=last, depthwise_norm=self.depthwise_norm,
                                  depthwise_act=self.depthwise_act)


@dataclass(frozen=True)
class ShuffleVariant(Variant):
    """Channel shuffle over ``groups`` groups, then a KxK depthwise conv with
    ``out / in`` filters per channel; the 1x1 convs around it are grouped.

    In a bottleneck (the ShuffleNet unit) the depthwise conv has no activation: Xception and
    ShuffleNet found a ReLU there loses information.
    """

    name = "shuffle"
    grouped = True
    basic = False

    def spatial(self, unit, in_channels, out_channels, stride=1, *, kernel_size=3, groups=1,
                last=ALL_ON):
        return nn.Sequential(OrderedDict(
            shuffle=ChannelShuffle(groups),
            depthwise=unit(in_channels, out_channels, kernel_size, stride, groups=in_channels,
                           **last),
        ))

    def pointwise_groups(self, groups):
        return groups

    def bottleneck(self, unit, mid_channels, out_channels, stride, *, kernel_size, groups,
                   expand_groups, last):
        return OrderedDict(
            spatial=self.spatial(unit, mid_channels, mid_channels, stride,
                                 kernel_size=kernel_size, groups=groups,
                                 last={"norm": True, "act": False}),
            expand=unit(mid_channels, out_channels, 1, groups=expand_groups, **last),
        )


@dataclass(frozen=True)
class ShiftVariant(Variant):
    """A channel shift (:class:`cnnlab.ops.Shift`, KxK neighbourhood), then a 1x1 conv carrying
    the stride. The shift mixes no channels, so the op brings its own 1x1; in a bottleneck that
    1x1 is the expanding one: 1x1 M -> m, shift, 1x1 m -> N (seed 002, fig. 18)."""

    name = "shift"
    basic = False

    def spatial(self, unit, in_channels, out_channels, stride=1, *, kernel_size=3, groups=1,
                last=ALL_ON):
        return nn.Sequential(OrderedDict(
            shift=Shift(kernel_size), pointwise=unit(in_channels, out_channels, 1, stride, **last),
        ))

    def bottleneck(self, unit, mid_channels, out_channels, stride, *, kernel_size, groups,
                   expand_groups, last):
        return OrderedDict(shift=self.spatial(unit, mid_channels, out_channels, stride,
                                              kernel_size=kernel_size, last=last))


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (ConvVariant(), DSCVariant(), ShuffleVariant(), ShiftVariant())
}


def resolve_variant(variant: str | Variant) -> Variant:
    """A :class:`Variant` from its name (``"conv"``, ``"dsc"``, ``"shuffle"``, ``"shift"``) or
    itself (e.g. ``DSCVariant(depthwise_norm=False)``)."""
    if isinstance(variant, Variant):
        return variant
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))} or a Variant, "
                         f"got {variant!r}.")
    return VARIANTS[variant]


