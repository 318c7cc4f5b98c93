"""What a layer or block costs, in closed form: shapes, parameters, MACs, memory.

Every function takes plain ints and returns a :class:`Cost`, so a notebook can derive a number
by hand, compute it here, and check it against :func:`cnnlab.summary.summary` on a real module.

Conventions (the same in :mod:`cnnlab.summary`):

* One image per call (batch 1). Shapes are ``(channels, height, width)``; ``in_size`` is an int
  for a square input or ``(height, width)``.
* A MAC is one multiply-accumulate and ``FLOPs = 2 x MACs``. Published "FLOPs" are often MACs:
  the dissertation's eq. 3.1, seed 004's "ops" and torchvision's "GFLOPS" all count MACs.
* A bias adds parameters (and memory traffic) but no MACs: adding it is not a multiply.
* Batch norm, when counted, is its inference form: one MAC per element (scale and shift) and two
  parameters per channel (weight and bias; the running statistics are buffers, not parameters).
* Average pooling costs one MAC per window element (it is a depthwise convolution with constant
  weights); max pooling costs none (it compares). Activation functions, channel shuffle, shift,
  residual addition and concatenation cost nothing: they are in place or fused into the
  neighbouring convolution's reads, exactly as the dissertation assumes in eqs. 3.20 and 3.21.
* ``activations`` counts the elements of every feature map the layers write (the input is not
  included); ``elements_moved`` counts, for every layer, its input read, its weights read and its
  output written. Intermediate maps are therefore counted twice: once written, once read.
* Layer functions (:func:`conv2d`, :func:`linear`, ...) mirror ``torch.nn`` defaults (bias on,
  padding 0). Block functions default to the dissertation's bare count (no bias, no batch norm)
  and pad every spatial convolution by ``(kernel_size - 1) // 2``, which keeps odd kernels "same"
  at stride 1 and gives pix2pix's halving for ``kernel_size=4, stride=2``; convolutions inside
  blocks are followed by their batch norm (conv -> BN), never preceded.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from cnnlab.checks import choice, divides, integer

__all__ = [
    "GOOGLENET_INCEPTION",
    "Cost",
    "attainable_flops",
    "batch_norm2d",
    "chain",
    "concat",
    "conv2d",
    "conv_output_size",
    "depthwise_conv2d",
    "depthwise_separable_conv2d",
    "fire_module",
    "inception_module",
    "linear",
    "pointwise_conv2d",
    "pool2d",
    "ratio_bottleneck",
    "ratio_conv",
    "ratio_depthwise",
    "ratio_dsc",
    "ratio_shift",
    "ratio_shuffle",
    "residual_block",
    "savings_dsc",
    "savings_shift",
    "savings_shuffle",
    "shift_module",
    "shuffle_unit",
]

SPATIAL_FORMS = ("conv", "dsc", "shuffle", "shift")
SHORTCUTS = ("auto", "identity", "projection", "none")


@dataclass(frozen=True)
class Cost:
    """The cost of one layer or block for one image; ``flops`` and the ratios are derived."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    macs: int
    activations: int  # elements of the feature maps written (input excluded)
    elements_moved: int  # per layer: input read + weights read + output written
    dtype_bytes: int = 4

    @property
    def flops(self) -> int:
        """Floating-point operations: a multiply and an add per MAC."""
        return 2 * self.macs

    @property
    def param_bytes(self) -> int:
        return self.params * self.dtype_bytes

    @property
    def activation_bytes(self) -> int:
        return self.activations * self.dtype_bytes

    @property
    def bytes_moved(self) -> int:
        return self.elements_moved * self.dtype_bytes

    @property
    def ratio(self) -> float:
        """The dissertation's compute-to-memory ratio R: MACs per element read or written.

        For a bare convolution this is eq. 3.13, for the blocks eqs. 3.14 and 3.18-3.21; a
        higher R means more time computing than waiting for memory.
        """
        return self.macs / self.elements_moved

    @property
    def flop_per_byte(self) -> float:
        """Arithmetic intensity for a roofline: FLOPs per byte moved."""
        return self.flops / self.bytes_moved

    def as_dict(self) -> dict[str, object]:
        """Fields and derived figures as one flat dict, ready for a table row."""
        return {
            **asdict(self),
            "flops": self.flops,
            "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes,
            "bytes_moved": self.bytes_moved,
            "ratio": self.ratio,
            "flop_per_byte": self.flop_per_byte,
        }


