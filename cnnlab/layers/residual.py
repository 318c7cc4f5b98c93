"""Residual blocks: ``x + F(x)`` with a pluggable variant, five orderings and four shortcuts.

One class, :class:`ResidualBlock`, serves ResNet's basic and bottleneck blocks, the orderings
He et al. (2016) compared (seed 002, fig. 3), and every variant of :mod:`cnnlab.layers.variants`
(the ShuffleNet unit and the shift module are its bottleneck forms with ``"shuffle"`` and
``"shift"``). Parameter counts of the bare blocks (no norm, no bias) are the seed's
eqs. 4.5-4.9 (:mod:`cnnlab.arithmetic`); ``tests/test_layers.py`` checks them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.checks import choice, divides, integer
from cnnlab.layers.conv import ConvNormAct, Factory, unit_factory
from cnnlab.layers.variants import Variant, resolve_variant
from cnnlab.summary import free_op

__all__ = ["ORDERINGS", "SHORTCUTS", "Ordering", "ResidualBlock", "ShiftModule", "ShuffleUnit",
           "ZeroPadShortcut"]


@dataclass(frozen=True)
class Ordering:
    """Where a residual block puts its norms and activations (He et al. 2016, fig. 4)."""

    unit: tuple[str, str, str]  # the order inside each conv unit
    last_norm: bool  # whether the branch's last unit keeps its norm ...
    last_act: bool  # ... and its activation
    after_add: tuple[str, ...]  # what follows the sum


ORDERINGS: dict[str, Ordering] = {
    # (a) conv-BN-ReLU-conv-BN, add, ReLU: ResNet as first published.
    "original": Ordering(("conv", "norm", "act"), True, False, ("act",)),
    # (b) conv-BN-ReLU-conv, add, BN, ReLU.
    "bn_after_add": Ordering(("conv", "norm", "act"), False, False, ("norm", "act")),
    # (c) conv-BN-ReLU-conv-BN-ReLU, add: the branch can only add, never subtract.
    "relu_before_add": Ordering(("conv", "norm", "act"), True, True, ()),
    # (d) ReLU-conv-BN-ReLU-conv-BN, add.
    "relu_preact": Ordering(("act", "conv", "norm"), True, True, ()),
    # (e) BN-ReLU-conv-BN-ReLU-conv, add: nothing on the identity path from input to output.
    "preact": Ordering(("norm", "act", "conv"), True, True, ()),
}
SHORTCUTS = ("auto", "identity", "zero_pad", "projection", "none")


class ZeroPadShortcut(nn.Module):
    """He et al.'s option A: subsample by the stride and zero-pad the new channels.

    No parameters and no arithmetic, so the CIFAR ResNets keep their published counts.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.in_channels = integer("in_channels", in_channels)
        self.out_channels = integer("out_channels", out_channels)
        self.stride = integer("stride", stride)
        if self.out_channels < self.in_channels:
            raise ValueError(f"a zero-pad shortcut cannot drop channels ({in_channels} -> "
                             f"{out_channels}); use shortcut='projection'.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


free_op(ZeroPadShortcut)  # counted like the identity shortcut it extends: no MACs, no traffic


class ResidualBlock(nn.Module):
    """``after_add(residual(x) + shortcut(x))``: a ResNet block with a pluggable variant.

    ``kind="basic"``: two spatial ops M -> m (stride) -> N (eqs. 4.5, 4.6 with M = N).
    ``kind="bottleneck"``: 1x1 M -> m, then what the variant puts there (its op on m channels
    and 1x1 m -> N; the shift variant's op brings the last 1x1 itself). ``mid_channels`` (m)
    defaults to N for basic blocks and N // 4 for bottlenecks (ResNet's expansion of 4).
    ``groups`` groups the variant's convolutions (conv and shuffle only); ``expand_groups``
    (shuffle only, default ``groups``) groups the last 1x1: eq. 4.8 counts it with ``2 * groups``;
    ``reduce_groups`` (shuffle only, default ``groups``) the first: ShuffleNet leaves it ungrouped
    (1) where the input has too few channels to split.

    ``ordering``: a name from :data:`ORDERINGS` (default ``"original"``). ``shortcut``:
    ``"identity"`` (needs M = N and stride 1), ``"zero_pad"`` (option A), ``"projection"``
    (strided 1x1 + norm; option B), ``"none"`` (pix2pix's encoder), or ``"auto"`` (identity when
    the shapes allow, else projection, as torchvision's ResNet).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kind: str = "basic",
        variant: str | Variant = "conv",
        mid_channels: int | None = None,
        kernel_size: int | tuple[int, int] = 3,
        groups: int = 1,
        expand_groups: int | None = None,
        reduce_groups: int | None = None,
        bias: bool = False,
        norm_layer: Factory | None = nn.BatchNorm2d,
        act_layer: Factory | None = nn.ReLU,
        ordering: str = "original",
        shortcut: str = "auto",
    ):
        super().__init__()
        kind = choice("kind", kind, ("basic", "bottleneck"))
        variant = resolve_variant(variant)
        order = ORDERINGS[choice("ordering", ordering, tuple(ORDERINGS))]
        shortcut = choice("shortcut", shortcut, SHORTCUTS)
        in_channels = integer("in_channels", in_channels)
        out_channels = integer("out_channels", out_channels)
        stride = integer("stride", stride)
        groups = variant.check_groups(groups)
        for name, value in (("expand_groups", expand_groups), ("reduce_groups", reduce_groups)):
            if value is not None and variant.name != "shuffle":
                raise ValueError(f"{name} applies to variant 'shuffle' only; leave it unset.")
        expand_groups = groups if expand_groups is None else integer("expand_groups", expand_groups)
        reduce_groups = variant.pointwise_groups(groups) if reduce_groups is None \
            else integer("reduce_groups", reduce_groups)
        mid = (out_channels if kind == "basic" else max(out_channels // 4, 1)) \
            if mid_channels is None else integer("mid_channels", mid_channels)
        if kind == "basic" and not variant.basic:
            raise ValueError(f"variant {variant.name!r} is a bottleneck design; use "
                             "kind='bottleneck', or variant 'conv' or 'dsc'.")
        divides("groups", groups, "mid_channels", mid)

        unit = unit_factory(order=order.unit, bias=bias, norm_layer=norm_layer,
                            act_layer=act_layer)
        last = {"norm": order.last_norm, "act": order.last_act}
        op = {"kernel_size": kernel_size, "groups": groups}
        if kind == "basic":
            layers = OrderedDict(spatial1=variant.spatial(unit, in_channels, mid, stride, **op),
                                 spatial2=variant.spatial(unit, mid, out_channels, last=last, **op))
        else:
            layers = OrderedDict(reduce=unit(in_channels, mid, 1, groups=reduce_groups))
            layers.update(variant.bottleneck(unit, mid, out_channels, stride,
                                             expand_groups=expand_groups, last=last, **op))
        self.residual = nn.Sequential(layers)
        self.shortcut = _shortcut(shortcut, in_channels, out_channels, stride, bias=bias,
                                  norm_layer=norm_layer)
        after = OrderedDict()
        if "norm" in order.after_add and norm_layer is not None:
            after["norm"] = norm_layer(out_channels)
        if "act" in order.after_add and act_layer is not None:
            after["act"] = act_layer()
        self.after_add = nn.Sequential(after) if after else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.shortcut is not None:
            skip = self.shortcut(x)
            if skip.shape != out.shape:
                raise ValueError(
                    f"the residual branch gives {tuple(out.shape)} but the shortcut "
                    f"{tuple(skip.shape)} for input {tuple(x.shape)}: an even kernel_size keeps "
                    "them equal only at stride 2 on even-sized inputs; use an odd kernel_size, "
                    "an even input size, or shortcut='none'."
                )
            out = out + skip
        return out if self.after_add is None else self.after_add(out)


def _shortcut(kind: str, in_channels: int, out_channels: int, stride: int, *, bias: bool,
              norm_layer: Factory | None) -> nn.Module | None:
    same_shape = in_channels == out_channels and stride == 1
    if kind == "auto":
        kind = "identity" if same_shape else "projection"
    if kind == "identity" and not same_shape:
        raise ValueError("shortcut='identity' needs in_channels == out_channels and stride == 1; "
                         "use shortcut='zero_pad', 'projection' or 'auto'.")
    if kind == "none":
        return None
    if kind == "identity":
        return nn.Identity()
    if kind == "zero_pad":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return ConvNormAct(in_channels, out_channels, 1, stride, bias=bias, norm_layer=norm_layer,
                       act_layer=None)


class ShuffleUnit(ResidualBlock):
    """ShuffleNet's unit: grouped 1x1 -> shuffle -> KxK depthwise (stride) -> grouped 1x1.

    Seed 002, fig. 16b: ``M m/g + K^2 m + m N/g_e`` parameters (eq. 3.11 is ``g_e = g`` with
    M = N; eq. 4.8 is ``g_e = 2g``), no norm or bias counted. At stride 2 the shortcut is a strided
    1x1 projection (``shortcut="auto"``), not ShuffleNet's average pool concatenated to the output.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, *, groups: int,
                 stride: int = 1, **options):
        super().__init__(in_channels, out_channels, stride, kind="bottleneck", variant="shuffle",
                         mid_channels=mid_channels, groups=groups, **options)


class ShiftModule(ResidualBlock):
    """ShiftNet's module: 1x1 M -> m, shift, 1x1 m -> N carrying the stride (+ shortcut).

    Seed 002, fig. 18: the shift costs no parameter and no MAC whatever ``kernel_size``, so m can
    grow freely: ``2 M m`` parameters for M = N (eqs. 3.16, 4.9). Fig. 18 puts BN + ReLU before
    each 1x1; ``ordering="preact"`` builds that form.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, *,
                 stride: int = 1, **options):
        super().__init__(in_channels, out_channels, stride, kind="bottleneck", variant="shift",
                         mid_channels=mid_channels, **options)
