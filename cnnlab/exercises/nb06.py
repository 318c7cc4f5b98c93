"""Notebook 06 (SqueezeNet): a fire module, the squeeze width that meets a parameter budget, and
where to put a pool so that a stack of fire modules meets an activation-memory budget."""

import torch

from cnnlab.arithmetic import params_fire
from cnnlab.grading import Case, Exercise
from cnnlab.layers import FireModule


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def squeeze_for_budget(in_channels: int, out_channels: int, budget: int,
                       kernel_size: int = 3) -> int:
    """The largest squeeze width s whose fire module M -> s -> (N/2 1x1 + N/2 KxK) has at most
    ``budget`` weights by eq. 4.1 (0 when not even s = 1 fits)."""
    s = 0
    while params_fire(in_channels, s + 1, out_channels, kernel_size) <= budget:
        s += 1
    return s


def pooled_activations(in_channels: int, channels: list, size: int, position: int) -> int:
    """Elements written by fires of widths ``channels`` on a ``size`` map with one 2x2 stride-2
    pool after the first ``position`` of them: every fire's output and the pool's."""
    pooled = size // 2
    total = (in_channels if position == 0 else channels[position - 1]) * pooled**2
    for index, width in enumerate(channels):
        total += width * (size if index < position else pooled) ** 2
    return total


def pool_position(in_channels: int, channels: list, size: int, budget: int) -> int | None:
    """The latest pool position (0 = before the first fire, len(channels) = after the last)
    whose activations stay within ``budget`` elements; None when no position does."""
    fits = [p for p in range(len(channels) + 1)
            if pooled_activations(in_channels, channels, size, p) <= budget]
    return max(fits) if fits else None


def _squeeze_one_branch(in_channels, out_channels, budget, kernel_size=3):
    """Counts both expand branches as N wide (N + K^2 N per squeeze channel), not N/2 each."""
    return budget // (in_channels + out_channels + kernel_size**2 * out_channels)


def _pool_forgets_pool_output(in_channels, channels, size, budget):
    """Leaves the pool's own output out of the total."""
    pooled = size // 2
    fits = [p for p in range(len(channels) + 1)
            if sum(w * (size if i < p else pooled) ** 2 for i, w in enumerate(channels)) <= budget]
    return max(fits) if fits else None


def _pool_earliest(in_channels, channels, size, budget):
    """Returns the earliest position that fits: the pool goes first whenever anything fits."""
    fits = [p for p in range(len(channels) + 1)
            if pooled_activations(in_channels, channels, size, p) <= budget]
    return min(fits) if fits else None


CIFAR_FIRES = [128, 128, 256, 256, 384, 384, 512, 512]  # SqueezeNet 1.0's fire outputs

EXERCISES = [
    Exercise(
        id="06.Fire",
        points=2,
        reference=FireModule,
        probe="module_output",
        visible=[
            Case(((96, 16, 64, 64), {}, _randn(2, 96, 8, 8, seed=1)),
                 why="fire2 of SqueezeNet 1.0: 96 maps in, 128 out"),
            Case(((8, 2, 3, 5), {}, _randn(1, 8, 5, 5, seed=2)),
                 why="expand branches of different widths (3 + 5 maps)"),
        ],
        hidden=[
            Case(((512, 64, 256, 256), {}, _randn(1, 512, 3, 3, seed=3)),
                 why="fire9: 512 maps in and out"),
            Case(((4, 6, 2, 2), {}, _randn(2, 4, 4, 4, seed=4)),
                 why="a squeeze wider than the input"),
            Case(((3, 1, 1, 7), {}, _randn(1, 3, 6, 6, seed=5)),
                 why="a single squeeze channel, an odd map, a wide 3x3 half"),
            Case(((16, 4, 8, 8), {}, _randn(3, 16, 1, 1, seed=6)),
                 why="a 1x1 map: the 3x3 branch sees only its padding around one pixel"),
        ],
        hint=("Draw the data flow first: one 1x1 squeeze, then two branches that both read the "
              "squeezed maps, joined along the channels. Which of the two needs padding, and why?",
              "squeeze: 1x1 conv M -> s (no bias), BatchNorm2d(s), ReLU. expand: a 1x1 conv s -> e1 "
              "and a 3x3 conv s -> e3 with padding=1 (no bias), each followed by its own "
              "BatchNorm2d and ReLU; return torch.cat([e1 branch, e3 branch], dim=1), 1x1 first."),
    ),
    Exercise(
        id="06.squeeze_for_budget",
        points=1,
        reference=squeeze_for_budget,
        uses=[Case((512, 512, 50_000))],
        visible=[
            Case((96, 128, 12_000), why="fire2's widths, a budget just above its 11,776 weights"),
            Case((256, 256, 20_000), why="a 256-channel fire, a tight budget"),
        ],
        hidden=[
            Case((512, 512, 196_608), why="exactly fire9's weights: the budget itself is allowed"),
            Case((512, 512, 196_607), why="one weight below fire9's: one squeeze channel less"),
            Case((64, 128, 100), why="a budget too small for even one squeeze channel"),
            Case((128, 256, 30_000, 1), why="1x1 'kernels' in the expand: both halves cost alike"),
            Case((100, 50, 7_777, 5), why="5x5 expand kernels and widths that are not powers of 2"),
        ],
        hint=("Every squeeze channel you add costs the same number of weights: its share of the "
              "squeeze conv and of both expand convs. What is that cost per channel?",
              "By eq. 4.1 one squeeze channel costs M + N/2 + K^2 N/2 weights, so s is the budget "
              "divided by that, rounded down to a whole width (an int, not a float), or found by "
              "stepping s up while params_fire(M, s + 1, N, K) stays within the budget."),
        slips={"both expand branches counted N wide": _squeeze_one_branch},
    ),
    Exercise(
        id="06.pool_position",
        points=2,
        reference=pool_position,
        uses=[Case((96, CIFAR_FIRES, 16, 500_000))],
        visible=[
            Case((96, CIFAR_FIRES, 16, 300_000), why="SqueezeNet 1.0's fires on a 16x16 map"),
            Case((4, [8, 8, 16], 8, 1_000), why="three small fires on an 8x8 map"),
        ],
        hidden=[
            Case((4, [8, 8, 16], 8, 100), why="a budget no position meets"),
            Case((4, [8, 8, 16], 8, 10_000), why="a budget that lets the pool go last"),
            Case((3, [6, 10], 7, 700), why="an odd map: the pool floors 7 to 3"),
            Case((96, CIFAR_FIRES, 32, 1_200_000), why="SqueezeNet 1.0's fires on a 32x32 map"),
            Case((64, [32, 32], 4, 600), why="only pooling first fits: the input's channels pooled"),
        ],
        hint=("Later pooling keeps maps large for longer, which is what strategy 3 wants, and "
              "costs memory. Try every position and add up what each layer writes; which "
              "positions fit, and which of those is the latest?",
              "For position p: fires 0..p-1 write width x size^2, the pool writes (the width "
              "before it, in_channels when p = 0) x (size // 2)^2, the remaining fires write "
              "width x (size // 2)^2. Return the largest p in 0..len(channels) whose sum is within "
              "the budget, or None when none is."),
        slips={"the pool's own output left out": _pool_forgets_pool_output,
               "the earliest position that fits, not the latest": _pool_earliest},
    ),
]
