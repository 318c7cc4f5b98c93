"""The efficient blocks of seed 002 (chapter 3, section 4.4) as small composable modules.

Everything is built from :class:`ConvBNAct` (conv -> BN -> activation). The cheap spatial
operators (:func:`spatial_op`: standard KxK conv, depthwise-separable conv, channel shuffle +
depthwise conv, channel shift + 1x1) plug into two host blocks, so that one class serves every
variant the dissertation trains: :class:`ResidualBlock` (ResNet's basic and bottleneck blocks;
:class:`ShuffleUnit` and :class:`ShiftModule` are its bottleneck forms) and :class:`FireModule`
(SqueezeNet). Later notebooks assemble ResNet20/56/110, SqueezeNet and pix2pix encoders from them.

Each block's parameter count, output shape and MACs equal :mod:`cnnlab.arithmetic`'s closed form
with the same arguments (``tests/test_blocks.py`` checks many configurations). The conventions are
the same: every spatial convolution is padded by ``(kernel_size - 1) // 2``, batch norm comes
after its convolution, and shift, shuffle, residual sum and concatenation cost nothing. The
seed's equations count neither bias nor batch norm: with ``batch_norm=True`` every convolution
adds ``2 x out_channels`` parameters and one MAC per output element; ``bias=True`` adds
``out_channels`` parameters and no MACs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.arithmetic import SHORTCUTS, SPATIAL_FORMS
from cnnlab.checks import choice, divides, integer
from cnnlab.ops import Shift

__all__ = [
    "ChannelShuffle",
    "ConvBNAct",
    "DepthwiseSeparable",
    "FireModule",
    "ResidualBlock",
    "ShiftModule",
    "ShuffleUnit",
    "channel_shuffle",
    "spatial_op",
]

# Called with no argument to make a layer: nn.ReLU, or functools.partial(nn.LeakyReLU, 0.2).
LayerFactory = Callable[[], nn.Module]


def _norm_layer(batch_norm: bool) -> Callable[[int], nn.Module] | None:
    return nn.BatchNorm2d if batch_norm else None


class ConvBNAct(nn.Sequential):
    """Convolution -> optional norm -> optional activation: the unit every block is made of.

    Padding is ``(kernel_size - 1) // 2``: odd kernels keep the size at stride 1, and pix2pix's
    ``kernel_size=4, stride=2`` halves an even map. The convolution has no bias by default
    because a following batch norm's shift would make it redundant. ``norm_layer`` is called
    with the output channel count, ``act_layer`` with nothing; ``None`` leaves the layer out.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        *,
        groups: int = 1,
        bias: bool = False,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm2d,
        act_layer: LayerFactory | None = nn.ReLU,
    ):
        in_channels = integer("in_channels", in_channels, 1)
        out_channels = integer("out_channels", out_channels, 1)
        kernel_size = integer("kernel_size", kernel_size, 1)
        groups = integer("groups", groups, 1)
        divides("groups", groups, "in_channels", in_channels)
        divides("groups", groups, "out_channels", out_channels)
        layers = OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, integer("stride", stride, 1),
                           padding=(kernel_size - 1) // 2, groups=groups, bias=bias)
        )
        if norm_layer is not None:
            layers["norm"] = norm_layer(out_channels)
        if act_layer is not None:
            layers["act"] = act_layer()
        super().__init__(layers)


class DepthwiseSeparable(nn.Sequential):
    """MobileNet's depthwise-separable convolution: depthwise KxK (stride) -> pointwise 1x1.

    The depthwise conv filters each channel spatially, the pointwise conv mixes channels; together
    they replace a KxK convolution for ``1/N + 1/K^2`` of its parameters and MACs (seed 002,
    eqs. 3.2-3.6: ``K^2 M + M N`` parameters, ``F'^2 (K^2 M + M N)`` MACs; the equations leave out
    the two batch norms and any bias). Each conv is followed by BN and ``act_layer``;
    ``activate_output=False`` drops the last activation, for a block that adds a shortcut first.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        bias: bool = False,
        batch_norm: bool = True,
        act_layer: LayerFactory = nn.ReLU,
        activate_output: bool = True,
    ):
        conv = partial(ConvBNAct, bias=bias, norm_layer=_norm_layer(batch_norm))
        super().__init__(OrderedDict(
            depthwise=conv(in_channels, in_channels, kernel_size, stride, groups=in_channels,
                           act_layer=act_layer),
            pointwise=conv(in_channels, out_channels, 1,
                           act_layer=act_layer if activate_output else None),
        ))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet; seed 002, fig. 15b).

    A grouped convolution lets each group see only its own channels; shuffling between two of
    them hands every group of the second a share of every group of the first. Viewing the C
    channels as a (groups, C/groups) grid and reading it column by column moves channel
    ``i * C/groups + j`` to ``j * groups + i``; shuffling again with ``C/groups`` groups undoes it.
    A permutation: no parameters, no arithmetic.
    """
    groups = integer("groups", groups, 1)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() < 3:
        raise ValueError(f"x must be (N, C, ...) with at least 3 dimensions, got shape "
                         f"{tuple(x.shape)}; add a batch dimension with x.unsqueeze(0).")
    divides("groups", groups, "x.shape[1] (the channels)", x.shape[1])
    return F.channel_shuffle(x, groups)


