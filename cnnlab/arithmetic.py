"""What a layer costs, in closed form, and the dissertation's equations for its blocks.

Every layer function takes plain ints and returns a :class:`Cost`, so a notebook can derive a
number by hand, compute it here, and check it against :func:`cnnlab.summary.cost_of` on a real
module.

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
  padding 0). :func:`same_conv2d` and :func:`depthwise_separable_conv2d` are the dissertation's
  bare count: no bias, padding ``(kernel_size - 1) // 2``.
* The dissertation's equations are here as functions named after what they compute
  (``params_*`` for eqs. 3.4-3.16 and 4.1-4.9, ``savings_*``, ``ratio_*``). Blocks are modules
  (:mod:`cnnlab.layers`); what a block costs is measured from its module with
  :func:`cnnlab.summary.cost_of`, never written here a second time.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from cnnlab.checks import choice, divides, integer, pair

__all__ = [
    "Cost",
    "attainable_flops",
    "batch_norm2d",
    "chain",
    "concat",
    "conv2d",
    "conv_output_size",
    "depthwise_conv2d",
    "depthwise_separable_conv2d",
    "linear",
    "params_bottleneck",
    "params_dsc",
    "params_fire",
    "params_fire_dsc",
    "params_fire_shift",
    "params_fire_shuffle",
    "params_residual",
    "params_residual_dsc",
    "params_residual_shuffle",
    "params_shift_module",
    "params_shuffle_unit",
    "params_standard_conv",
    "pointwise_conv2d",
    "pool2d",
    "ratio_bottleneck",
    "ratio_conv",
    "ratio_depthwise",
    "ratio_dsc",
    "ratio_shift",
    "ratio_shuffle",
    "same_conv2d",
    "savings_dsc",
    "savings_shift",
    "savings_shuffle",
]



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
    height, width = pair("in_size", in_size, 1)
    kernel = pair("kernel_size", kernel_size, 1)
    strides = pair("stride", stride, 1)
    pads = pair("padding", padding, 0)
    dilations = pair("dilation", dilation, 1)
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
    height, width = pair("in_size", in_size, 1)
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
    height, width = pair("in_size", in_size, 1)
    kernel = pair("kernel_size", kernel_size, 1)
    strides = kernel if stride is None else pair("stride", stride, 1)
    pads = pair("padding", padding, 0)
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


def depthwise_separable_conv2d(
    in_channels: int,
    out_channels: int,
    in_size: int | tuple[int, int],
    kernel_size: int = 3,
    *,
    stride: int = 1,
    dtype_bytes: int = 4,
) -> Cost:
    """Depthwise KxK ("same" padding, carries the stride) then pointwise 1x1, no bias.

    Params ``= K^2 M + M N`` (eq. 3.5), MACs ``= F'^2 (K^2 M + M N)`` (eq. 3.2). The module,
    with its norms, is :class:`cnnlab.layers.DepthwiseSeparable`.
    """
    kernel_size = _kernel(kernel_size)
    depthwise = depthwise_conv2d(in_channels, in_size, kernel_size, stride=stride,
                                 padding=(kernel_size - 1) // 2, bias=False,
                                 dtype_bytes=dtype_bytes)
    return chain(depthwise, pointwise_conv2d(in_channels, out_channels, depthwise.out_shape[1:],
                                             bias=False, dtype_bytes=dtype_bytes))


def same_conv2d(
    in_channels: int,
    out_channels: int,
    size: int,
    kernel_size: int,
    *,
    groups: int = 1,
    stride: int = 1,
    dtype_bytes: int = 4,
) -> Cost:
    """The convolution the dissertation's equations assume: "same" padding, no bias."""
    kernel_size = _kernel(kernel_size)
    return conv2d(in_channels, out_channels, size, kernel_size, stride=stride,
                  padding=(kernel_size - 1) // 2, groups=groups, bias=False,
                  dtype_bytes=dtype_bytes)


# ---------------------------------------------------------------------------- dissertation parameters
# Parameter counts of seed 002's blocks, without bias or batch norm, as its equations write them.
# The modules are cnnlab.layers'; tests/test_layers.py checks each equation against its module.


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _widths(**values: object) -> list[int]:
    return [integer(name, value) for name, value in values.items()]


