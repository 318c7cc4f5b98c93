"""Notebook 05 (ResNet): a basic block with a projection shortcut, a bottleneck width that
matches a basic block's parameters, a full pre-activation block, and which orderings keep a
clean identity path."""

import torch

from cnnlab.arithmetic import params_bottleneck, params_residual
from cnnlab.grading import Case, Exercise, unanswered
from cnnlab.layers import ORDERINGS, ResidualBlock


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def matching_mid_width(channels: int, kernel_size: int = 3) -> int:
    """The largest middle width m whose bottleneck M -> m -> m -> M (eq. 4.7, m(2M + m K^2))
    has no more parameters than a basic block M -> M -> M (eq. 4.5, 2 K^2 M M)."""
    budget = params_residual(channels, channels, kernel_size)
    m = 1
    while params_bottleneck(channels, m + 1, kernel_size) <= budget:
        m += 1
    return m


def keeps_identity_path(ordering: str) -> bool:
    """True when the ordering puts nothing after the sum, so a block's input reaches its
    output through the shortcut and the addition alone."""
    return not ORDERINGS[ordering].after_add


def preact_block(in_channels: int, out_channels: int, stride: int = 1) -> ResidualBlock:
    """The full pre-activation block (He et al. 2016, fig. 4e): BN -> ReLU -> conv, twice."""
    return ResidualBlock(in_channels, out_channels, stride, ordering="preact")

EXERCISES = [
    Exercise(
        id="05.BasicBlock",
        points=2,
        reference=ResidualBlock,
        probe="module_output",
        visible=[
            Case(((8, 16, 2), {}, _randn(2, 8, 8, 8, seed=1)),
                 why="stride 2 and twice the channels: the shortcut must project"),
            Case(((4, 4), {}, _randn(1, 4, 6, 6, seed=2)),
                 why="same shape in and out: the identity shortcut, no extra parameters"),
        ],
        hidden=[
            Case(((3, 8), {}, _randn(2, 3, 5, 5, seed=3)),
                 why="more channels at stride 1: a 1x1 projection, no subsampling"),
            Case(((6, 6, 2), {}, _randn(1, 6, 7, 7, seed=4)),
                 why="same channels at stride 2 on an odd map: still a projection"),
            Case(((16, 8, 2), {}, _randn(1, 16, 8, 8, seed=5)), why="fewer outputs than inputs"),
            Case(((5, 5, 1), {}, _randn(3, 5, 4, 4, seed=6)), why="identity, a batch of three"),
        ],
        hint=("Start from the 'original' sketch of section 1: which boxes sit on the branch, and what"
              " comes after the '+'? Then ask whether x already has the output's shape.",
              "In detail: two 3x3 convs without bias (a BatchNorm2d does the shifting), conv (stride,"
              " padding 1) -> BN -> ReLU -> conv (padding 1) -> BN, add the shortcut, then a last "
              "ReLU. Stride 1 and equal channels: add x itself; otherwise a 1x1 conv (no bias) "
              "carrying the stride, then a BatchNorm2d."),
    ),
    Exercise(
        id="05.matching_mid_width",
        points=1,
        reference=matching_mid_width,
        uses=[Case((64,))],
        visible=[
            Case((64,), why="a 64-channel stage with 3x3 kernels"),
            Case((16, 3), why="ResNet20's first stage"),
            Case((256, 1), why="1x1 'kernels': the middle conv costs no more than the others"),
        ],
        hidden=[
            Case((1,), why="a single channel"),
            Case((512, 3), why="ResNet-18's last stage"),
            Case((100, 5), why="a 5x5 middle conv"),
            Case((37, 3), why="a width that is not a power of two"),
            Case((2048, 7), why="a wide stage with 7x7 kernels"),
        ],
        hint=("The basic block's count is a fixed budget; the bottleneck's grows with m. Which m is "
              "the last whole one inside the budget?",
              "With M and K fixed: budget 2 K^2 M^2, cost m (2M + m K^2). Either step m up from 1 "
              "until the next one would cost too much, or solve K^2 m^2 + 2M m - 2K^2 M^2 = 0 and "
              "round the positive root down, returning an int, not a float."),
    ),
    Exercise(
        id="05.PreActBlock",
        points=2,
        reference=preact_block,
        probe="module_output",
        visible=[
            Case(((8, 8), {}, _randn(2, 8, 6, 6, seed=7)),
                 why="same shape: the input is added untouched"),
            Case(((4, 8, 2), {}, _randn(1, 4, 8, 8, seed=8)),
                 why="stride 2 and more channels: a projection shortcut"),
        ],
        hidden=[
            Case(((6, 6, 2), {}, _randn(1, 6, 7, 7, seed=9)), why="stride 2 on an odd map"),
            Case(((3, 5), {}, _randn(2, 3, 5, 5, seed=10)), why="more channels at stride 1"),
            Case(((12, 12, 1), {}, _randn(1, 12, 4, 4, seed=11)), why="identity, 12 channels"),
        ],
        hint=("Compare the 'preact' and 'original' sketches: what moved, and what is left after the "
              "'+'?",
              "Every unit of the branch becomes BN -> ReLU -> conv: the batch norm and the ReLU move "
              "in front of each 3x3 conv (the first carries the stride, both have padding 1 and no "
              "bias). The sum is the last thing the block does: nothing after it. The shortcut sees x"
              " itself, as in the basic block: identity when the shape is unchanged, else a strided "
              "1x1 conv followed by a BatchNorm2d."),
    ),
    Exercise(
        id="05.keeps_identity_path",
        points=1,
        reference=keeps_identity_path,
        fallback=unanswered,
        visible=[
            Case(("original",), why="(a) the block as first published"),
            Case(("preact",), why="(e) full pre-activation"),
        ],
        hidden=[
            Case(("bn_after_add",), why="(b) BN after the addition"),
            Case(("relu_before_add",), why="(c) ReLU before the addition"),
            Case(("relu_preact",), why="(d) ReLU-only pre-activation"),
        ],
        hint=("Follow x, not the branch: start at the block's input, take the shortcut, reach the "
              "'+', and ask what stands between the '+' and the block's output.",
              "What the branch does before the sum does not matter here. The after_add column of the "
              "table above lists exactly that."),
    ),
]
