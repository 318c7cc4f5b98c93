"""int8: one tensor by hand, and a whole network after training.

A float32 spends 1 sign bit, 8 exponent bits and 23 mantissa bits on every number; int8 spends
8 bits on an integer ``q`` that stands for ``scale * (q - zero_point)``. :func:`affine_int8` picks
``scale`` and ``zero_point`` so that the tensor's range (widened to hold 0, so that zero padding
and ReLU's zeros stay exact) maps onto -128..127.

Whole networks: :func:`dynamic_int8` stores linear weights as int8 and quantizes activations on
the fly; :func:`static_int8` folds batch norms and ReLUs into the convolutions, calibrates the
activations' ranges on a few batches and runs int8 convolution kernels (x86/fbgemm). Both use
``torch.ao.quantization``'s eager mode. Its maintained successor, torchao, gives CPU int8 only
through ``torch.compile`` (PT2E + the x86 inductor quantizer): without compiling, its converted
graph keeps float32 weights and runs quantize/dequantize in float32, slower than the model it
came from; compiling needs a C++ toolchain and more time than a notebook cell may take. So this
module keeps the deprecated path and silences its deprecation warnings here, once.
"""

from __future__ import annotations

import copy
import struct
import warnings
from collections.abc import Iterable

import torch
from torch import nn

# The pinned torch warns on every torch.ao.quantization call that it will be removed; the reason
# this module still uses it is in the docstring above.
warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated",
                        category=DeprecationWarning)
warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
                        category=UserWarning)
warnings.filterwarnings("ignore", message=r"Please use quant_min and quant_max", category=UserWarning)

from torch.ao import quantization as tq  # noqa: E402  (after the filters: importing warns too)

INT8_MIN, INT8_MAX = -128, 127
BACKEND = "x86"
# x86's default qconfig observes activations with reduce_range=True (7-bit), a guard against
# int16 saturation on CPUs without VNNI; on the small net it cost 3-5 points of top-1 on some
# seeds, the full 8-bit range under one. Weights per output channel, as the default.
QCONFIG = tq.QConfig(activation=tq.HistogramObserver.with_args(reduce_range=False),
                     weight=tq.default_per_channel_weight_observer)
_FUSABLE = ((nn.Conv2d, nn.BatchNorm2d, nn.ReLU), (nn.Conv2d, nn.BatchNorm2d),
            (nn.Conv2d, nn.ReLU), (nn.Linear, nn.ReLU))


def affine_int8(x: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """``(q, scale, zero_point)`` with ``x ~ scale * (q - zero_point)`` and ``q`` int8: the
    per-tensor min/max scheme of ``torch.ao``'s observers, whose range always contains 0."""
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (high - low) / (INT8_MAX - INT8_MIN) or 1.0
    zero_point = int(min(max(INT8_MIN - round(low / scale), INT8_MIN), INT8_MAX))
    q = torch.clamp(torch.round(x / scale) + zero_point, INT8_MIN, INT8_MAX).to(torch.int8)
    return q, scale, zero_point


def bits_float32(value: float) -> str:
    """IEEE 754 single precision, as 'sign exponent mantissa' (seed 002, fig. 12)."""
    (word,) = struct.unpack(">I", struct.pack(">f", value))
    bits = f"{word:032b}"
    return f"{bits[0]} {bits[1:9]} {bits[9:]}"


def bits_int8(value: int) -> str:
    """An int8 in two's complement (seed 002, fig. 12)."""
    if not INT8_MIN <= value <= INT8_MAX:
        raise ValueError(f"{value} does not fit in int8 ({INT8_MIN}..{INT8_MAX}).")
    return f"{value & 0xFF:08b}"


def dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy whose ``nn.Linear`` layers hold int8 weights and quantize their input per batch.
    Convolutions stay float32: dynamic quantization covers linear (and recurrent) layers only."""
    return tq.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def _fuse_groups(model: nn.Module, prefix: str = "") -> list[list[str]]:
    """Names of the conv-(bn)-(relu) and linear-relu runs inside every ``nn.Sequential``."""
    groups = []
    for name, child in model.named_children():
        groups += _fuse_groups(child, f"{prefix}{name}.")
    if isinstance(model, nn.Sequential):
        names = list(model._modules)
        i = 0
        while i < len(names):
            for pattern in _FUSABLE:
                run = names[i:i + len(pattern)]
                if len(run) == len(pattern) and all(
                        type(model._modules[n]) is kind for n, kind in zip(run, pattern, strict=True)):
                    groups.append([prefix + n for n in run])
                    i += len(pattern) - 1
                    break
            i += 1
    return groups


def static_int8(model: nn.Module, calibration: Iterable) -> nn.Module:
    """A copy with int8 weights *and* activations: batch norms and ReLUs fused into the layer
    before them, activation ranges observed on ``calibration`` (batches of images, or
    ``(images, labels)`` pairs), then converted to int8 kernels.

    Eager mode quantizes what runs through modules: a network whose forward adds or concatenates
    tensors itself (a residual '+') would need those ops rewritten, so such models raise here.
    """
    net = copy.deepcopy(model).eval()
    groups = _fuse_groups(net)
    if groups:
        net = tq.fuse_modules(net, groups)
    wrapped = nn.Sequential(tq.QuantStub(), net, tq.DeQuantStub()).eval()
    wrapped.qconfig = QCONFIG
    torch.backends.quantized.engine = BACKEND
    prepared = tq.prepare(wrapped)
    seen = 0
    with torch.no_grad():
        for batch in calibration:
            images = batch[0] if isinstance(batch, list | tuple) else batch
            prepared(images)
            seen += 1
    if not seen:
        raise ValueError("calibration gave no batches: pass a loader or a list of image batches, "
                         "so that the activations' ranges can be observed.")
    quantized = tq.convert(prepared)
    try:
        with torch.no_grad():
            quantized(images[:1])
    except (NotImplementedError, RuntimeError) as error:
        raise TypeError(f"{type(model).__name__} does not run after eager int8 conversion "
                        f"({str(error).splitlines()[0][:120]}). Its forward probably adds or "
                        f"concatenates tensors outside modules; static_int8 takes networks built "
                        f"from modules alone, such as cnnlab's small_cnn.") from error
    return quantized
