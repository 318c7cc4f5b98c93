"""The channel shift (ShiftNet): each channel moves by one of K x K displacements, zero-filled.

Convention, the same in the reference, the C++ and the CUDA kernels::

    out[n, c, y, x] = x[n, c, y + dy_c, x + dx_c]      (0 where that pixel is outside the map)

Each output pixel reads the pixel (dy, dx) away, so a channel with (dy, dx) = (1, 0) sees its
content move one row *up*. This is the one-hot depthwise convolution whose single 1 sits at tap
(K // 2 + dy / dilation, K // 2 + dx / dilation), and the convention of the CUDA code the
dissertation used (shiftnet_cuda_v2), so "interleaved" weights trained there would transfer.
The K^2 directions are numbered row-major like those taps, d = i * K + j, with
(dy, dx) = ((i - K // 2) * dilation, (j - K // 2) * dilation); the centre one, d = K^2 // 2, is the
identity. For K = 3::

    d:  0 1 2      (dy, dx):  (-1,-1) (-1, 0) (-1, 1)
        3 4 5                 ( 0,-1) ( 0, 0) ( 0, 1)
        6 7 8                 ( 1,-1) ( 1, 0) ( 1, 1)

Which channel takes which direction (C channels, B = C // K^2, the last C - B * K^2 unshifted)::

    interleaved (as the dissertation's CUDA code):  c -> c mod K^2          0 1 2 .. 8 0 1 2 ..
    contiguous:                                     c -> c // B             0 0 .. 0 1 1 .. 1 ..

The two differ by a channel permutation that the neighbouring 1x1 convolutions absorb, but
trained weights do not transfer between them. The shift's adjoint (its backward) is the same
operation with every displacement negated.
"""

from __future__ import annotations

import functools
import os
import re
import time
import warnings
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from cnnlab.checks import integer, is_int
from cnnlab.toolchain import find_cuda_home, find_cxx

GROUPINGS = ("interleaved", "contiguous")
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
CSRC = Path(__file__).resolve().parent / "csrc"


class ShiftBuildError(RuntimeError):
    """The compiled shift kernel cannot be built here; the message says why."""


class ShiftFallbackWarning(RuntimeWarning):
    """The shift runs on the slower pure-PyTorch reference because a kernel could not be built."""


# --- which channel moves where ---------------------------------------------------------------