class ChannelShuffle(nn.ChannelShuffle):
    """:func:`channel_shuffle` as a layer: ``nn.ChannelShuffle`` with a clear error for bad C."""

    def __init__(self, groups: int):
        super().__init__(integer("groups", groups, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)


def _check_groups_apply(spatial: str, groups: int) -> None:
    if spatial in ("dsc", "shift") and groups != 1:
        raise ValueError(f"groups={groups} has nothing to group in spatial={spatial!r}; leave "
                         "groups=1 or use spatial='conv' or 'shuffle'.")


def spatial_op(
    spatial: str,
    in_channels: int,
    out_channels: int,
    stride: int = 1,
    *,
    kernel_size: int = 3,
    groups: int = 1,
    bias: bool = False,
    batch_norm: bool = True,
    act_layer: LayerFactory = nn.ReLU,
    activate_output: bool = True,
) -> nn.Module:
    """The operator a host block uses to see neighbouring pixels, chosen by ``spatial``.

    * ``"conv"``: a KxK convolution, grouped by ``groups`` (ResNeXt when > 1);
    * ``"dsc"``: :class:`DepthwiseSeparable` (MobileNet);
    * ``"shuffle"``: :class:`ChannelShuffle` over ``groups`` groups, then a KxK depthwise conv
      with ``out_channels / in_channels`` filters per channel (ShuffleNet; seed 002, fig. 22);
    * ``"shift"``: :class:`cnnlab.ops.Shift` with a KxK neighbourhood, then a 1x1 conv that
      carries the stride (ShiftNet; seed 002, figs. 18 and 23). A shift moves pixels without
      mixing channels, so the op brings its own 1x1; its kernel size costs nothing.

    Every conv is followed by BN (``batch_norm``) and ``act_layer``; ``activate_output=False``
    leaves the activation off the op's last conv.
    """
    spatial = choice("spatial", spatial, SPATIAL_FORMS)
    groups = integer("groups", groups, 1)
    _check_groups_apply(spatial, groups)
    out_act = act_layer if activate_output else None
    conv = partial(ConvBNAct, bias=bias, norm_layer=_norm_layer(batch_norm), act_layer=out_act)
    if spatial == "conv":
        return conv(in_channels, out_channels, kernel_size, stride, groups=groups)
    if spatial == "dsc":
        return DepthwiseSeparable(in_channels, out_channels, kernel_size, stride, bias=bias,
                                  batch_norm=batch_norm, act_layer=act_layer,
                                  activate_output=activate_output)
    if spatial == "shuffle":
        divides("groups", groups, "in_channels", in_channels)
        divides("in_channels", in_channels, "out_channels", out_channels)
        return nn.Sequential(OrderedDict(
            shuffle=ChannelShuffle(groups),
            depthwise=conv(in_channels, out_channels, kernel_size, stride, groups=in_channels),
        ))
    return nn.Sequential(OrderedDict(
        shift=Shift(kernel_size), pointwise=conv(in_channels, out_channels, 1, stride),
    ))


class ResidualBlock(nn.Module):
    """A ResNet block, ``act(residual(x) + shortcut(x))``, with a pluggable spatial operator.

    ``kind="basic"``: two spatial ops M -> m (stride) -> N (seed 002, figs. 2-3). ``"conv"`` has
    ``2 K^2 m M`` parameters for M = N (eq. 4.5), ``"dsc"`` ``K^2 (M + m) + 2 m M`` (eq. 4.6,
    fig. 24).

    ``kind="bottleneck"``: 1x1 M -> m, spatial op on m channels (stride), 1x1 m -> N.
    ``"conv"``: ResNet's bottleneck, ``m (2M + m K^2)`` (eqs. 3.10, 4.7); ``"dsc"``: a DSC m -> m;
    ``"shuffle"``: the ShuffleNet unit (:class:`ShuffleUnit`); ``"shift"``: the shift module
    (:class:`ShiftModule`), whose shift op carries the second 1x1.

    ``mid_channels`` (m) defaults to N for basic blocks and N // 4 for bottlenecks (ResNet's
    expansion of 4). ``shortcut``: ``"identity"`` (needs M = N and stride 1), ``"projection"``
    (strided 1x1 + BN, as torchvision's ResNet and the dissertation's ResNet20/56/110 use when the
    shape changes), ``"none"`` (the dissertation's pix2pix encoders drop it; the parameter count
    of eqs. 4.8-4.9 is unchanged) or ``"auto"`` (identity when the shapes allow, else projection).
    ``bias`` and ``batch_norm`` apply to every conv, the projection included. Convs end with BN
    and ``act_layer``, except the last of the residual branch, which is activated after the sum.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        kind: str = "basic",
        spatial: str = "conv",
        mid_channels: int | None = None,
        kernel_size: int = 3,
        groups: int = 1,
        expand_groups: int | None = None,
        bias: bool = False,
        batch_norm: bool = True,
        shortcut: str = "auto",
        act_layer: LayerFactory = nn.ReLU,
    ):
        super().__init__()
        kind = choice("kind", kind, ("basic", "bottleneck"))
        spatial = choice("spatial", spatial, SPATIAL_FORMS)
        shortcut = choice("shortcut", shortcut, SHORTCUTS)
        in_channels = integer("in_channels", in_channels, 1)
        out_channels = integer("out_channels", out_channels, 1)
        stride = integer("stride", stride, 1)
        groups = integer("groups", groups, 1)
        _check_groups_apply(spatial, groups)
        default_mid = out_channels if kind == "basic" else max(out_channels // 4, 1)
        mid = default_mid if mid_channels is None else integer("mid_channels", mid_channels, 1)
        if kind == "basic" and spatial in ("shuffle", "shift"):
            raise ValueError(f"spatial={spatial!r} is a bottleneck design (the "
                             f"{'ShuffleNet unit' if spatial == 'shuffle' else 'shift module'}); "
                             "use kind='bottleneck', or spatial='conv' or 'dsc'.")
        if expand_groups is not None and spatial != "shuffle":
            raise ValueError("expand_groups applies to spatial='shuffle' only; leave it unset.")
        shuffled = spatial == "shuffle"
        expand_groups = groups if expand_groups is None else integer("expand_groups", expand_groups, 1)
        for name, channels, grouped in (
            ("in_channels", in_channels, shuffled or kind == "basic"),
            ("mid_channels", mid, True),
            ("out_channels", out_channels, kind == "basic"),
        ):
            if grouped:
                divides("groups", groups, name, channels)
        if shuffled:
            divides("expand_groups", expand_groups, "mid_channels", mid)
            divides("expand_groups", expand_groups, "out_channels", out_channels)

        op = partial(spatial_op, spatial, kernel_size=kernel_size, groups=groups, bias=bias,
                     batch_norm=batch_norm, act_layer=act_layer)
        pointwise = partial(ConvBNAct, kernel_size=1, bias=bias,
                            norm_layer=_norm_layer(batch_norm))
        if kind == "basic":
            layers = OrderedDict(spatial1=op(in_channels, mid, stride),
                                 spatial2=op(mid, out_channels, activate_output=False))
        elif spatial == "shift":
            layers = OrderedDict(reduce=pointwise(in_channels, mid, act_layer=act_layer),
                                 shift=op(mid, out_channels, stride, activate_output=False))
        else:
            # ShuffleNet leaves the ReLU off its depthwise conv (Xception found it hurts).
            layers = OrderedDict(
                reduce=pointwise(in_channels, mid, groups=groups if shuffled else 1,
                                 act_layer=act_layer),
                spatial=op(mid, mid, stride, activate_output=not shuffled),
                expand=pointwise(mid, out_channels, groups=expand_groups if shuffled else 1,
                                 act_layer=None),
            )
        self.residual = nn.Sequential(layers)

        same_shape = in_channels == out_channels and stride == 1
        if shortcut == "identity" and not same_shape:
            raise ValueError("shortcut='identity' needs in_channels == out_channels and "
                             "stride == 1; use shortcut='projection' (or 'auto').")
        if shortcut == "none":
            self.shortcut = None
        elif shortcut == "identity" or (shortcut == "auto" and same_shape):
            self.shortcut = nn.Identity()
        else:
            self.shortcut = pointwise(in_channels, out_channels, stride=stride, act_layer=None)
        self.act = act_layer()

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
        return self.act(out)


class ShuffleUnit(ResidualBlock):
    """ShuffleNet's unit: grouped 1x1 -> shuffle -> KxK depthwise (stride) -> grouped 1x1.

    Seed 002, fig. 16b: ResNet's bottleneck with grouped pointwise convs, a depthwise middle conv
    without ReLU, and a shuffle so that information crosses the groups. The first 1x1 has
    ``groups`` groups, the second ``expand_groups`` (default ``groups``): ``M m/g + K^2 m +
    m N/g_e`` parameters. Eq. 3.11, ``2Mm/g + K^2 m`` (MACs eq. 3.8, times F^2), is
    ``expand_groups = groups`` with M = N; eq. 4.8 counts the second 1x1 as ``mM/(2g)``, which a
    real grouped conv has only with ``expand_groups = 2 * groups``. Neither counts BN or bias.
    At stride 2 the shortcut is a strided 1x1 projection (``shortcut="auto"``), not ShuffleNet's
    3x3 average pool concatenated to the output. ``groups=1`` gives MobileNetV2's inverted
    residual shape. Other keywords as :class:`ResidualBlock`.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, *, groups: int,
                 stride: int = 1, **options):
        super().__init__(in_channels, out_channels, stride, kind="bottleneck", spatial="shuffle",
                         mid_channels=mid_channels, groups=groups, **options)


