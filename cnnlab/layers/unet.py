"""pix2pix's building blocks: the U-Net's down and up steps, the skip join, the PatchGAN layer.

pix2pix (Isola et al., 2017) writes every encoder step as LeakyReLU(0.2) -> 4x4 stride-2 conv ->
norm, every decoder step as ReLU -> 4x4 stride-2 transposed conv -> norm (-> dropout), and joins
each decoder step's output to the encoder map of the same size along the channels. The
outermost encoder step has no activation and no norm (it sees the image), the innermost no
norm (its map is 1x1 at 256x256).

The encoder's convolution is a :class:`~cnnlab.layers.variants.Variant` like everywhere else
(seed 002, section 4.4.3: DSC, Shift and Shuffle units *without shortcuts*). :class:`UNetDown`
wraps the variant's operator in the step's activation and norm, and builds it with no norm or
activation inside, so a variant replaces exactly the one linear map the convolution was:

* ``"conv"``: the 4x4 stride-2 convolution, ``16 M N`` weights;
* ``"dsc"``: depthwise 4x4 stride 2, then 1x1 M -> N (``16 M + M N``);
* ``"shift"``: 1x1 M -> m, shift, 1x1 m -> N carrying the stride (``M m + m N``);
* ``"shuffle"``: grouped 1x1 M -> m, shuffle, depthwise 4x4 stride 2, grouped 1x1 m -> N
  (``M m / g + 16 m + m N / g``).

``mid_channels`` (m) defaults to half the input, as in the seed's worked example (M = 32, m = 16).
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import torch
from torch import nn

from cnnlab.checks import divides, integer
from cnnlab.layers.conv import ConvNormAct, Factory, unit_factory
from cnnlab.layers.variants import DSCVariant, Variant, resolve_variant

__all__ = ["PatchLayer", "UNetDown", "UNetUp", "encoder_operator", "leaky_relu", "mid_width",
           "skip_concat"]

# pix2pix's encoder and discriminator activation; not in place, the skip reads the map it gets.
leaky_relu = functools.partial(nn.LeakyReLU, 0.2)


def _default_bias(norm_layer: Factory | None) -> bool:
    """The reference implementation's rule: BatchNorm's shift makes a conv bias redundant,
    InstanceNorm (or no norm) keeps it."""
    return norm_layer is not nn.BatchNorm2d


def mid_width(in_channels: int, mid_channels: int | None = None) -> int:
    """The bottleneck width m of a shift or shuffle encoder step: half the input by default."""
    if mid_channels is not None:
        return integer("mid_channels", mid_channels)
    return max(1, integer("in_channels", in_channels) // 2)


def encoder_operator(variant: str | Variant, in_channels: int, out_channels: int, *,
                     kernel_size: int = 4, stride: int = 2, mid_channels: int | None = None,
                     groups: int = 1, bias: bool = False) -> nn.Module:
    """The linear map of one encoder step, ``in_channels -> out_channels`` at ``stride``, built
    from ``variant`` with no norm or activation inside (a ``"dsc"`` name means the dissertation's
    form: nothing between the depthwise and pointwise convs)."""
    variant = DSCVariant(depthwise_norm=False, depthwise_act=False) if variant == "dsc" \
        else resolve_variant(variant)
    groups = variant.check_groups(groups)
    plain = unit_factory(bias=bias, norm_layer=None, act_layer=None)
    if variant.basic:  # conv, dsc: the operator itself maps M -> N
        return variant.spatial(plain, in_channels, out_channels, stride,
                               kernel_size=kernel_size, groups=groups)
    mid = mid_width(in_channels, mid_channels)
    pointwise = variant.pointwise_groups(groups)
    divides("groups", pointwise, "in_channels", in_channels)
    steps = OrderedDict(reduce=plain(in_channels, mid, 1, groups=pointwise))
    # A shift needs a centre: it moves channels within 3x3 whatever the conv's kernel was.
    spatial_kernel = 3 if variant.name == "shift" else kernel_size
    steps.update(variant.bottleneck(plain, mid, out_channels, stride, kernel_size=spatial_kernel,
                                    groups=groups, expand_groups=pointwise, last={}))
    return nn.Sequential(steps)


class UNetDown(nn.Sequential):
    """One encoder step: activation -> the variant's 4x4 stride-2 operator -> norm.

    ``activate=False`` for the outermost step (it reads the image), ``normalize=False`` for
    the outermost and the innermost. ``bias`` defaults to the reference's rule (none before
    BatchNorm)."""

    def __init__(self, in_channels: int, out_channels: int, *, variant: str | Variant = "conv",
                 mid_channels: int | None = None, groups: int = 1, kernel_size: int = 4,
                 activate: bool = True, normalize: bool = True,
                 norm_layer: Factory | None = nn.BatchNorm2d, act_layer: Factory = leaky_relu,
                 bias: bool | None = None):
        bias = _default_bias(norm_layer) if bias is None else bias
        layers = OrderedDict()
        if activate:
            layers["act"] = act_layer()
        layers["op"] = encoder_operator(variant, in_channels, out_channels,
                                        kernel_size=kernel_size, mid_channels=mid_channels,
                                        groups=groups, bias=bias)
        if normalize and norm_layer is not None:
            layers["norm"] = norm_layer(out_channels)
        super().__init__(layers)


class UNetUp(nn.Sequential):
    """One decoder step: ReLU -> 4x4 stride-2 transposed conv (doubles the side) -> norm,
    then dropout when ``dropout > 0`` (pix2pix's noise: it keeps dropout on at test time too).
    ``outermost=True`` is the last step: a biased transposed conv to the image, then tanh."""

    def __init__(self, in_channels: int, out_channels: int, *, dropout: float = 0.0,
                 outermost: bool = False, norm_layer: Factory | None = nn.BatchNorm2d,
                 act_layer: Factory = nn.ReLU, bias: bool | None = None):
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}.")
        bias = True if outermost else (_default_bias(norm_layer) if bias is None else bias)
        layers = OrderedDict(
            act=act_layer(),
            conv=nn.ConvTranspose2d(integer("in_channels", in_channels),
                                    integer("out_channels", out_channels), 4, 2, 1, bias=bias),
        )
        if outermost:
            layers["tanh"] = nn.Tanh()
        else:
            if norm_layer is not None:
                layers["norm"] = norm_layer(out_channels)
            if dropout:
                layers["dropout"] = nn.Dropout(dropout)
        super().__init__(layers)


def skip_concat(skip: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """The U-Net's skip: the encoder map ``skip`` then the decoder map ``up``, stacked along the
    channels (the reference's ``cat([x, block(x)], 1)``), so the decoder sees the fine detail
    the bottleneck could not carry."""
    if skip.shape[0] != up.shape[0] or skip.shape[2:] != up.shape[2:]:
        raise ValueError(f"a skip joins maps of the same batch and side; got {tuple(skip.shape)} "
                         f"and {tuple(up.shape)}. Check that the image side is a multiple of "
                         "2 ** depth.")
    return torch.cat([skip, up], 1)


class PatchLayer(ConvNormAct):
    """One PatchGAN layer: 4x4 conv (padding 1) -> norm -> LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2, *,
                 norm_layer: Factory | None = nn.BatchNorm2d, act_layer: Factory | None = leaky_relu,
                 bias: bool | None = None):
        super().__init__(in_channels, out_channels, 4, stride, padding=1,
                         bias=_default_bias(norm_layer) if bias is None else bias,
                         norm_layer=norm_layer, act_layer=act_layer)
