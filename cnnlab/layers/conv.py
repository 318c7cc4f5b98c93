"""Convolution units: a convolution with its norm and activation, in the order a block needs.

torchvision's ``Conv2dNormActivation`` and timm's ``ConvNormAct`` are the models: every unit takes
``norm_layer`` (called with the channel count it normalises) and ``act_layer`` (called with no
argument, e.g. ``nn.ReLU`` or ``functools.partial(nn.LeakyReLU, 0.2)``); ``None`` leaves either
out. :class:`ConvNormAct` is the usual conv -> norm -> act; :class:`NormActConv` the
pre-activation order (He et al. 2016; pix2pix's LeakyReLU before each encoder conv);
:class:`ConvUnit` takes any order, for the ReLU-only pre-activation block.

Padding defaults to ``(kernel_size - 1) // 2`` per axis: odd kernels keep the size at stride 1,
``1x7`` and ``7x1`` kernels keep it too, and pix2pix's ``kernel_size=4, stride=2`` halves an even
map. The convolution has no bias by default: a following norm's shift makes it redundant.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

from cnnlab.checks import choice, divides, integer, pair

__all__ = ["ConvNormAct", "ConvUnit", "Factory", "NormActConv", "fold_batch_norm", "make_divisible",
           "same_padding",
           "unit_factory"]

# A layer factory: nn.BatchNorm2d (called with a channel count), nn.ReLU (called with nothing).
Factory = Callable[..., nn.Module]


def same_padding(kernel_size: int | tuple[int, int], dilation: int = 1) -> tuple[int, int]:
    """``(k - 1) // 2 * dilation`` per axis: the padding that keeps an odd kernel's map size."""
    d = integer("dilation", dilation)
    return tuple((k - 1) // 2 * d for k in pair("kernel_size", kernel_size))


class ConvUnit(nn.Sequential):
    """A 2-D convolution with an optional norm and activation, in ``order``.

    ``order`` lists ``"conv"``, ``"norm"`` and ``"act"`` once each; the norm sees the input's
    channels when it comes before the convolution and the output's after it. Children are named
    ``conv``, ``norm`` and ``act`` whatever the order.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        *,
        order: Sequence[str] = ("conv", "norm", "act"),
        padding: int | tuple[int, int] | None = None,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        norm_layer: Factory | None = nn.BatchNorm2d,
        act_layer: Factory | None = nn.ReLU,
    ):
        in_channels = integer("in_channels", in_channels)
        out_channels = integer("out_channels", out_channels)
        groups = integer("groups", groups)
        divides("groups", groups, "in_channels", in_channels)
        divides("groups", groups, "out_channels", out_channels)
        if sorted(order) != ["act", "conv", "norm"]:
            raise ValueError(f"order must list 'conv', 'norm' and 'act' once each, got {order!r}.")
        kernel = pair("kernel_size", kernel_size)
        padding = same_padding(kernel, dilation) if padding is None else pair("padding", padding, 0)
        conv_first = order.index("conv") < order.index("norm")
        layers = OrderedDict()
        for part in order:
            if part == "conv":
                layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel, pair("stride", stride),
                                           padding, dilation, groups, bias=bias)
            elif part == "norm" and norm_layer is not None:
                layers["norm"] = norm_layer(out_channels if conv_first else in_channels)
            elif part == "act" and act_layer is not None:
                layers["act"] = act_layer()
        super().__init__(layers)


class ConvNormAct(ConvUnit):
    """Convolution -> norm -> activation: the unit most blocks are made of."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 3,
                 stride: int | tuple[int, int] = 1, **options):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         order=("conv", "norm", "act"), **options)


class NormActConv(ConvUnit):
    """Norm -> activation -> convolution: the pre-activation unit (norm over the input)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 3,
                 stride: int | tuple[int, int] = 1, **options):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         order=("norm", "act", "conv"), **options)


def make_divisible(channels: float, divisor: int = 1, *, rounding: str = "down") -> int:
    """A channel count for a width multiplier: ``channels`` rounded to a multiple of ``divisor``.

    ``rounding="down"`` truncates (``int(w * multiplier)`` rounded down to the divisor, the
    dissertation's rule, never below one ``divisor``). ``"nearest"`` is MobileNet's rule (timm's
    ``make_divisible``): the nearest multiple, raised by one ``divisor`` when that would lose more
    than 10% of the width.
    """
    rounding = choice("rounding", rounding, ("down", "nearest"))
    divisor = integer("divisor", divisor)
    if isinstance(channels, bool) or not isinstance(channels, int | float) or not channels > 0:
        raise ValueError(f"channels must be a positive number, got {channels!r}.")
    if rounding == "down":
        return max(divisor, int(channels) // divisor * divisor)
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def unit_factory(
    *,
    order: Sequence[str] = ("conv", "norm", "act"),
    bias: bool = False,
    norm_layer: Factory | None = nn.BatchNorm2d,
    act_layer: Factory | None = nn.ReLU,
) -> Callable[..., ConvUnit]:
    """The conv units of one block: ``unit(in, out, kernel_size, stride=1, *, padding=None,
    groups=1, norm=True, act=True)``, each in ``order`` with the block's norm, activation and bias.

    ``norm=False`` / ``act=False`` leave that layer out of one unit, e.g. the activation of a
    residual branch's last conv, which comes after the sum.
    """

    def unit(in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
             stride: int | tuple[int, int] = 1, *, padding: int | tuple[int, int] | None = None,
             groups: int = 1, norm: bool = True, act: bool = True) -> ConvUnit:
        return ConvUnit(in_channels, out_channels, kernel_size, stride, order=order,
                        padding=padding, groups=groups, bias=bias,
                        norm_layer=norm_layer if norm else None,
                        act_layer=act_layer if act else None)

    return unit


def fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    """A new convolution equal, at inference, to ``conv`` followed by ``norm``.

    In eval mode batch norm is an affine map per channel, ``y = gamma (x - mu) / sqrt(var + eps)
    + beta``, so it folds into the convolution before it: ``W' = W s`` and ``b' = (b - mu) s + beta``
    with ``s = gamma / sqrt(var + eps)``. Deployed networks (and int8 quantization) fold it so that
    it costs neither time nor memory traffic. ``conv`` and ``norm`` are left as they were.
    """
    if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d):
        raise TypeError(f"fold_batch_norm takes an nn.Conv2d and an nn.BatchNorm2d, got "
                        f"{type(conv).__name__} and {type(norm).__name__}.")
    if norm.num_features != conv.out_channels:
        raise ValueError(f"the norm has {norm.num_features} channels but the conv writes "
                         f"{conv.out_channels}; fold the norm that follows this conv.")
    if norm.running_mean is None:
        raise ValueError("the norm keeps no running statistics (track_running_stats=False), so it "
                         "is not a fixed affine map at inference and cannot be folded.")
    scale = norm.running_var.add(norm.eps).rsqrt()
    if norm.affine:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale + (norm.bias if norm.affine else 0)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                       conv.padding, conv.dilation, conv.groups, bias=True,
                       padding_mode=conv.padding_mode, device=conv.weight.device,
                       dtype=conv.weight.dtype)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        folded.bias.copy_(shift + (conv.bias * scale if conv.bias is not None else 0))
    return folded