class ShiftModule(ResidualBlock):
    """ShiftNet's module: 1x1 M -> m, shift, 1x1 m -> N carrying the stride (+ shortcut).

    Seed 002, fig. 18: the shift replaces the bottleneck's KxK conv, costing no parameter and no
    MAC whatever ``kernel_size``, so m can grow freely: ``2 M m`` parameters for M = N
    (eqs. 3.16, 4.9), ``2 M m F^2`` MACs. The stride sits on the second 1x1 so that pixels are
    exchanged before the map shrinks. Fig. 18 puts BN + ReLU *before* each 1x1 (over M, then m
    channels); here BN follows each conv (over m, then N channels) as in every other block: the
    same counts when M = N at stride 1. Other keywords as :class:`ResidualBlock`.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, *,
                 stride: int = 1, **options):
        super().__init__(in_channels, out_channels, stride, kind="bottleneck", spatial="shift",
                         mid_channels=mid_channels, **options)


class FireModule(nn.Module):
    """SqueezeNet's fire module: squeeze 1x1 M -> s, then concat(expand 1x1 s -> e1, KxK branch).

    Squeezing to few channels before the KxK convs is where SqueezeNet saves (seed 002, fig. 5).
    ``spatial`` swaps the KxK branch (seed 002, sec. 4.4.1): ``"conv"`` (eq. 4.1,
    ``Ms + s e1 + K^2 s e3`` with e1 = e3 = N/2), ``"dsc"`` (fig. 21, eq. 4.2), ``"shuffle"``
    (fig. 22: shuffle + depthwise s -> e3, with the squeeze and expand-1x1 convs grouped by
    ``groups``; eq. 4.3 is e3 = s: ``Ms/g + s e1/g + K^2 s``) or ``"shift"`` (fig. 23: shift +
    1x1 s -> e3, eq. 4.4). The equations count neither BN nor bias. Every conv ends with BN
    and ``act_layer``, so both halves of the output are activated. torchvision's SqueezeNet has
    ``bias=True, batch_norm=False``; the dissertation's CIFAR version adds BN.
    """

    def __init__(
        self,
        in_channels: int,
        squeeze_channels: int,
        expand1x1_channels: int,
        expand3x3_channels: int,
        *,
        spatial: str = "conv",
        kernel_size: int = 3,
        groups: int = 1,
        bias: bool = False,
        batch_norm: bool = True,
        act_layer: LayerFactory = nn.ReLU,
    ):
        super().__init__()
        spatial = choice("spatial", spatial, SPATIAL_FORMS)
        in_channels = integer("in_channels", in_channels, 1)
        squeeze_channels = integer("squeeze_channels", squeeze_channels, 1)
        expand1x1_channels = integer("expand1x1_channels", expand1x1_channels, 1)
        expand3x3_channels = integer("expand3x3_channels", expand3x3_channels, 1)
        if integer("kernel_size", kernel_size, 1) % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be odd: the two expand branches are "
                             "concatenated, so the KxK branch must keep the 1x1 branch's size.")
        groups = integer("groups", groups, 1)
        if spatial != "shuffle" and groups != 1:
            raise ValueError(f"groups={groups} applies to spatial='shuffle' only; leave groups=1.")
        if spatial == "shuffle":
            divides("groups", groups, "in_channels", in_channels)
            divides("groups", groups, "squeeze_channels", squeeze_channels)
            divides("groups", groups, "expand1x1_channels", expand1x1_channels)
            divides("squeeze_channels", squeeze_channels, "expand3x3_channels",
                     expand3x3_channels)
        pointwise = partial(ConvBNAct, kernel_size=1, groups=groups, bias=bias,
                            norm_layer=_norm_layer(batch_norm), act_layer=act_layer)
        self.squeeze = pointwise(in_channels, squeeze_channels)
        self.expand1x1 = pointwise(squeeze_channels, expand1x1_channels)
        self.expand3x3 = spatial_op(spatial, squeeze_channels, expand3x3_channels,
                                    kernel_size=kernel_size, groups=groups, bias=bias,
                                    batch_norm=batch_norm, act_layer=act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = self.squeeze(x)
        return torch.cat([self.expand1x1(squeezed), self.expand3x3(squeezed)], dim=1)