def _channel_groups(channels, kernel_size, dilation, grouping):
    """(channel slice, (dy, dx)) for each direction, plus the unshifted leftovers."""
    directions = kernel_size * kernel_size
    per_direction = channels // directions
    used = per_direction * directions
    for d in range(directions):
        dy, dx = (d // kernel_size - kernel_size // 2), (d % kernel_size - kernel_size // 2)
        if grouping == "interleaved":
            channel_slice = slice(d, used, directions)
        else:
            channel_slice = slice(d * per_direction, (d + 1) * per_direction)
        yield channel_slice, (dy * dilation, dx * dilation)
    yield slice(used, channels), (0, 0)


def displacements(channels: int, kernel_size: int = 3, dilation: int = 1,
                  grouping: str = "interleaved") -> list[tuple[int, int]]:
    """[(dy, dx)] for each of `channels` channels, e.g. to draw what the shift does."""
    _check_options(kernel_size, dilation, grouping)
    if not is_int(channels) or channels < 0:
        raise ValueError(f"channels must be a non-negative int, got {channels!r}.")
    table = [(0, 0)] * channels
    for channel_slice, displacement in _channel_groups(channels, kernel_size, dilation, grouping):
        for c in range(channels)[channel_slice]:
            table[c] = displacement
    return table


def one_hot_depthwise_weight(channels: int, kernel_size: int = 3, dilation: int = 1,
                             grouping: str = "interleaved",
                             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The shift as a depthwise-conv weight (C, 1, K, K): one 1 per channel, the rest 0.

    ``F.conv2d(x, w, padding=dilation * (kernel_size // 2), dilation=dilation, groups=C)``
    equals :func:`shift` and costs a full depthwise convolution, which ShiftNet avoids.
    """
    weight = torch.zeros(channels, 1, kernel_size, kernel_size, dtype=dtype)
    for c, (dy, dx) in enumerate(displacements(channels, kernel_size, dilation, grouping)):
        # conv2d correlates: out[y, x] takes in[y + (i - K // 2) * dilation, ...] from tap i.
        weight[c, 0, kernel_size // 2 + dy // dilation, kernel_size // 2 + dx // dilation] = 1
    return weight


# --- the definition ----------------------------------------------------------------------------

def _spans(d, size):
    """Slices (out, in) along one axis for out[i] = in[i + d]; empty when |d| >= size."""
    d = max(-size, min(size, d))
    return slice(max(-d, 0), size - max(d, 0)), slice(max(d, 0), size - max(-d, 0))


def _reference(x, kernel_size, dilation, grouping, sign):
    out = torch.zeros_like(x)
    height, width = x.shape[-2:]
    for channels, (dy, dx) in _channel_groups(x.shape[1], kernel_size, dilation, grouping):
        (y_out, y_in), (x_out, x_in) = _spans(sign * dy, height), _spans(sign * dx, width)
        out[:, channels, y_out, x_out] = x[:, channels, y_in, x_in]
    return out


def shift_reference(x: torch.Tensor, kernel_size: int = 3, dilation: int = 1,
                    grouping: str = "interleaved") -> torch.Tensor:
    """The shift written with slicing only: the definition the kernels are tested against."""
    _check_input(x, kernel_size, dilation, grouping)
    return _reference(x, kernel_size, dilation, grouping, sign=1)


# --- dispatch and autograd --------------------------------------------------------------------

def shift(x: torch.Tensor, kernel_size: int = 3, dilation: int = 1, grouping: str = "interleaved",
          out: torch.Tensor | None = None) -> torch.Tensor:
    """Shift each channel of x (N, C, H, W) by its displacement, zero-filled at the borders.

    Runs the compiled kernel for x's device (built at first use), else the reference after one
    ShiftFallbackWarning. With `out`, writes there (no autograd) and returns it.
    """
    return _shift_or_adjoint(x, kernel_size, dilation, grouping, out, sign=1)


def shift_adjoint(y: torch.Tensor, kernel_size: int = 3, dilation: int = 1,
                  grouping: str = "interleaved", out: torch.Tensor | None = None) -> torch.Tensor:
    """The adjoint (= backward) of :func:`shift`: every displacement negated."""
    return _shift_or_adjoint(y, kernel_size, dilation, grouping, out, sign=-1)


def _shift_or_adjoint(x, kernel_size, dilation, grouping, out, sign):
    _check_input(x, kernel_size, dilation, grouping)
    recording = torch.is_grad_enabled() and x.requires_grad
    if out is None:
        if recording:
            return _ShiftFunction.apply(x, kernel_size, dilation, grouping, sign)
        # Nothing to record: skipping the autograd Function saves a fixed cost per call that, on
        # one image, is as large as the shift itself.
        return _run(x, kernel_size, dilation, grouping, sign, None)
    _check_out(x, out)
    if recording:
        raise ValueError("shift(..., out=...) cannot record gradients; call it without `out` "
                         "or under torch.no_grad().")
    return _run(x, kernel_size, dilation, grouping, sign, out)


class _ShiftFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, dilation, grouping, sign):
        ctx.options = (kernel_size, dilation, grouping, sign)
        return _run(x, kernel_size, dilation, grouping, sign, None)

    @staticmethod
    def backward(ctx, grad):
        kernel_size, dilation, grouping, sign = ctx.options
        # The adjoint goes through apply again so that double backward works too.
        return _ShiftFunction.apply(grad, kernel_size, dilation, grouping, -sign), *[None] * 4


def _run(x, kernel_size, dilation, grouping, sign, out):
    """Kernel for x's device if one builds, else the reference; writes into `out` if given."""
    extension = _extension_for(x.device.type)
    if extension is None:
        result = _reference(x, kernel_size, dilation, grouping, sign)
        return result if out is None else out.copy_(result)
    table = _table(x.shape[1], kernel_size, dilation, grouping, sign, x.device)
    if x.is_contiguous() and (out is None or out.is_contiguous()):
        # The common case, NCHW in and out, goes straight to the kernel: no conversion to check.
        target = torch.empty_like(x) if out is None else out
        extension.shift_out(x, table, target)
        return target
    layout = _dense_layout(out) if out is not None else None
    layout = layout or _dense_layout(x) or torch.contiguous_format
    x = x.contiguous(memory_format=layout)
    direct = out is not None and out.is_contiguous(memory_format=layout)
    target = out if direct else torch.empty_like(x)
    extension.shift_out(x, table, target)
    return target if out is None or direct else out.copy_(target)


def _dense_layout(t):
    if t.is_contiguous():
        return torch.contiguous_format
    return torch.channels_last if t.is_contiguous(memory_format=torch.channels_last) else None


@functools.lru_cache(maxsize=256)
def _table(channels, kernel_size, dilation, grouping, sign, device):
    table = displacements(channels, kernel_size, dilation, grouping)
    return torch.tensor(table, dtype=torch.int64, device=device).reshape(channels, 2) * sign


class Shift(nn.Module):
    """The shift as a parameter-free layer, for the shift module (1x1 -> shift -> 1x1)."""

    def __init__(self, kernel_size: int = 3, dilation: int = 1, grouping: str = "interleaved"):
        super().__init__()
        _check_options(kernel_size, dilation, grouping)
        self.kernel_size, self.dilation, self.grouping = kernel_size, dilation, grouping

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shift(x, self.kernel_size, self.dilation, self.grouping)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"grouping={self.grouping!r}")


# --- argument checks ---------------------------------------------------------------------------

_CHECKED_OPTIONS = set()  # (kernel_size, dilation, grouping) of plain ints and a str found valid


def _check_options(kernel_size, dilation, grouping):
    plain = type(kernel_size) is int and type(dilation) is int and type(grouping) is str
    if plain and (kernel_size, dilation, grouping) in _CHECKED_OPTIONS:
        return  # a layer calls with the same options every time: check them once
    if integer("kernel_size", kernel_size, minimum=None) < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and >= 1 (so a centre exists), got "
                         f"{kernel_size}; use 1, 3, 5, 7, ...")
    integer("dilation", dilation)
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping must be one of {GROUPINGS}, got {grouping!r}.")
    if plain:
        _CHECKED_OPTIONS.add((kernel_size, dilation, grouping))


def _check_input(x, kernel_size, dilation, grouping):
    _check_options(kernel_size, dilation, grouping)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {tuple(x.shape)}; "
                         "for a single image add a batch dimension with x.unsqueeze(0).")
    if x.dtype not in DTYPES:
        raise TypeError(f"x.dtype {x.dtype} is not supported; use one of "
                        f"{', '.join(str(d) for d in DTYPES)} (e.g. x.float()).")


def _check_out(x, out):
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor or None, got {type(out).__name__}.")
    if out.device != x.device:
        raise ValueError(f"out is on {out.device} but x is on {x.device}; allocate out on "
                         "x's device, e.g. torch.empty_like(x).")
    if out.dtype != x.dtype:
        raise TypeError(f"out.dtype {out.dtype} differs from x.dtype {x.dtype}; use "
                        "torch.empty_like(x).")
    if out.shape != x.shape:
        raise ValueError(f"out has shape {tuple(out.shape)} but must match x's {tuple(x.shape)}.")
    if out.numel() and out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        raise ValueError("out shares memory with x; the shift cannot run in place, "
                         "pass a separate buffer such as torch.empty_like(x).")


# --- building the kernels (at first use, cached on disk by torch) ------------------------------

_EXTENSIONS = {}  # device type -> compiled module, or None once a build has failed


def _extension_for(device_type):
    """The compiled module for this device type; None (with one warning) if it cannot be built."""
    if device_type not in ("cpu", "cuda"):
        return None  # no kernel written for it: the reference is the implementation
    if device_type not in _EXTENSIONS:
        try:
            build_extension(device_type)
        except ShiftBuildError as err:
            _EXTENSIONS[device_type] = None
            warnings.warn(f"cnnlab.ops.shift runs on the pure-PyTorch reference for "
                          f"{device_type} tensors (correct, but slower): {err}",
                          ShiftFallbackWarning, stacklevel=2)
    return _EXTENSIONS[device_type]


def build_extension(device_type: str = "cpu", verbose: bool = False) -> ModuleType:
    """Compile (or load from torch's cache) the shift kernel for 'cpu' or 'cuda' and return it.

    Raises ShiftBuildError saying why and what to install when that is impossible. The build
    directory is $TORCH_EXTENSIONS_DIR if set (the Makefile sets <repo>/.cache/torch_extensions).
    """
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"device_type must be 'cpu' or 'cuda', got {device_type!r}.")
    if _EXTENSIONS.get(device_type) is None:
        _EXTENSIONS[device_type] = _compile(device_type, verbose)
    return _EXTENSIONS[device_type]


