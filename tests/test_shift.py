"""The channel shift: definition, compiled kernels vs the reference, autograd, fallback, errors."""

import importlib
import itertools
import os
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

from cnnlab.grading import same_bits
from cnnlab.ops import (
    Shift,
    ShiftBuildError,
    ShiftFallbackWarning,
    build_extension,
    displacements,
    one_hot_depthwise_weight,
    shift,
    shift_adjoint,
    shift_reference,
)
from cnnlab.toolchain import find_cuda_home, find_cxx

# The function cnnlab.ops.shift hides the submodule of the same name; fetch the module itself.
shift_module = importlib.import_module("cnnlab.ops.shift")
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=GPU)]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
GROUPINGS = ["interleaved", "contiguous"]
LAYOUTS = ["contiguous", "strided", "channels_last"]
# C < K^2, C % K^2 != 0, H or W = 1, empty along each axis, a bigger map.
SHAPES = [(2, 18, 5, 7), (1, 4, 3, 3), (3, 11, 1, 6), (2, 20, 6, 1), (0, 9, 4, 4), (2, 0, 4, 4),
          (2, 9, 0, 3), (1, 29, 9, 10)]
# (kernel_size, dilation), including a dilation larger than the map.
OPTIONS = [(3, 1), (3, 2), (5, 1), (1, 1), (3, 7)]


@pytest.fixture(scope="module")
def kernels():
    """Build (or load from torch's cache) the CPU kernel once for this module."""
    if find_cxx() is None:
        pytest.skip("no C++ compiler: the compiled shift kernel cannot be built here")
    return build_extension("cpu")


