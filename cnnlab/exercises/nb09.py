"""Notebook 09 (optimized networks): the parameters of a ResNet-Shift block, the width rate that
meets a parameter budget, and a variant chosen from a latency table the learner measured."""

from cnnlab.grading import Case, Exercise, unanswered
from cnnlab.layers import make_divisible


def shift_block_params(in_channels: int, out_channels: int, projection: bool) -> int:
    """A block of the dissertation's ResNet-Shift: 1x1 in -> out + BN, shift, 1x1 out -> out +
    BN (eq. 4.9 with m = N, plus the norms), and a 1x1 + BN projection shortcut if there is one."""
    branch = in_channels * out_channels + out_channels * out_channels + 2 * (2 * out_channels)
    return branch + (in_channels * out_channels + 2 * out_channels if projection else 0)


def shift_net_params(depth: int, width: float) -> int:
    """ResNet{depth}-Shift (CIFAR-10) with every width int(w x width), counted from the blocks:
    stem 3x3 conv + BN, three stages of shift blocks (the first of each projects), linear head."""
    a, b, c = (make_divisible(w * width) for w in (16, 32, 64))
    repeats = (depth - 2) // 6 - 1
    stages = sum(shift_block_params(i, o, True) + repeats * shift_block_params(o, o, False)
                 for i, o in ((a, a), (a, b), (b, c)))
    return 27 * a + 2 * a + stages + 10 * c + 10


def shift_rate_for_budget(depth: int, target: int) -> float:
    """The rate r (2 decimals) of ResNet{depth}-Shift-r whose count is closest to ``target``, as
    :func:`cnnlab.models.resnet.rate_for_params` finds it, but counted without building a net."""
    def count(step: int) -> int:
        return shift_net_params(depth, 100 / step)

    lo, hi = 1, 6400  # hundredths: count(lo) >= target >= count(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) > target else (lo, mid)
    best = min((abs(count(step) - target), step) for step in (lo, hi))[1]
    while best > 1 and count(best - 1) == count(best):
        best -= 1
    return best / 100


def choose_variant(table: list, max_ms: float) -> str | None:
    """The network with the fewest parameters whose CPU mean + std latency is within ``max_ms``
    (the faster of two equal counts); None when none is."""
    fits = [row for row in table if row["cpu_ms"][0] + row["cpu_ms"][1] <= max_ms]
    if not fits:
        return None
    return min(fits, key=lambda row: (row["params"], row["cpu_ms"][0]))["network"]


def _no_norms(in_channels, out_channels, projection):
    return in_channels * out_channels * (2 if projection else 1) + out_channels * out_channels


def _no_projection(in_channels, out_channels, projection):
    return shift_block_params(in_channels, out_channels, False)


def _width_not_rate(depth, target):
    return round(1 / shift_rate_for_budget(depth, target), 2)


def _mean_only(table, max_ms):
    fits = [row for row in table if row["cpu_ms"][0] <= max_ms]
    return min(fits, key=lambda row: (row["params"], row["cpu_ms"][0]))["network"] if fits else None


def _fastest(table, max_ms):
    fits = [row for row in table if row["cpu_ms"][0] + row["cpu_ms"][1] <= max_ms]
    return min(fits, key=lambda row: row["cpu_ms"][0])["network"] if fits else None


def _row(network: str, params: int, mean: float, std: float) -> dict:
    return {"network": network, "params": params, "cpu_ms": (mean, std)}


# Visible: a made-up table where each rule picks a different net. Hidden: other tables, among
# them seed 002's own CPU column (table 3, an i7-7700K with the shift on a GPU).
_TOY = [_row("Base", 270_000, 3.0, 0.1), _row("Base-DSC", 40_000, 5.0, 0.2),
        _row("Base-Shift", 35_000, 2.4, 0.3), _row("Base-Shuffle", 25_000, 2.6, 0.5)]
_SEED_TABLE_3 = [_row("ResNet20", 272_762, 2.94, 0.1), _row("ResNet20-DSC", 40_810, 5.28, 0.06),
                 _row("ResNet20-Shift", 35_194, 2.07, 0.11),
                 _row("ResNet20-Shuffle", 24_682, 2.61, 0.09),
                 _row("ResNet56", 856_058, 8.01, 0.1), _row("ResNet56-Shift", 102_394, 5.19, 0.11)]
