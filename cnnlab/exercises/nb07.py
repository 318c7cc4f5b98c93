"""Notebook 07 (efficient blocks): channel shuffle, a depthwise-separable block, and predicting
from compute-to-memory ratios which of two layers should run faster."""

import torch

from cnnlab.arithmetic import same_conv2d
from cnnlab.grading import Case, Exercise, unanswered
from cnnlab.layers import DepthwiseSeparable, channel_shuffle


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _numbered(channels: int) -> torch.Tensor:
    """One image whose channel c holds the value c, so the output shows the new channel order."""
    return torch.arange(float(channels)).view(1, channels, 1, 1)


def _conv(in_channels: int, out_channels: int, size: int, kernel_size: int,
          groups: int = 1) -> dict[str, int]:
    return {"in_channels": in_channels, "out_channels": out_channels, "size": size,
            "kernel_size": kernel_size, "groups": groups}


def higher_ratio(first: dict[str, int], second: dict[str, int]) -> str:
    """``"first"`` or ``"second"``: the "same" convolution with the higher compute-to-memory
    ratio R (MACs per value read or written), ``"first"`` on a tie."""
    return "first" if same_conv2d(**first).ratio >= same_conv2d(**second).ratio else "second"


_DEPTHWISE_512 = _conv(512, 512, 32, 3, 512)  # 4,718,592 MACs
_STANDARD_8x8 = _conv(64, 128, 8, 3)  # the same 4,718,592 MACs
_WIDE_ON_2x2 = _conv(512, 512, 2, 3)  # 9,437,184 MACs, 2,359,296 weights

EXERCISES = [
    Exercise(
        id="07.channel_shuffle",
        points=1,
        reference=channel_shuffle,
        slips={"the grid is read the wrong way round (groups and group size swapped)":
               lambda x, groups: channel_shuffle(x, x.shape[1] // groups)},
        visible=[
            Case((_numbered(6), 2), why="groups (0 1 2) and (3 4 5) interleave: 0 3 1 4 2 5"),
            Case((_numbered(6), 3), why="three groups of two: 0 2 4 1 3 5"),
            Case((_randn(2, 8, 3, 3, seed=1), 4), why="a batch of two, 3x3 maps"),
        ],
        hidden=[
            Case((_numbered(12), 3), why="twelve channels in three groups"),
            Case((_randn(1, 8, 2, 5, seed=2), 1), why="one group: nothing moves"),
            Case((_randn(3, 6, 4, 4, seed=3), 6), why="one channel per group: nothing moves"),
            Case((_randn(2, 12, 5, 3, seed=4), 4), why="non-square maps"),
            Case((_numbered(16), 8), why="eight groups of two"),
        ],
        hint=("Picture the C channels as a grid with `groups` rows, one row per group (row i holds "
              "channels i*C/groups ... (i+1)*C/groups - 1). The shuffle reads that grid column by "
              "column, so the first channel of every group comes first.",
              "With x of shape (N, C, H, W): view the channel axis as two axes (groups, C // groups),"
              " swap them, and flatten them back (`view`, `transpose`, `reshape`). Only channels "
              "move."),
    ),
    Exercise(
        id="07.DepthwiseSeparable",
        points=2,
        reference=DepthwiseSeparable,
        probe="module_output",
        visible=[
            Case(((4, 8), {}, _randn(2, 4, 8, 8, seed=5)), why="stride 1 keeps 8x8"),
            Case(((4, 8), {"stride": 2}, _randn(1, 4, 8, 8, seed=6)),
                 why="stride 2 on the depthwise conv halves the map"),
        ],
        hidden=[
            Case(((3, 16), {"stride": 2}, _randn(2, 3, 7, 9, seed=7)),
                 why="odd, non-square input at stride 2"),
            Case(((8, 4), {}, _randn(1, 8, 6, 6, seed=8)), why="fewer outputs than inputs"),
            Case(((1, 5), {}, _randn(3, 1, 4, 4, seed=9)), why="a single input channel"),
            Case(((6, 6), {"stride": 1}, _randn(1, 6, 5, 5, seed=10)), why="M = N"),
        ],
        hint=("Two stages, each conv -> BatchNorm2d -> ReLU, and no bias in either conv (the batch "
              "norm's shift does that job).",
              "First a 3x3 depthwise conv: one filter per input channel (`groups=in_channels`), "
              "in_channels -> in_channels, padding 1, and the stride. Then a 1x1 pointwise conv "
              "in_channels -> out_channels that mixes the channels. `nn.Sequential` keeps it short."),
    ),
    Exercise(
        id="07.higher_ratio",
        points=1,
        reference=higher_ratio,
        fallback=unanswered,
        visible=[
            Case((_DEPTHWISE_512, _STANDARD_8x8),
                 why="equal MACs, but the depthwise layer moves far more values for them"),
            Case((_conv(64, 64, 32, 3), _conv(576, 64, 32, 1)),
                 why="equal MACs: a 3x3 conv against a 1x1 conv on nine times the channels"),
            Case((_WIDE_ON_2x2, _conv(64, 64, 32, 3, 64)),
                 why="on a 2x2 map a wide conv spends its traffic on its weights"),
        ],
        hidden=[
            Case((_STANDARD_8x8, _DEPTHWISE_512), why="the first visible pair, swapped"),
            Case((_conv(128, 9, 32, 1), _conv(128, 128, 32, 3, 128)),
                 why="a thin 1x1 conv against a depthwise conv of equal MACs"),
            Case((_conv(256, 256, 16, 3, 16), _conv(256, 256, 8, 3, 4)),
                 why="two grouped convs of equal MACs and close ratios"),
            Case((_conv(1024, 1024, 1, 1), _conv(32, 32, 8, 3, 32)),
                 why="a 1x1 conv on a single pixel reads a weight for every MAC"),
            Case((_conv(32, 32, 16, 5), _conv(32, 32, 16, 3)),
                 why="a 5x5 kernel reuses every value read more than a 3x3"),
        ],
        hint=("Fewer MACs is not the question: for each layer, compare the work it does with the "
              "values it must move (input, weights, output). Which layer reuses each value more?",
              "For each layer (a 'same' convolution, stride 1, no bias) compute its MACs, "
              "H*W*out_channels*(in_channels/groups)*K*K, and the values it moves: its input "
              "(in_channels*H*W), its weights (out_channels*(in_channels/groups)*K*K) and its output "
              "(out_channels*H*W). R = MACs / values moved. Return 'first' when the first layer's R "
              "is at least the second's, else 'second'. Fewer MACs is not the question."),
    ),
]