def params_standard_conv(in_channels: int, out_channels: int, kernel_size: int) -> int:
    """Eq. 3.4: K^2 M N."""
    m, n, k = _widths(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    return k**2 * m * n


def params_dsc(in_channels: int, out_channels: int, kernel_size: int) -> int:
    """Eq. 3.5, depthwise-separable convolution: K^2 M + M N."""
    m, n, k = _widths(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    return k**2 * m + m * n


def params_bottleneck(in_channels: int, mid_channels: int, kernel_size: int) -> int:
    """Eqs. 3.10 and 4.7, ResNet's bottleneck with M = N: m (2M + m K^2)."""
    m_in, mid, k = _widths(in_channels=in_channels, mid_channels=mid_channels,
                           kernel_size=kernel_size)
    return mid * (2 * m_in + mid * k**2)


def params_shuffle_unit(in_channels: int, mid_channels: int, kernel_size: int,
                        groups: int) -> int | float:
    """Eq. 3.11, the shuffle unit with M = N: 2 M m / g + K^2 m."""
    m_in, mid, k, g = _widths(in_channels=in_channels, mid_channels=mid_channels,
                              kernel_size=kernel_size, groups=groups)
    return _whole(2 * m_in * mid / g + k**2 * mid)


def params_shift_module(in_channels: int, mid_channels: int) -> int:
    """Eqs. 3.16 and 4.9, the shift module with M = N: 2 M m (the shift has no weights)."""
    m_in, mid = _widths(in_channels=in_channels, mid_channels=mid_channels)
    return 2 * m_in * mid


def params_fire(in_channels: int, squeeze_channels: int, out_channels: int,
                kernel_size: int) -> int | float:
    """Eq. 4.1, the fire module with e1 = e3 = N/2: M m + m N/2 + K^2 m N/2."""
    m_in, s, n, k = _widths(in_channels=in_channels, squeeze_channels=squeeze_channels,
                            out_channels=out_channels, kernel_size=kernel_size)
    return _whole(m_in * s + s * n / 2 + k**2 * s * n / 2)


def params_fire_dsc(in_channels: int, squeeze_channels: int, out_channels: int,
                    kernel_size: int) -> int:
    """Eq. 4.2, fire with a DSC expand branch: M m + m N + K^2 m."""
    m_in, s, n, k = _widths(in_channels=in_channels, squeeze_channels=squeeze_channels,
                            out_channels=out_channels, kernel_size=kernel_size)
    return m_in * s + s * n + k**2 * s


def params_fire_shuffle(in_channels: int, squeeze_channels: int, out_channels: int,
                        kernel_size: int, groups: int) -> int | float:
    """Eq. 4.3, fire with grouped 1x1s and a shuffled depthwise branch of m maps:
    M m / g + m N / (2g) + m K^2."""
    m_in, s, n, k, g = _widths(in_channels=in_channels, squeeze_channels=squeeze_channels,
                               out_channels=out_channels, kernel_size=kernel_size, groups=groups)
    return _whole(m_in * s / g + s * n / (2 * g) + s * k**2)


def params_fire_shift(in_channels: int, squeeze_channels: int, out_channels: int) -> int:
    """Eq. 4.4, fire with a shift + 1x1 branch: M m + m N."""
    m_in, s, n = _widths(in_channels=in_channels, squeeze_channels=squeeze_channels,
                         out_channels=out_channels)
    return m_in * s + s * n


def params_residual(in_channels: int, mid_channels: int, kernel_size: int) -> int:
    """Eq. 4.5, the basic residual block with M = N: 2 K^2 m M."""
    m_in, mid, k = _widths(in_channels=in_channels, mid_channels=mid_channels,
                           kernel_size=kernel_size)
    return 2 * k**2 * mid * m_in


def params_residual_dsc(in_channels: int, mid_channels: int, kernel_size: int) -> int:
    """Eq. 4.6, the basic block with two DSCs: K^2 (M + m) + 2 m M."""
    m_in, mid, k = _widths(in_channels=in_channels, mid_channels=mid_channels,
                           kernel_size=kernel_size)
    return k**2 * (m_in + mid) + 2 * mid * m_in


def params_residual_shuffle(in_channels: int, mid_channels: int, kernel_size: int,
                            groups: int) -> int | float:
    """Eq. 4.8, the shuffle block: M m / g + K^2 m + m M / (2g), a last 1x1 of 2g groups."""
    m_in, mid, k, g = _widths(in_channels=in_channels, mid_channels=mid_channels,
                              kernel_size=kernel_size, groups=groups)
    return _whole(m_in * mid / g + k**2 * mid + mid * m_in / (2 * g))


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