_TIE = [_row("A", 1_000, 1.0, 0.0), _row("B", 1_000, 0.8, 0.1), _row("C", 5_000, 0.5, 0.0)]

EXERCISES = [
    Exercise(
        id="09.shift_block_params",
        points=2,
        reference=shift_block_params,
        uses=[Case((16, 16, True)), Case((16, 16, False)), Case((16, 32, True)),
              Case((32, 32, False)), Case((32, 64, True)), Case((64, 64, False))],
        visible=[
            Case((16, 16, False), why="a block inside stage 1: same widths, identity shortcut"),
            Case((16, 32, True), why="the first block of stage 2: wider, with a projection"),
        ],
        hidden=[
            Case((8, 8, False), why="a narrow block, identity shortcut"),
            Case((24, 48, True), why="a width that doubles, with a projection"),
            Case((64, 64, True), why="a projection although the widths agree (stage 1's rule)"),
            Case((3, 16, True), why="three input channels: the two 1x1s differ in size"),
            Case((100, 100, False), why="wide, identity shortcut"),
        ],
        hint=("Walk the block in the sketch: which layers carry weights, and how many values does "
              "each hold? The shift itself only moves values; a batch norm has a scale and a shift "
              "per channel.",
              "Eq. 4.9 (2 m M) counts only the two 1x1 weights with M = N = m. Here the first 1x1 "
              "is in x out and the second out x out; add 2 x out for each of the two batch norms, "
              "and, with a projection, in x out weights and 2 x out norm values more."),
        slips={"only eq. 4.9's weights, no batch norms": _no_norms,
               "the projection shortcut left out": _no_projection},
    ),
    Exercise(
        id="09.shift_rate_for_budget",
        points=2,
        reference=shift_rate_for_budget,
        uses=[Case((20, 272_762))],
        visible=[
            Case((20, 272_762), why="ResNet20-Shift grown to ResNet20's size (table 5)"),
            Case((20, 100_000), why="ResNet20-Shift at a budget of 100,000"),
        ],
        hidden=[
            Case((56, 856_058), why="ResNet56-Shift grown to ResNet56's size (table 5)"),
            Case((20, 60_000), why="ResNet20-Shift at a budget of 60,000"),
            Case((20, 500_000), why="a budget far above ResNet20's"),
        ],
        hint=("The rate divides every width, so a larger rate never adds a parameter: the count "
              "falls as r grows. Count a net from exercise 1's blocks, then ask where the count "
              "crosses the target on a grid of 0.01.",
              "Widths int(16 / r), int(32 / r), int(64 / r); the stem is 27 a + 2 a, each stage "
              "one projecting block and (depth - 2) / 6 - 1 plain ones, the head 10 c + 10. "
              "Bisect over r = 0.01, 0.02, ... (64 at most); of "
              "the two grid rates around the target return the closer (the smaller on a tie; "
              "of rates that build the same widths, the smallest), as a float such as 0.35, not "
              "the width 1 / r."),
        slips={"the width multiplier 1 / r instead of the rate": _width_not_rate},
    ),
    Exercise(
        id="09.choose_variant",
        points=2,
        reference=choose_variant,
        fallback=unanswered,
        visible=[
            Case((_TOY, 3.0), why="counting the spread, only -Shift meets this budget"),
            Case((_TOY, 3.2), why="a looser budget: the base net and -Shuffle fit too, -Shuffle smallest"),
            Case((_TOY, 1.0), why="a budget no net meets"),
        ],
        hidden=[
            Case((_SEED_TABLE_3, 2.94), why="seed 002's CPU column, ResNet20's mean as budget"),
            Case((_SEED_TABLE_3, 6.0), why="seed 002's CPU column, a budget most nets meet"),
            Case((_SEED_TABLE_3, 2.0), why="seed 002's CPU column, a budget none meets"),
            Case((_TIE, 1.0), why="two nets of equal size: the faster one"),
            Case((_TIE, 0.85), why="the smallest net misses the budget by its spread"),
        ],
        hint=("Filter first, then choose: which nets meet the budget even on a slow run, and of "
              "those, which one is smallest? Say so when none is.",
              "A net fits when mean + std <= max_ms (row['cpu_ms'] is (mean, std)); among the "
              "fits take the fewest row['params'], the smaller mean on a tie, and return its "
              "row['network']; return None when nothing fits."),
        slips={"the spread ignored (mean only)": _mean_only,
               "the fastest net instead of the smallest": _fastest},
    ),
]