# ---------------------------------------------------------------------------- argument checks


def _pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}.")
        return integer(name, value[0], minimum), integer(name, value[1], minimum)
    number = integer(name, value, minimum)
    return number, number


def _kernel(kernel_size: object) -> int:
    return integer("kernel_size", kernel_size, 1)


def _dtype(dtype_bytes: object) -> int:
    return integer("dtype_bytes", dtype_bytes, 1)


# ---------------------------------------------------------------------------- layers


def conv_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    ceil_mode: bool = False,
) -> int:
    """Output length along one axis: ``floor((n + 2p - d(k - 1) - 1) / s) + 1``.

    With ``ceil_mode`` the floor becomes a ceiling, and a last window that would start inside
    the right padding is dropped (PyTorch's pooling rule).
    """
    size = integer("size", size, 1)
    kernel_size = _kernel(kernel_size)
    stride = integer("stride", stride, 1)
    padding = integer("padding", padding, 0)
    dilation = integer("dilation", dilation, 1)
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    if span < 0:
        raise ValueError(
            f"kernel_size={kernel_size} (dilation {dilation}) is larger than the padded input "
            f"{size} + 2*{padding}; use a smaller kernel or more padding."
        )
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv2d(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    bias: bool = True,
    dtype_bytes: int = 4,
) -> Cost:
    """A 2-D convolution, as ``nn.Conv2d`` with the same arguments.

    ``H' = floor((H + 2p - d(K - 1) - 1) / s) + 1`` (same for W);
    params ``= N * (M / g) * Kh * Kw (+ N bias)``;
    MACs ``= N * H' * W' * (M / g) * Kh * Kw`` (eq. 3.1 for g = 1, square K, F = G);
    moved ``= M*H*W + params + N*H'*W'``.
    """
    in_channels = integer("in_channels", in_channels, 1)
    out_channels = integer("out_channels", out_channels, 1)
    groups = integer("groups", groups, 1)
    divides("groups", groups, "in_channels", in_channels)
    divides("groups", groups, "out_channels", out_channels)
    height, width = _pair("in_size", in_size, 1)
    kernel = _pair("kernel_size", kernel_size, 1)
    strides = _pair("stride", stride, 1)
    pads = _pair("padding", padding, 0)
    dilations = _pair("dilation", dilation, 1)
    out_size = tuple(
        conv_output_size(n, k, s, p, d)
        for n, k, s, p, d in zip((height, width), kernel, strides, pads, dilations, strict=True)
    )
    weights_per_output = (in_channels // groups) * kernel[0] * kernel[1]
    params = out_channels * weights_per_output + (out_channels if bias else 0)
    outputs = out_channels * out_size[0] * out_size[1]
    return Cost(
        in_shape=(in_channels, height, width),
        out_shape=(out_channels, *out_size),
        params=params,
        macs=outputs * weights_per_output,
        activations=outputs,
        elements_moved=in_channels * height * width + params + outputs,
        dtype_bytes=_dtype(dtype_bytes),
    )


def depthwise_conv2d(
    channels: int,
    in_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    *,
    depth_multiplier: int = 1,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    bias: bool = True,
    dtype_bytes: int = 4,
) -> Cost:
    """One filter per input channel (``groups = channels``), ``depth_multiplier`` outputs each.

    Params ``= M * mult * K^2 (+ bias)``, MACs ``= M * mult * H' * W' * K^2``
    (eq. 3.2's first term).
    """
    depth_multiplier = integer("depth_multiplier", depth_multiplier, 1)
    channels = integer("channels", channels, 1)
    return conv2d(
        channels, channels * depth_multiplier, in_size, kernel_size, stride=stride,
        padding=padding, dilation=dilation, groups=channels, bias=bias, dtype_bytes=dtype_bytes,
    )


def pointwise_conv2d(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    groups: int = 1,
    bias: bool = True,
    dtype_bytes: int = 4,
) -> Cost:
    """A 1x1 convolution, grouped when ``groups > 1``.

    Params ``= M * N / g (+ N bias)``, MACs ``= H' * W' * M * N / g``.
    """
    return conv2d(
        in_channels, out_channels, in_size, 1, stride=stride, groups=groups, bias=bias,
        dtype_bytes=dtype_bytes,
    )


def batch_norm2d(channels: int, in_size: int | tuple[int, int], *, dtype_bytes: int = 4) -> Cost:
    """Inference-time batch norm: params ``= 2C``, MACs ``= C*H*W`` (one scale-and-shift each)."""
    channels = integer("channels", channels, 1)
    height, width = _pair("in_size", in_size, 1)
    elements = channels * height * width
    return Cost(
        in_shape=(channels, height, width),
        out_shape=(channels, height, width),
        params=2 * channels,
        macs=elements,
        activations=elements,
        elements_moved=2 * elements + 2 * channels,
        dtype_bytes=_dtype(dtype_bytes),
    )


def linear(
    in_features: int, out_features: int, *, bias: bool = True, dtype_bytes: int = 4
) -> Cost:
    """A fully connected layer: params ``= in*out (+ out)``, MACs ``= in*out``."""
    in_features = integer("in_features", in_features, 1)
    out_features = integer("out_features", out_features, 1)
    params = in_features * out_features + (out_features if bias else 0)
    return Cost(
        in_shape=(in_features,),
        out_shape=(out_features,),
        params=params,
        macs=in_features * out_features,
        activations=out_features,
        elements_moved=in_features + params + out_features,
        dtype_bytes=_dtype(dtype_bytes),
    )


def pool2d(
    channels: int,
    in_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    mode: str = "max",
    ceil_mode: bool = False,
    dtype_bytes: int = 4,
) -> Cost:
    """Max or average pooling, as ``nn.MaxPool2d`` / ``nn.AvgPool2d`` (stride defaults to kernel).

    No parameters; MACs ``= C*H'*W'*Kh*Kw`` for ``mode="avg"`` and 0 for ``mode="max"``.
    """
    mode = choice("mode", mode, ("max", "avg"))
    channels = integer("channels", channels, 1)
    height, width = _pair("in_size", in_size, 1)
    kernel = _pair("kernel_size", kernel_size, 1)
    strides = kernel if stride is None else _pair("stride", stride, 1)
    pads = _pair("padding", padding, 0)
    out_size = tuple(
        conv_output_size(n, k, s, p, ceil_mode=ceil_mode)
        for n, k, s, p in zip((height, width), kernel, strides, pads, strict=True)
    )
    outputs = channels * out_size[0] * out_size[1]
    return Cost(
        in_shape=(channels, height, width),
        out_shape=(channels, *out_size),
        params=0,
        macs=outputs * kernel[0] * kernel[1] if mode == "avg" else 0,
        activations=outputs,
        elements_moved=channels * height * width + outputs,
        dtype_bytes=_dtype(dtype_bytes),
    )


# ---------------------------------------------------------------------------- composition


def _total(costs: Sequence[Cost], in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> Cost:
    dtype_bytes = {cost.dtype_bytes for cost in costs}
    if len(dtype_bytes) > 1:
        raise ValueError(f"costs mix dtype_bytes {sorted(dtype_bytes)}; use one element size.")
    return Cost(
        in_shape=in_shape,
        out_shape=out_shape,
        params=sum(cost.params for cost in costs),
        macs=sum(cost.macs for cost in costs),
        activations=sum(cost.activations for cost in costs),
        elements_moved=sum(cost.elements_moved for cost in costs),
        dtype_bytes=dtype_bytes.pop(),
    )


def chain(*costs: Cost) -> Cost:
    """Layers applied one after another: costs add up, the output is the last layer's."""
    if not costs:
        raise ValueError("costs must hold at least one Cost.")
    for before, after in zip(costs, costs[1:], strict=False):
        if before.out_shape != after.in_shape:
            raise ValueError(
                f"costs do not connect: a layer outputs {before.out_shape} but the next one "
                f"expects {after.in_shape}."
            )
    return _total(costs, costs[0].in_shape, costs[-1].out_shape)


def concat(*costs: Cost) -> Cost:
    """Parallel branches on one input whose outputs are stacked along channels (fire, inception).

    Each branch reads the input itself; writing into a slice of the output costs nothing extra.
    """
    if not costs:
        raise ValueError("costs must hold at least one Cost.")
    if len({cost.in_shape for cost in costs}) > 1:
        raise ValueError(f"branches read different inputs: {[c.in_shape for c in costs]}.")
    sizes = {cost.out_shape[1:] for cost in costs}
    if len(sizes) > 1:
        raise ValueError(f"branches give different spatial sizes {sorted(sizes)}; cannot concat.")
    channels = sum(cost.out_shape[0] for cost in costs)
    return _total(costs, costs[0].in_shape, (channels, *sizes.pop()))


def _added(main: Cost, shortcut: Cost | None) -> Cost:
    """A residual sum: both paths' costs; the addition itself is free (done in place)."""
    if shortcut is None:
        return main
    if shortcut.out_shape != main.out_shape:
        raise ValueError(
            f"the shortcut gives {shortcut.out_shape} but the main path {main.out_shape}; "
            "use another stride or kernel_size so both agree."
        )
    return _total((main, shortcut), main.in_shape, main.out_shape)


# ---------------------------------------------------------------------------- blocks


def _size(cost: Cost) -> tuple[int, int]:
    return cost.out_shape[1], cost.out_shape[2]


def _conv_bn(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    kernel_size: int,
    *,
    stride: int = 1,
    groups: int = 1,
    bias: bool,
    batch_norm: bool,
    dtype_bytes: int,
) -> Cost:
    """A block's convolution: padded by (K - 1) // 2, then batch norm when counted."""
    conv = conv2d(
        in_channels, out_channels, in_size, kernel_size, stride=stride,
        padding=(kernel_size - 1) // 2, groups=groups, bias=bias, dtype_bytes=dtype_bytes,
    )
    if not batch_norm:
        return conv
    return chain(conv, batch_norm2d(out_channels, _size(conv), dtype_bytes=dtype_bytes))


def depthwise_separable_conv2d(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    kernel_size: int = 3,
    *,
    stride: int = 1,
    bias: bool = False,
    batch_norm: bool = False,
    dtype_bytes: int = 4,
) -> Cost:
    """Depthwise KxK (carries the stride) then pointwise 1x1, each with its BN when counted.

    Params ``= K^2 M + M N`` (eq. 3.5), MACs ``= F'^2 (K^2 M + M N)`` (eq. 3.2).
    """
    kernel_size = _kernel(kernel_size)
    depthwise = _conv_bn(
        in_channels, in_channels, in_size, kernel_size, stride=stride, groups=in_channels,
        bias=bias, batch_norm=batch_norm, dtype_bytes=dtype_bytes,
    )
    pointwise = _conv_bn(
        in_channels, out_channels, _size(depthwise), 1, bias=bias, batch_norm=batch_norm,
        dtype_bytes=dtype_bytes,
    )
    return chain(depthwise, pointwise)


def _shortcut(
    kind: str,
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    stride: int,
    *,
    bias: bool,
    batch_norm: bool,
    dtype_bytes: int,
) -> Cost | None:
    """The residual path: free identity, a strided 1x1 projection (+BN), or none at all."""
    kind = choice("shortcut", kind, SHORTCUTS)
    same_shape = in_channels == out_channels and stride == 1
    if kind == "auto":
        kind = "identity" if same_shape else "projection"
    if kind == "none":
        return None
    if kind == "identity":
        if not same_shape:
            raise ValueError(
                "shortcut='identity' needs in_channels == out_channels and stride == 1; "
                "use shortcut='projection' (or 'auto')."
            )
        return None
    return _conv_bn(
        in_channels, out_channels, in_size, 1, stride=stride, bias=bias, batch_norm=batch_norm,
        dtype_bytes=dtype_bytes,
    )


def residual_block(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    *,
    kind: str = "basic",
    spatial: str = "conv",
    mid_channels: int | None = None,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    expand_groups: int | None = None,
    bias: bool = False,
    batch_norm: bool = False,
    shortcut: str = "auto",
    dtype_bytes: int = 4,
) -> Cost:
    """A residual block with a pluggable spatial operator, plus its shortcut.

    ``kind="basic"``: two spatial operators M -> m (stride) -> N, each a KxK convolution
    (``spatial="conv"``, grouped by ``groups``; params ``2 K^2 m M`` for M = N, eq. 4.5) or a
    depthwise-separable convolution (``"dsc"``; ``K^2 (M + m) + 2 m M``, eq. 4.6).

    ``kind="bottleneck"``: 1x1 M -> m, spatial operator on m channels, 1x1 m -> N.
    The spatial operator is a KxK convolution (``"conv"``, grouped by ``groups`` as in ResNeXt;
    ``m (2M + m K^2)``, eqs. 3.10/4.7), a DSC m -> m (``"dsc"``), a channel shuffle + KxK
    depthwise with both 1x1s grouped by ``groups`` and ``expand_groups`` (``"shuffle"``, the
    ShuffleNet unit: ``2Mm/g + K^2 m``, eq. 3.11; eq. 4.8 is ``expand_groups = 2 * groups``;
    with ``groups=1`` it is MobileNetV2's inverted residual), or a shift (``"shift"``, the shift
    module ``2 M m``, eqs. 3.16/4.9; the shift has no cost whatever its kernel, so the stride
    moves to the last 1x1, which "pools after the shift").

    ``mid_channels`` defaults to N for basic blocks and N // 4 for bottlenecks (ResNet's
    expansion of 4). ``shortcut``: ``"identity"`` (free; needs M = N and stride 1),
    ``"projection"`` (strided 1x1 + BN when counted), ``"none"`` (pix2pix's encoder),
    ``"auto"`` (identity when shapes allow, else projection, as torchvision's ResNet).
    ``bias`` and ``batch_norm`` apply to every convolution, the projection included;
    ``groups`` must stay 1 for ``"dsc"`` and ``"shift"``, which have nothing to group.
    """
    kind = choice("kind", kind, ("basic", "bottleneck"))
    spatial = choice("spatial", spatial, SPATIAL_FORMS)
    in_channels = integer("in_channels", in_channels, 1)
    out_channels = integer("out_channels", out_channels, 1)
    kernel_size = _kernel(kernel_size)
    stride = integer("stride", stride, 1)
    groups = integer("groups", groups, 1)
    expand_groups = groups if expand_groups is None else integer("expand_groups", expand_groups, 1)
    default_mid = out_channels if kind == "basic" else max(out_channels // 4, 1)
    mid = default_mid if mid_channels is None else integer("mid_channels", mid_channels, 1)
    layer = {"bias": bias, "batch_norm": batch_norm, "dtype_bytes": dtype_bytes}
    if spatial in ("dsc", "shift") and groups != 1:
        raise ValueError(f"groups={groups} has no convolution to group in spatial={spatial!r}; "
                         "leave groups=1 or use spatial='conv' or 'shuffle'.")
    if spatial != "shuffle" and expand_groups != groups:
        raise ValueError("expand_groups applies to spatial='shuffle' only; leave it unset.")

    if kind == "basic":
        if spatial == "conv":
            first = _conv_bn(in_channels, mid, in_size, kernel_size, stride=stride,
                             groups=groups, **layer)
            second = _conv_bn(mid, out_channels, _size(first), kernel_size, groups=groups,
                              **layer)
        elif spatial == "dsc":
            first = depthwise_separable_conv2d(in_channels, mid, in_size, kernel_size,
                                               stride=stride, **layer)
            second = depthwise_separable_conv2d(mid, out_channels, _size(first), kernel_size,
                                                **layer)
        else:
            raise ValueError(
                f"spatial={spatial!r} is defined for kind='bottleneck' (the dissertation's "
                f"{'ShuffleNet unit' if spatial == 'shuffle' else 'shift module'}); "
                "use kind='bottleneck' or spatial='conv'/'dsc'."
            )
        main = chain(first, second)
    else:
        shuffled = spatial == "shuffle"
        if shuffled:
            divides("groups", groups, "in_channels", in_channels)
            divides("groups", groups, "mid_channels", mid)
            divides("expand_groups", expand_groups, "mid_channels", mid)
            divides("expand_groups", expand_groups, "out_channels", out_channels)
        reduce = _conv_bn(in_channels, mid, in_size, 1, groups=groups if shuffled else 1,
                          **layer)
        size = _size(reduce)
        if spatial == "conv":
            middle = [_conv_bn(mid, mid, size, kernel_size, stride=stride, groups=groups,
                               **layer)]
        elif spatial == "dsc":
            middle = [depthwise_separable_conv2d(mid, mid, size, kernel_size, stride=stride,
                                                 **layer)]
        elif shuffled:
            middle = [_conv_bn(mid, mid, size, kernel_size, stride=stride, groups=mid, **layer)]
        else:
            middle = []
        expand = _conv_bn(
            mid, out_channels, _size(middle[-1]) if middle else size, 1,
            stride=1 if middle else stride, groups=expand_groups if shuffled else 1, **layer,
        )
        main = chain(reduce, *middle, expand)
    return _added(main, _shortcut(shortcut, in_channels, out_channels, in_size, stride, **layer))


def shuffle_unit(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    mid_channels: int,
    *,
    groups: int,
    expand_groups: int | None = None,
    kernel_size: int = 3,
    stride: int = 1,
    bias: bool = False,
    batch_norm: bool = False,
    shortcut: str = "auto",
    dtype_bytes: int = 4,
) -> Cost:
    """ShuffleNet unit: grouped 1x1 -> shuffle -> KxK depthwise -> grouped 1x1 (+ shortcut).

    Params ``= 2Mm/g + K^2 m`` (eq. 3.11), MACs ``= F^2 (2Mm/g + K^2 m)`` (eq. 3.8) for M = N.
    Same as ``residual_block(kind="bottleneck", spatial="shuffle")``.
    """
    return residual_block(
        in_channels, out_channels, in_size, kind="bottleneck", spatial="shuffle",
        mid_channels=mid_channels, kernel_size=kernel_size, stride=stride, groups=groups,
        expand_groups=expand_groups, bias=bias, batch_norm=batch_norm, shortcut=shortcut,
        dtype_bytes=dtype_bytes,
    )


def shift_module(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    mid_channels: int,
    *,
    stride: int = 1,
    bias: bool = False,
    batch_norm: bool = False,
    shortcut: str = "auto",
    dtype_bytes: int = 4,
) -> Cost:
    """Shift module: 1x1 M -> m, shift (free), 1x1 m -> N carrying the stride (+ shortcut).

    Params ``= 2Mm`` (eq. 3.16/4.9), MACs ``= 2 M m F^2``, whatever the shift's kernel size.
    Same as ``residual_block(kind="bottleneck", spatial="shift")``.
    """
    return residual_block(
        in_channels, out_channels, in_size, kind="bottleneck", spatial="shift",
        mid_channels=mid_channels, stride=stride, bias=bias, batch_norm=batch_norm,
        shortcut=shortcut, dtype_bytes=dtype_bytes,
    )


def fire_module(
    in_channels: int,
    in_size: int | tuple[int, int],
    squeeze_channels: int,
    expand1x1_channels: int,
    expand3x3_channels: int,
    *,
    spatial: str = "conv",
    kernel_size: int = 3,
    groups: int = 1,
    bias: bool = False,
    batch_norm: bool = False,
    dtype_bytes: int = 4,
) -> Cost:
    """SqueezeNet's fire module: squeeze 1x1 M -> s, then expand 1x1 s -> e1 || KxK s -> e3.

    ``spatial`` replaces the expand-KxK branch: ``"conv"`` a KxK convolution
    (``Ms + s e1 + K^2 s e3``; eq. 4.1 has e1 = e3 = N/2); ``"dsc"`` a depthwise KxK + pointwise
    s -> e3 (eq. 4.2); ``"shift"`` a shift + pointwise s -> e3 (eq. 4.4); ``"shuffle"`` a
    channel shuffle + KxK depthwise s -> e3 (e3 a multiple of s), with the squeeze and
    expand-1x1 convolutions grouped by ``groups`` (eq. 4.3 is e3 = s: ``Ms/g + s e1/g + K^2 s``).
    torchvision's SqueezeNet uses ``bias=True``; the dissertation's CIFAR version adds BN.
    """
    spatial = choice("spatial", spatial, SPATIAL_FORMS)
    squeeze_channels = integer("squeeze_channels", squeeze_channels, 1)
    expand1x1_channels = integer("expand1x1_channels", expand1x1_channels, 1)
    expand3x3_channels = integer("expand3x3_channels", expand3x3_channels, 1)
    kernel_size = _kernel(kernel_size)
    groups = integer("groups", groups, 1)
    if spatial != "shift" and kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} must be odd: the expand branches are "
                         "concatenated, so the KxK branch must keep the 1x1 branch's size.")
    layer = {"bias": bias, "batch_norm": batch_norm, "dtype_bytes": dtype_bytes}
    pointwise_groups = groups if spatial == "shuffle" else 1
    squeeze = _conv_bn(in_channels, squeeze_channels, in_size, 1, groups=pointwise_groups,
                       **layer)
    size = _size(squeeze)
    expand1x1 = _conv_bn(squeeze_channels, expand1x1_channels, size, 1, groups=pointwise_groups,
                         **layer)
    if spatial == "conv":
        expand3x3 = _conv_bn(squeeze_channels, expand3x3_channels, size, kernel_size, **layer)
    elif spatial == "dsc":
        expand3x3 = depthwise_separable_conv2d(squeeze_channels, expand3x3_channels, size,
                                               kernel_size, **layer)
    elif spatial == "shift":
        expand3x3 = _conv_bn(squeeze_channels, expand3x3_channels, size, 1, **layer)
    else:
        divides("squeeze_channels", squeeze_channels, "expand3x3_channels", expand3x3_channels)
        expand3x3 = _conv_bn(squeeze_channels, expand3x3_channels, size, kernel_size,
                             groups=squeeze_channels, **layer)
    return chain(squeeze, concat(expand1x1, expand3x3))


def inception_module(
    in_channels: int,
    in_size: int | tuple[int, int],
    ch1x1: int,
    ch3x3: int,
    ch5x5: int,
    pool_proj: int | None = None,
    *,
    ch3x3red: int | None = None,
    ch5x5red: int | None = None,
    large_branch: str = "5x5",
    bias: bool = False,
    batch_norm: bool = False,
    dtype_bytes: int = 4,
) -> Cost:
    """GoogLeNet's inception module: four branches concatenated along channels.

    Branches: 1x1 -> ch1x1; [1x1 -> ch3x3red] 3x3 -> ch3x3; [1x1 -> ch5x5red] large -> ch5x5;
    3x3 max pool (stride 1, pad 1) [1x1 -> pool_proj]. Leaving the reductions and ``pool_proj``
    as None gives the naive module (the pool then passes all M channels through).
    ``large_branch``: ``"5x5"`` (the paper), ``"3x3"`` (torchvision's GoogLeNet, a slip kept
    for its weights) or ``"3x3+3x3"`` (two stacked 3x3 convolutions, r -> r -> ch5x5, seed 000).
    MACs per branch: ``H W * C_out * K^2 * C_in``; seed 004 sums these terms.
    """
    large_branch = choice("large_branch", large_branch, ("5x5", "3x3", "3x3+3x3"))
    in_channels = integer("in_channels", in_channels, 1)
    ch1x1, ch3x3 = integer("ch1x1", ch1x1, 1), integer("ch3x3", ch3x3, 1)
    ch5x5 = integer("ch5x5", ch5x5, 1)
    layer = {"bias": bias, "batch_norm": batch_norm, "dtype_bytes": dtype_bytes}

    def reduced(width: int | None, name: str) -> list[Cost]:
        if width is None:
            return []
        return [_conv_bn(in_channels, integer(name, width, 1), in_size, 1, **layer)]

    branch1 = _conv_bn(in_channels, ch1x1, in_size, 1, **layer)
    head3 = reduced(ch3x3red, "ch3x3red")
    branch3 = chain(*head3, _conv_bn(head3[-1].out_shape[0] if head3 else in_channels, ch3x3,
                                     in_size, 3, **layer))
    head5 = reduced(ch5x5red, "ch5x5red")
    width5 = head5[-1].out_shape[0] if head5 else in_channels
    if large_branch == "3x3+3x3":
        tail5 = [_conv_bn(width5, width5, in_size, 3, **layer),
                 _conv_bn(width5, ch5x5, in_size, 3, **layer)]
    else:
        tail5 = [_conv_bn(width5, ch5x5, in_size, 5 if large_branch == "5x5" else 3, **layer)]
    branch5 = chain(*head5, *tail5)
    pool = pool2d(in_channels, in_size, 3, stride=1, padding=1, dtype_bytes=dtype_bytes)
    if pool_proj is not None:
        pool = chain(pool, _conv_bn(in_channels, integer("pool_proj", pool_proj, 1), in_size, 1,
                                    **layer))
    return concat(branch1, branch3, branch5, pool)


# Branch widths of GoogLeNet's nine inception modules (Szegedy et al. 2015, table 1) and the
# size of their input for a 224x224 image: ``inception_module(**GOOGLENET_INCEPTION["3a"])``.
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


# ---------------------------------------------------------------------------- dissertation ratios
# M input channels, N output channels, m bottleneck channels, F input = output size, K kernel,
# g groups. The R ratios count MACs over elements moved (input + output of each layer +
# weights), without bias, batch norm or the residual sum, as Cost.ratio does.


def savings_dsc(out_channels: int, kernel_size: int) -> float:
    """DSC over standard convolution, for FLOPs (eq. 3.3) and parameters (eq. 3.6): 1/N + 1/K^2."""
    n = integer("out_channels", out_channels, 1)
    k = _kernel(kernel_size)
    return 1 / n + 1 / k**2


def savings_shuffle(in_channels: int, mid_channels: int, kernel_size: int, groups: int) -> float:
    """Shuffle unit over bottleneck (eqs. 3.9 and 3.12): (2M + gK^2) / (2gM + gK^2 m)."""
    m_in = integer("in_channels", in_channels, 1)
    mid = integer("mid_channels", mid_channels, 1)
    k = _kernel(kernel_size)
    g = integer("groups", groups, 1)
    return (2 * m_in + g * k**2) / (2 * g * m_in + g * k**2 * mid)


def savings_shift(in_channels: int, mid_channels: int, kernel_size: int) -> float:
    """Shift module over bottleneck (eq. 3.17): 2M / (2M + K^2 m)."""
    m_in = integer("in_channels", in_channels, 1)
    mid = integer("mid_channels", mid_channels, 1)
    k = _kernel(kernel_size)
    return 2 * m_in / (2 * m_in + k**2 * mid)


def ratio_conv(in_channels: int, out_channels: int, size: int, kernel_size: int) -> float:
    """Eq. 3.13, standard convolution: M N F^2 K^2 / (F^2 (M + N) + K^2 M N)."""
    m, n = integer("in_channels", in_channels, 1), integer("out_channels", out_channels, 1)
    f, k = integer("size", size, 1), _kernel(kernel_size)
    return m * n * f**2 * k**2 / (f**2 * (m + n) + k**2 * m * n)


def ratio_depthwise(channels: int, size: int, kernel_size: int) -> float:
    """Eq. 3.14, depthwise convolution: M F^2 K^2 / (2 F^2 M + K^2 M)."""
    m, f, k = integer("channels", channels, 1), integer("size", size, 1), _kernel(kernel_size)
    return m * f**2 * k**2 / (2 * f**2 * m + k**2 * m)


def ratio_dsc(channels: int, size: int, kernel_size: int) -> float:
    """Eq. 3.18, depthwise-separable convolution with M = N: F^2 (K^2 + M) / (4 F^2 + K^2 + M)."""
    m, f, k = integer("channels", channels, 1), integer("size", size, 1), _kernel(kernel_size)
    return f**2 * (k**2 + m) / (4 * f**2 + k**2 + m)


def ratio_bottleneck(in_channels: int, mid_channels: int, size: int, kernel_size: int) -> float:
    """Eq. 3.19, bottleneck: m F^2 (m K^2 + 2M) / (2 F^2 (2m + M) + K^2 m^2 + 2 M m)."""
    m_in, mid = integer("in_channels", in_channels, 1), integer("mid_channels", mid_channels, 1)
    f, k = integer("size", size, 1), _kernel(kernel_size)
    return mid * f**2 * (mid * k**2 + 2 * m_in) / (
        2 * f**2 * (2 * mid + m_in) + k**2 * mid**2 + 2 * m_in * mid
    )


def ratio_shuffle(
    in_channels: int, mid_channels: int, size: int, kernel_size: int, groups: int
) -> float:
    """Eq. 3.20, shuffle unit: m F^2 (g K^2 + 2M) / (2 g F^2 (2m + M) + g K^2 m + 2 M m)."""
    m_in, mid = integer("in_channels", in_channels, 1), integer("mid_channels", mid_channels, 1)
    f, k, g = integer("size", size, 1), _kernel(kernel_size), integer("groups", groups, 1)
    return mid * f**2 * (g * k**2 + 2 * m_in) / (
        2 * g * f**2 * (2 * mid + m_in) + g * k**2 * mid + 2 * m_in * mid
    )


def ratio_shift(in_channels: int, mid_channels: int, size: int) -> float:
    """Eq. 3.21, shift module: M m F^2 / (F^2 (M + m) + M m)."""
    m_in, mid = integer("in_channels", in_channels, 1), integer("mid_channels", mid_channels, 1)
    f = integer("size", size, 1)
    return m_in * mid * f**2 / (f**2 * (m_in + mid) + m_in * mid)


def attainable_flops(flop_per_byte: float, peak_flops: float, bandwidth: float) -> float:
    """Roofline: the FLOP/s a kernel of this intensity can reach, ``min(peak, I * bandwidth)``."""
    for name, value in (("flop_per_byte", flop_per_byte), ("peak_flops", peak_flops),
                        ("bandwidth", bandwidth)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
        if not value > 0 or math.isinf(value):
            raise ValueError(f"{name} must be a positive finite number, got {value}.")
    return min(peak_flops, flop_per_byte * bandwidth)