def _compile(device_type, verbose):
    if find_cxx() is None:
        raise ShiftBuildError("no C++ compiler was found ($CXX, or c++ when CXX is unset). To "
                              "enable the fast kernel install one (e.g. `apt-get install g++`) or "
                              "point CXX at it.")
    cuda_home = find_cuda_home()
    if device_type == "cuda" and (cuda_home is None or torch.version.cuda is None):
        raise ShiftBuildError("no CUDA toolkit (or a CPU-only torch) was found. To enable the fast "
                              "kernel install the CUDA toolkit matching torch.version.cuda and set "
                              "CUDA_HOME to its directory.")
    if cuda_home is not None:
        # torch.utils.cpp_extension fixes CUDA_HOME when first imported; an `nvcc` wrapper on PATH
        # makes it guess wrong, so point it at the real toolkit first.
        os.environ["CUDA_HOME"] = str(cuda_home)
    from torch.utils import cpp_extension

    if cuda_home is not None:
        cpp_extension.CUDA_HOME = str(cuda_home)  # in case it was imported before us
    header = (CSRC / "shift_common.h").read_text()
    # A first build takes about a minute on two cores and would otherwise show nothing at all.
    print(f"cnnlab.ops: building the {device_type} shift kernel (the first time takes a minute or "
          "so; later runs load it from the cache)...", flush=True)
    began = time.perf_counter()
    try:
        if device_type == "cpu":
            module = cpp_extension.load_inline(
                name="cnnlab_shift_cpu",
                cpp_sources=[header + (CSRC / "shift_cpu.cpp").read_text()],
                functions=["shift_out", "threads_used"],
                extra_cflags=["-O3", "-fopenmp"], extra_ldflags=["-fopenmp"], verbose=verbose,
            )
        else:
            # The arch list is part of the name so that builds for different GPUs never collide.
            arch_list = _cuda_arch_list()
            module = cpp_extension.load_inline(
                name="cnnlab_shift_cuda_sm" + re.sub(r"\W", "_", arch_list),
                cpp_sources=["at::Tensor shift_out(const at::Tensor& x, const at::Tensor& table, "
                             "at::Tensor out);"],
                cuda_sources=[header + (CSRC / "shift_cuda.cu").read_text()],
                functions=["shift_out"],
                extra_cflags=["-O3"], extra_cuda_cflags=["-O3"], verbose=verbose,
            )
    except Exception as err:  # compiler and linker failures arrive as several exception types
        raise ShiftBuildError(
            f"compiling the {device_type} shift kernel failed ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[-1] if str(err).strip() else 'no message'}). To see "
            f"the compiler output run cnnlab.ops.build_extension({device_type!r}, verbose=True)."
        ) from err
    print(f"cnnlab.ops: the {device_type} shift kernel is ready ({time.perf_counter() - began:.1f} s).",
          flush=True)
    return module


def _cuda_arch_list():
    """TORCH_CUDA_ARCH_LIST, set from the visible GPUs (or to Hopper, 9.0, without one)."""
    if not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        gpus = range(torch.cuda.device_count())
        capabilities = {torch.cuda.get_device_capability(i) for i in gpus}
        os.environ["TORCH_CUDA_ARCH_LIST"] = (
            ";".join(f"{major}.{minor}" for major, minor in sorted(capabilities)) or "9.0"
        )
    return os.environ["TORCH_CUDA_ARCH_LIST"]
