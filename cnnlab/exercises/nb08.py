"""Notebook 08 (the shift kernel): the shift written with slicing, its backward (the adjoint
shift), and the two figures a benchmark row of a memory-bound operator is read by."""

import torch

from cnnlab.grading import Case, Exercise
from cnnlab.ops import shift_adjoint, shift_reference


def shift(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """The interleaved shift with dilation 1: the one grouping and spacing the exercise asks for."""
    return shift_reference(x, kernel_size, dilation=1, grouping="interleaved")


def shift_backward(grad: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """The gradient of :func:`shift` with respect to its input, given the output's gradient.

    Found by autograd through the slicing reference, so it checks the learner's adjoint (and
    the kernels' negated displacements) against a derivation that never negates anything.
    """
    x = torch.zeros_like(grad, requires_grad=True)
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(shift(x, kernel_size), x, grad_outputs=grad)
    return gradient


def memory_figures(seconds: float, nbytes: int, copy_seconds: float) -> tuple[float, float]:
    """(GB/s, times the copy floor) of an operator that reads an `nbytes` tensor once and writes
    one as large: the two figures a benchmark row of the shift is judged by."""
    return 2 * nbytes / seconds / 1e9, seconds / copy_seconds


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _numbered(*shape: int) -> torch.Tensor:
    """Values 1, 2, 3, ...: every pixel can be told apart, and 0 only ever means 'filled'."""
    return torch.arange(1.0, 1 + torch.Size(shape).numel()).view(shape)


_SHIFT_VISIBLE = [
    Case((_numbered(1, 9, 3, 3), 3),
         why="nine 3x3 channels, one per direction; channel 4 (the centre) stays put"),
    Case((_randn(2, 20, 4, 5, seed=1), 3),
         why="20 channels: c and c + 9 share a direction, the last 2 are left unshifted"),
    Case((_randn(1, 25, 5, 6, seed=2), 5), why="K = 5: 25 directions, up to two pixels away"),
]
_SHIFT_HIDDEN = [
    Case((_randn(3, 11, 6, 7, seed=3), 3), why="one channel per direction, two left over"),
    Case((_randn(1, 4, 3, 3, seed=4), 3), why="fewer channels than directions: nothing moves"),
    Case((_randn(2, 9, 1, 6, seed=5), 3), why="a single row: every vertical move empties a map"),
    Case((_randn(2, 10, 5, 1, seed=6), 3), why="a single column"),
    Case((_randn(1, 6, 4, 4, seed=7), 1), why="K = 1: one direction, the identity"),
    Case((_randn(2, 30, 3, 4, seed=8), 5), why="K = 5 on maps smaller than the reach"),
    Case((_numbered(1, 50, 2, 2), 3), why="tiny maps, 5 channels left over"),
]

_BENCH_BYTES = {"small": 1 * 64 * 28 * 28 * 4, "large": 32 * 64 * 64 * 64 * 4}  # float32

EXERCISES = [
    Exercise(
        id="08.shift",
        points=2,
        reference=shift,
        slips={"every displacement has the wrong sign": shift_adjoint},
        fallback=shift_reference,
        visible=_SHIFT_VISIBLE,
        hidden=_SHIFT_HIDDEN,
        hint=("Each channel is one picture moved by its own (dy, dx), zero-filled where it leaves the"
              " frame. Work one channel out by hand with (dy, dx) = (1, 0); then ask which channels "
              "take which direction, and what happens to the channels left over.",
              "Start from out = torch.zeros_like(x). Direction d = 0 .. K*K-1 has (dy, dx) = (d // K "
              "- K // 2, d % K - K // 2); with interleaving, channel c takes direction c % (K*K), but"
              " only for c < (C // (K*K)) * (K*K): the rest stay as they are. The channels of "
              "direction d are the slice d : used : K*K. Then out[..., y, x] = x[..., y + dy, x + dx]"
              " where that pixel exists: along one axis of length n with offset d, out[max(-d, 0) : n"
              " - max(d, 0)] = in[max(d, 0) : n - max(-d, 0)] (clip d to [-n, n] first). Check a "
              "channel by hand: with (dy, dx) = (1, 0) the picture moves one row up and the bottom "
              "row fills with zeros."),
    ),
    Exercise(
        id="08.shift_backward",
        points=1,
        reference=shift_backward,
        slips={"the gradient is shifted forward (the displacements keep their sign)": shift_reference},
        fallback=shift_adjoint,
        visible=_SHIFT_VISIBLE[:2],
        hidden=_SHIFT_VISIBLE[2:] + _SHIFT_HIDDEN,
        hint=("The shift copies input pixel (y + dy, x + dx) to output pixel (y, x), so the gradient "
              "flows back from output (y, x) to input (y + dy, x + dx): the same copy in the other "
              "direction.",
              "That is a shift with every displacement negated, (-dy, -dx), zero-filled where the "
              "source falls outside, and the same channels left alone. Reuse your forward's logic "
              "with the sign flipped; do not call autograd."),
    ),
    Exercise(
        id="08.memory_figures",
        points=1,
        reference=memory_figures,
        slips={"the traffic counts each byte once (it is read and written)":
               lambda seconds, nbytes, copy: (nbytes / seconds / 1e9, seconds / copy)},
        fallback="bench_shift:memory_figures",
        visible=[
            Case((3.1e-3, _BENCH_BYTES["large"], 3.6e-3),
                 why="a 33.6 MB tensor in 3.1 ms, a little faster than the copy"),
            Case((20e-6, _BENCH_BYTES["small"], 9e-6),
                 why="a 200 kB tensor: fixed costs make the kernel twice as slow as copy_"),
        ],
        hidden=[
            Case((0.25, 10**9, 0.2), why="1 GB read and 1 GB written in a quarter second"),
            Case((68e-3, _BENCH_BYTES["large"], 3.6e-3),
                 why="the one-hot depthwise conv: nineteen copies' time"),
            Case((1.0, 2**30, 1.0), why="1 GiB is not 1 GB: GB/s here means 10^9 bytes/s"),
            Case((4e-4, 8 * 64 * 64 * 64 * 2, 5e-4), why="a float16 tensor of 4 MB"),
        ],
        hint=("How many bytes does a pass that reads a tensor and writes a tensor of the same size "
              "move? And what is the copy floor measured against?",
              "An operator that moves a tensor reads all of its `nbytes` and writes as many again, so"
              " the traffic is 2 * nbytes; GB/s divides it by the time and by 10^9 (not 2^30). 'Times"
              " the copy floor' is this operator's time over the time of copy_ on the same tensor: "
              "1.0 means as fast as memory allows, 2.0 twice as slow. Return the pair (GB/s, times "
              "copy)."),
    ),
]
