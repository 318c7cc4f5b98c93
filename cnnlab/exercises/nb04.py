"""Notebook 04 (Inception): the 1x1 reductions that fit a MAC budget, Inception-E's factorised
branch, the smallest n for which n x n -> 1 x n + n x 1 saves a target share, and the loss that
combines GoogLeNet's auxiliary heads."""

import torch
import torch.nn.functional as F

from cnnlab.grading import Case, Exercise
from cnnlab.layers.inception import factorised_branch
from cnnlab.models.googlenet import inception_loss


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _labels(count: int, classes: int, seed: int) -> torch.Tensor:
    return torch.randint(classes, (count,), generator=torch.Generator().manual_seed(seed))


def reduction_width(in_channels: int, size: int, ch1x1: int, ch3x3: int, ch5x5: int,
                    pool_proj: int, budget: int) -> int:
    """The largest r such that the module with both reductions at r (1x1 -> r before the 3x3
    and before the 5x5) costs at most ``budget`` convolution MACs on a size x size map."""
    fixed = in_channels * (ch1x1 + pool_proj)  # per pixel, whatever r is
    per_r = 2 * in_channels + 9 * ch3x3 + 25 * ch5x5  # two 1x1 reductions, the 3x3, the 5x5
    r = (budget // (size * size) - fixed) // per_r
    if r < 1:
        raise ValueError("the budget does not cover even r = 1")
    return r


def _reduction_rounded(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    per_r = 2 * in_channels + 9 * ch3x3 + 25 * ch5x5
    return round((budget / size**2 - in_channels * (ch1x1 + pool_proj)) / per_r)


def _reduction_without_pool_proj(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    return reduction_width(in_channels, size, ch1x1, ch3x3, ch5x5, 0, budget)


def _reduction_one_reduction(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    per_r = in_channels + 9 * ch3x3 + 25 * ch5x5
    return (budget // size**2 - in_channels * (ch1x1 + pool_proj)) // per_r


def _saving(n: int, in_channels: int, mid_channels: int, out_channels: int) -> float:
    return 1 - mid_channels * (in_channels + out_channels) / (n * in_channels * out_channels)


def smallest_factorised_n(target: float, in_channels: int, mid_channels: int,
                          out_channels: int) -> int:
    """The smallest kernel size n >= 2 for which in -> (1 x n) -> mid -> (n x 1) -> out costs a
    share of the weights of one n x n conv in -> out that is smaller by more than ``target``."""
    if not 0 < target < 1:
        raise ValueError("target is a share between 0 and 1")
    n = 2
    while not _saving(n, in_channels, mid_channels, out_channels) > target:
        n += 1
    return n


def _smallest_n_at_least(target, in_channels, mid_channels, out_channels):
    n = 2
    while _saving(n, in_channels, mid_channels, out_channels) < target:
        n += 1
    return n


def _smallest_n_mid_ignored(target, in_channels, mid_channels, out_channels):
    return smallest_factorised_n(target, in_channels, in_channels, in_channels)


def combined_loss(outputs, target: torch.Tensor, weights=(1.0, 0.3),
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """``w_main * CE(main) + w_aux * sum of CE(aux_i)``; ``outputs`` is (main logits, list of
    auxiliary logits), smoothing applied to every term."""
    logits, aux = outputs
    main_weight, aux_weight = weights
    total = main_weight * F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    for head in aux:
        total = total + aux_weight * F.cross_entropy(head, target, label_smoothing=label_smoothing)
    return total


def _loss_mean_of_heads(outputs, target, weights=(1.0, 0.3), label_smoothing=0.0):
    logits, aux = outputs
    main = F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    if not aux:
        return weights[0] * main
    heads = sum(F.cross_entropy(a, target, label_smoothing=label_smoothing) for a in aux)
    return weights[0] * main + weights[1] * heads / len(aux)


def _loss_smoothing_main_only(outputs, target, weights=(1.0, 0.3), label_smoothing=0.0):
    logits, aux = outputs
    total = weights[0] * F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    for head in aux:
        total = total + weights[1] * F.cross_entropy(head, target)
    return total


def _outputs(batch: int, classes: int, heads: int, seed: int) -> tuple:
    return (_randn(batch, classes, seed=seed),
            [_randn(batch, classes, seed=seed + 10 * (h + 1)) for h in range(heads)])


EXERCISES = [
    Exercise(
        id="04.reduction_width",
        points=2,
        reference=reduction_width,
        uses=[Case((256, 28, 128, 192, 96, 64, 300_000_000))],
        visible=[
            Case((256, 28, 128, 192, 96, 64, 271_351_808),
                 why="notebook 01's bottleneck module: its own cost is the budget"),
            Case((192, 28, 64, 128, 32, 32, 120_000_000), why="GoogLeNet's 3a widths"),
        ],
        hidden=[
            Case((480, 14, 192, 208, 48, 64, 80_000_000), why="4a's widths on the 14x14 grid"),
            Case((832, 7, 384, 384, 128, 128, 40_000_000), why="5b's widths on the 7x7 grid"),
            Case((64, 32, 16, 32, 8, 8, 10_000_000), why="a small module on a 32x32 CIFAR map"),
            Case((256, 28, 128, 192, 96, 64, 271_351_807),
                 why="one MAC under notebook 01's cost: r must drop"),
        ],
        hint=("Write the module's convolution MACs as a function of r: which terms grow with r "
              "and which do not depend on it at all? The pool branch still costs something.",
              "Per pixel: M * (ch1x1 + pool_proj) fixed, plus r * (2M + 9 ch3x3 + 25 ch5x5) (two "
              "1x1 reductions M -> r, the 3x3 r -> ch3x3, the 5x5 r -> ch5x5). Multiply by size^2,"
              " solve for r and round down with integer division: an int, never a float."),
        slips={"rounded to the nearest width, which can go over the budget": _reduction_rounded,
               "the pool branch's 1x1 projection is left out": _reduction_without_pool_proj,
               "only one 1x1 reduction is counted": _reduction_one_reduction},
    ),
    Exercise(
        id="04.FactorisedBranch",
        points=2,
        reference=factorised_branch,
        probe="module_output",
        visible=[
            Case(((16, 8, 12), {}, _randn(2, 16, 8, 8, seed=1)),
                 why="16 -> 8 -> 8 -> 12 on an 8x8 map"),
            Case(((4, 4, 4), {}, _randn(1, 4, 5, 5, seed=2)), why="equal widths, an odd map"),
        ],
        hidden=[
            Case(((32, 16, 48), {}, _randn(1, 32, 6, 6, seed=3)), why="3a's 5x5 branch, narrower"),
            Case(((8, 2, 3), {}, _randn(2, 8, 3, 3, seed=4)), why="a 3x3 map: padding keeps it"),
            Case(((6, 12, 6), {}, _randn(1, 6, 7, 7, seed=5)),
                 why="a middle wider than the input"),
        ],
        hint=("The branch replaces one 5x5 by two 3x3 that together see the same 5x5 field; the "
              "map must keep its size, and the 1x1 in front still narrows the input. Where does "
              "the width grow to out_channels: at the first 3x3 or the last?",
              "nn.Sequential of three units conv -> BatchNorm2d -> ReLU, convs without bias: 1x1 "
              "in -> mid, 3x3 mid -> mid (padding 1), 3x3 mid -> out (padding 1). Widening at the "
              "first 3x3 (mid -> out -> out) costs more than it saves."),
    ),
    Exercise(
        id="04.smallest_factorised_n",
        points=1,
        reference=smallest_factorised_n,
        uses=[Case((0.5, 192, 192, 192))],
        visible=[
            Case((0.3, 64, 64, 64), why="equal widths, a 30% target"),
            Case((0.55, 32, 32, 32), why="equal widths, more than half"),
        ],
        hidden=[
            Case((0.7, 64, 64, 64), why="equal widths, v3's 7x7 territory"),
            Case((0.5, 128, 64, 256), why="a narrow middle saves at once"),
            Case((0.8, 160, 160, 192), why="v3's Mixed_6 widths (160 -> 160 -> 192)"),
            Case((0.2, 48, 96, 48), why="a middle twice as wide as the ends"),
            Case((0.5, 64, 64, 64), why="n = 4 saves exactly half: not more than the target"),
        ],
        hint=("Count weights per n x n conv (n^2 in out) and for the pair (n in mid + n mid out): "
              "the share saved is 1 minus their ratio. How does it change as n grows?",
              "Saving(n) = 1 - mid (in + out) / (n in out). Try n = 2, 3, ... and return the first "
              "n whose saving is strictly more than the target (an int)."),
        slips={"'at least' instead of 'more than' the target": _smallest_n_at_least,
               "the middle width is taken equal to the input's": _smallest_n_mid_ignored},
    ),
    Exercise(
        id="04.combined_loss",
        points=2,
        reference=combined_loss,
        fallback=inception_loss,
        visible=[
            Case((_outputs(6, 10, 2, seed=1), _labels(6, 10, seed=2)),
                 why="two heads, the paper's weights"),
            Case((_outputs(4, 5, 1, seed=3), _labels(4, 5, seed=4), (0.7, 0.3)),
                 why="seed 003's 0.7 / 0.3 with one head"),
        ],
        hidden=[
            Case((_outputs(5, 10, 2, seed=5), _labels(5, 10, seed=6), (0.7, 0.3)),
                 why="seed 003's weights on GoogLeNet's two heads (weights sum to 1.3)"),
            Case((_outputs(3, 4, 0, seed=7), _labels(3, 4, seed=8), (0.5, 0.3)),
                 why="no heads (eval mode): the weighted main loss alone"),
            Case((_outputs(8, 10, 2, seed=9), _labels(8, 10, seed=10)), {"label_smoothing": 0.1},
                 why="label smoothing passed to every term"),
        ],
        hint=("The main head and each auxiliary head see the same labels: one cross-entropy per "
              "head, then a weighted sum. Is each auxiliary loss added, or their mean?",
              "total = w_main * CE(logits) + w_aux * (CE(aux_1) + CE(aux_2) + ...), with "
              "F.cross_entropy(..., label_smoothing=label_smoothing) for every term, main and "
              "auxiliary alike; return the tensor so that it can be backpropagated."),
        slips={"the auxiliary losses are averaged, not summed": _loss_mean_of_heads,
               "label smoothing only on the main head": _loss_smoothing_main_only},
    ),
]