def sample(shape, dtype, layout, device="cpu", seed=0):
    """Random tensor in the given layout, with -0.0, inf and nan in it when there is room."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    x.view(-1)[:3] = torch.tensor([-0.0, float("inf"), float("nan")])[: x.numel()]
    x = x.to(device=device, dtype=dtype)
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "strided":
        padded = torch.zeros(*shape[:3], 2 * shape[3], dtype=dtype, device=device)
        padded[..., ::2] = x
        return padded[..., ::2]
    return x


def reference_adjoint(y, kernel_size, dilation, grouping):
    """The adjoint through the slicing reference. (Autograd through the reference's slicing adds
    the gradient to zeros, turning -0.0 into +0.0, so it equals the kernels only by value.)"""
    return shift_module._reference(y, kernel_size, dilation, grouping, sign=-1)


def assert_bitwise_equal(actual, expected):
    assert same_bits(actual, expected), f"{actual} differs from {expected} in its bits"


# --- the definition ----------------------------------------------------------------------------

@pytest.mark.parametrize("kernel_size, dilation", [(1, 1), (3, 1), (3, 2), (5, 3)])
def test_interleaved_directions_are_row_major_with_identity_centre(kernel_size, dilation):
    k2 = kernel_size**2
    channels = 2 * k2 + 3
    table = displacements(channels, kernel_size, dilation, "interleaved")
    offsets = [(i - kernel_size // 2) * dilation for i in range(kernel_size)]
    row_major = list(itertools.product(offsets, offsets))
    assert table[:k2] == row_major and table[k2 : 2 * k2] == row_major
    assert table[k2 // 2] == (0, 0)
    assert table[2 * k2 :] == [(0, 0)] * 3  # leftovers are not shifted


def test_contiguous_grouping_gives_each_direction_a_block():
    per_direction, leftovers = 3, 2
    table = displacements(9 * per_direction + leftovers, 3, 1, "contiguous")
    interleaved = displacements(9, 3, 1, "interleaved")
    expected = [d for d in interleaved for _ in range(per_direction)] + [(0, 0)] * leftovers
    assert table == expected


def test_fewer_channels_than_directions_are_not_shifted():
    x = torch.randn(2, 8, 5, 5)
    assert displacements(8, 3) == [(0, 0)] * 8
    assert torch.equal(shift_reference(x), x)


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_each_output_pixel_reads_the_pixel_displacement_away(grouping):
    size, channels = 9, 18
    x = torch.zeros(1, channels, size, size)
    x[:, :, size // 2, size // 2] = 1
    out = shift_reference(x, 3, 2, grouping)
    for c, (dy, dx) in enumerate(displacements(channels, 3, 2, grouping)):
        expected = torch.zeros(size, size)
        expected[size // 2 - dy, size // 2 - dx] = 1  # out[y, x] = x[y + dy, x + dx]
        assert torch.equal(out[0, c], expected)


@pytest.mark.parametrize("kernel_size, dilation", [(3, 1), (5, 2)])
def test_direction_d_is_the_one_hot_tap_d(kernel_size, dilation):
    k2, leftovers = kernel_size**2, 4
    weight = one_hot_depthwise_weight(3 * k2 + leftovers, kernel_size, dilation)
    taps = weight.flatten(1).argmax(dim=1)
    assert torch.equal(taps[: 3 * k2], torch.arange(3 * k2) % k2)
    assert torch.equal(taps[3 * k2 :], torch.full((leftovers,), k2 // 2))


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reference_equals_one_hot_depthwise_conv(grouping, dtype):
    for shape, (kernel_size, dilation) in itertools.product(SHAPES[:4] + SHAPES[-1:], OPTIONS):
        x = torch.randn(shape, dtype=dtype)
        weight = one_hot_depthwise_weight(shape[1], kernel_size, dilation, grouping, dtype)
        conv = F.conv2d(x, weight, padding=dilation * (kernel_size // 2), dilation=dilation,
                        groups=shape[1])
        assert torch.equal(shift_reference(x, kernel_size, dilation, grouping), conv)


# --- kernels against the reference -------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_matches_reference_bit_for_bit(kernels, device, dtype, grouping, layout):
    for shape, (kernel_size, dilation) in itertools.product(SHAPES, OPTIONS):
        x = sample(shape, dtype, layout, device).requires_grad_()
        grad = sample(shape, dtype, layout, device, seed=1)
        x_ref = x.detach().clone().requires_grad_()
        out = shift(x, kernel_size, dilation, grouping)
        expected = shift_reference(x_ref, kernel_size, dilation, grouping)
        assert_bitwise_equal(out, expected)
        out.backward(grad)
        expected.backward(grad)
        assert_bitwise_equal(x.grad, reference_adjoint(grad, kernel_size, dilation, grouping))
        assert torch.equal(x.grad.nan_to_num(), x_ref.grad.nan_to_num())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_kernel_writes_into_out(kernels, device, layout):
    x = sample((2, 20, 6, 5), torch.float32, "contiguous", device)
    out = sample((2, 20, 6, 5), torch.float32, layout, device, seed=3)
    result = shift(x, 5, 1, "contiguous", out=out)
    assert result is out
    assert_bitwise_equal(out, shift_reference(x, 5, 1, "contiguous"))


def test_channels_last_input_gives_channels_last_output(kernels):
    x = sample((2, 12, 4, 4), torch.float32, "channels_last")
    assert shift(x).is_contiguous(memory_format=torch.channels_last)


def test_cpu_tensors_use_the_cpu_kernel_and_build_nothing_for_cuda(kernels, monkeypatch):
    monkeypatch.setattr(shift_module, "_EXTENSIONS", {"cpu": kernels})
    shift(torch.randn(1, 9, 3, 3))
    assert shift_module._extension_for("cpu") is kernels
    assert "cuda" not in shift_module._EXTENSIONS


def test_importing_compiles_nothing():
    code = "import sys, cnnlab.ops; print('torch.utils.cpp_extension' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_kernel_runs_on_two_threads_where_two_cores_exist(kernels):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("fewer than two cores")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert kernels.threads_used(1000) == 2, "at::parallel_for ran serially: -fopenmp missing?"
        torch.set_num_threads(1)
        assert kernels.threads_used(1000) == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_matches_reference_on_the_cifar_maps(kernels, dtype):
    # 8x8 and 32x32 planes: flat spans copied in whole 64-byte steps, in steps with an
    # overlapping last one, and in 16-byte steps (a 3-row map of a shift by two rows).
    for shape, (kernel_size, dilation) in itertools.product(
            [(2, 18, 8, 8), (1, 20, 32, 32), (1, 9, 3, 8)], [(3, 1), (5, 1), (3, 2)]):
        x = sample(shape, dtype, "contiguous")
        for grouping in GROUPINGS:
            assert_bitwise_equal(shift(x, kernel_size, dilation, grouping),
                                 shift_reference(x, kernel_size, dilation, grouping))


def test_two_threads_splitting_planes_give_the_reference(kernels):
    # 3 * 19 * 61 rows split in two at no plane boundary; the chunks meet inside a plane.
    x = sample((3, 19, 61, 64), torch.float32, "contiguous")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert_bitwise_equal(shift(x, 3, 2), shift_reference(x, 3, 2))
    finally:
        torch.set_num_threads(before)


def test_autograd_records_only_when_a_gradient_is_wanted(kernels):
    x = torch.randn(1, 18, 4, 4)
    assert shift(x).grad_fn is None  # runs the kernel without the autograd Function
    assert shift(x.requires_grad_()).grad_fn is not None
    with torch.no_grad():
        assert shift(x).grad_fn is None


# --- adjoint and gradients ---------------------------------------------------------------------

@pytest.fixture(params=["kernel", "reference"])
def implementation(request, kernels, monkeypatch):
    """Run a test through the compiled kernel and through the pure-PyTorch fallback."""
    if request.param == "reference":
        monkeypatch.setitem(shift_module._EXTENSIONS, "cpu", None)
    return request.param


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_adjoint_identity(implementation, grouping):
    # Small integers in float64 make both inner products exact, so equality is exact too.
    for shape, (kernel_size, dilation) in itertools.product(SHAPES[:4], OPTIONS):
        x = torch.randint(-9, 10, shape, dtype=torch.float64)
        y = torch.randint(-9, 10, shape, dtype=torch.float64)
        forward = (shift(x, kernel_size, dilation, grouping) * y).sum()
        adjoint = (x * shift_adjoint(y, kernel_size, dilation, grouping)).sum()
        assert forward.item() == adjoint.item()


def test_backward_is_the_adjoint_shift(implementation):
    x = torch.randn(2, 19, 6, 7, requires_grad=True)
    grad = torch.randn(2, 19, 6, 7)
    shift(x, 3, 2, "contiguous").backward(grad)
    assert torch.equal(x.grad, shift_adjoint(grad, 3, 2, "contiguous"))


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_gradcheck_float64(kernels, grouping):
    x = torch.randn(1, 10, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: shift(t, 3, 1, grouping), (x,))
    assert torch.autograd.gradgradcheck(lambda t: shift(t, 3, 1, grouping), (x,))


@GPU
def test_gradcheck_float64_on_gpu():
    x = torch.randn(2, 11, 4, 5, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: shift(t, 3, 2, "interleaved"), (x,))


def test_shift_layer_matches_function_and_has_no_parameters(kernels):
    layer = Shift(kernel_size=5, dilation=2, grouping="contiguous")
    x = torch.randn(2, 30, 8, 8)
    assert torch.equal(layer(x), shift(x, 5, 2, "contiguous"))
    assert list(layer.parameters()) == []
    assert "kernel_size=5" in repr(layer) and "contiguous" in repr(layer)


# --- building and falling back -----------------------------------------------------------------

def test_missing_compiler_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(shift_module, "_EXTENSIONS", {})
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    x = torch.randn(2, 10, 4, 4)
    with pytest.warns(ShiftFallbackWarning, match="no C.. compiler.*install"):
        out = shift(x)
    assert torch.equal(out, shift_reference(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shift(x)  # the warning is given once, not on every call
    with pytest.raises(ShiftBuildError, match="no C.. compiler"):
        build_extension("cpu")


def test_failed_compilation_falls_back_and_says_how_to_see_why(monkeypatch):
    from torch.utils import cpp_extension

    def broken_build(*args, **kwargs):
        raise RuntimeError("Error building extension 'cnnlab_shift_cpu'")

    monkeypatch.setattr(shift_module, "_EXTENSIONS", {})
    monkeypatch.setattr(cpp_extension, "load_inline", broken_build)
    x = torch.randn(1, 9, 3, 3, requires_grad=True)
    with pytest.warns(ShiftFallbackWarning, match=r"failed.*verbose=True"):
        out = shift(x)
    out.sum().backward()
    assert torch.equal(out, shift_reference(x))
    assert torch.equal(x.grad, shift_adjoint(torch.ones_like(x)))


@pytest.mark.slow
@pytest.mark.skipif(find_cuda_home() is None or torch.version.cuda is None or find_cxx() is None,
                    reason="needs a CUDA toolkit, a CUDA build of torch and a C++ compiler")
def test_cuda_source_compiles(monkeypatch, capsys):
    """Takes about 2.5 minutes on 2 cores the first time; torch caches the build afterwards."""
    monkeypatch.setattr(shift_module, "_EXTENSIONS", {})  # build (or load) here, not earlier
    module = build_extension("cuda")
    assert callable(module.shift_out)
    said = capsys.readouterr().out.splitlines()  # a long first build never runs in silence
    assert said[0].startswith("cnnlab.ops: building the cuda shift kernel")
    assert said[-1].startswith("cnnlab.ops: the cuda shift kernel is ready (")


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"kernel_size": 2}, ValueError, "kernel_size must be odd"),
    ({"kernel_size": 0}, ValueError, "kernel_size must be odd"),
    ({"kernel_size": 3.0}, TypeError, "kernel_size must be an int"),
    ({"dilation": 0}, ValueError, "dilation must be >= 1"),
    ({"grouping": "random"}, ValueError, "grouping must be one of"),
])
def test_bad_options_are_named(kwargs, error, match):
    x = torch.randn(1, 9, 3, 3)
    for call in (shift, shift_reference, shift_adjoint):
        with pytest.raises(error, match=match):
            call(x, **kwargs)
    with pytest.raises(error, match=match):
        Shift(**kwargs)


def test_options_checked_once_are_still_checked_by_type():
    x = torch.randn(1, 9, 3, 3)
    shift(x, 3, 1)  # valid options, remembered as checked
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        shift(x, 3.0, 1)  # equal to 3 and hashed like it, still refused
    with pytest.raises(TypeError, match="dilation must be an int"):
        shift(x, 3, True)
    with pytest.raises(ValueError, match="grouping must be one of"):
        shift(x, 3, 1, ["interleaved"])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="4-D.*unsqueeze"):
        shift(torch.randn(9, 3, 3))
    with pytest.raises(TypeError, match="dtype torch.int64 is not supported"):
        shift(torch.ones(1, 9, 3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        shift([[1.0]])
    with pytest.raises(ValueError, match="non-negative int"):
        displacements(-1)


def test_bad_out_is_named():
    x = torch.randn(1, 9, 3, 3)
    with pytest.raises(ValueError, match="out is on meta but x is on cpu"):
        shift(x, out=torch.empty_like(x, device="meta"))
    with pytest.raises(ValueError, match="shape"):
        shift(x, out=torch.empty(1, 9, 3, 4))
    with pytest.raises(TypeError, match="out.dtype"):
        shift(x, out=torch.empty_like(x, dtype=torch.float64))
    with pytest.raises(ValueError, match="shares memory"):
        shift(x, out=x)
    with pytest.raises(ValueError, match="cannot record gradients"):
        shift(x.requires_grad_(), out=torch.empty_like(x))
