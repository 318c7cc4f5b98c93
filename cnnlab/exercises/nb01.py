"""Notebook 01 (counting): output size, parameters, MACs, the DSC saving, a compute-to-memory
ratio, and reading a per-layer table to say where the memory and the parameters live."""

import torch

from cnnlab import arithmetic, models
from cnnlab.grading import Case, Exercise
from cnnlab.summary import summary


def conv_params(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1,
                bias: bool = True) -> int:
    """Weights (and biases) of a square ``nn.Conv2d``; they do not depend on the input size."""
    return arithmetic.conv2d(in_channels, out_channels, kernel_size, kernel_size, groups=groups,
                             bias=bias).params


def conv_macs(in_channels: int, out_channels: int, in_size: int, kernel_size: int,
              stride: int = 1, padding: int = 0, groups: int = 1) -> int:
    """Multiply-accumulates of a square ``nn.Conv2d`` on one ``in_size x in_size`` image."""
    return arithmetic.conv2d(in_channels, out_channels, in_size, kernel_size, stride=stride,
                             padding=padding, groups=groups).macs


def where_memory_goes(rows: list[dict]) -> tuple[float, float]:
    """From a :func:`cnnlab.summary.summary` table's rows: the share of activation bytes written
    by ``Conv2d`` layers, and the share of parameters held by ``Linear`` layers (both in [0, 1])."""
    activation_bytes = sum(row["activation_bytes"] for row in rows)
    params = sum(row["params"] for row in rows)
    if not activation_bytes or not params:
        raise ValueError("rows must hold some activation bytes and some parameters; pass "
                         "summary(model, input_size).rows of a model with weights.")
    conv_bytes = sum(row["activation_bytes"] for row in rows if row["type"] == "Conv2d")
    linear_params = sum(row["params"] for row in rows if row["type"] == "Linear")
    return conv_bytes / activation_bytes, linear_params / params


def _tables_of_the_notebook() -> list[Case]:
    """The two tables notebook 01 reads with its answer: AlexNet (2012) and VGG16."""
    with torch.device("meta"):
        nets = ((models.create("alexnet_2012"), (3, 227, 227)), (models.create("vgg16"), (3, 224, 224)))
    return [Case((summary(net, size, device="meta").rows,)) for net, size in nets]


def _row(name: str, kind: str, params: int, activation_bytes: int) -> dict:
    """A row shaped like ``Summary.rows`` (only the columns this exercise reads, plus a few)."""
    return {"name": name, "type": kind, "params": params, "macs": 0,
            "activations": activation_bytes // 4, "activation_bytes": activation_bytes}


def _random_table(seed: int, layers: int) -> list[dict]:
    """A made-up network's table: conv, norm, activation, pooling and linear rows, seeded."""
    g = torch.Generator().manual_seed(seed)
    kinds = ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Linear", "AdaptiveAvgPool2d"]
    rows = [_row("features.0", "Conv2d", 1792, 4 * 65536)]
    for index in range(1, layers):
        kind = kinds[int(torch.randint(len(kinds), (1,), generator=g))]
        weighted = kind in ("Conv2d", "BatchNorm2d", "Linear")
        params = int(torch.randint(1, 10**6, (1,), generator=g)) if weighted else 0
        written = 0 if kind == "ReLU" else 4 * int(torch.randint(1, 10**5, (1,), generator=g))
        rows.append(_row(f"layer.{index}", kind, params, written))
    return rows


_TINY = [
    _row("conv1", "Conv2d", 448, 65_536),
    _row("relu1", "ReLU", 0, 0),
    _row("pool1", "MaxPool2d", 0, 16_384),
    _row("fc", "Linear", 40_970, 40),
]
_ALL_CONV = [
    _row("conv1", "Conv2d", 1_792, 262_144),
    _row("bn1", "BatchNorm2d", 128, 262_144),
    _row("conv2", "Conv2d", 36_928, 262_144),
    _row("gap", "AdaptiveAvgPool2d", 0, 256),
]

EXERCISES = [
    Exercise(
        id="01.conv_output_size",
        points=1,
        reference=arithmetic.conv_output_size,
        visible=[
            Case((227, 11, 4), why="AlexNet's conv1 on seed 004's 227x227 input"),
            Case((224, 11, 4), why="seed 001's 224: (224 - 11) / 4 is not whole, the floor drops "
                                   "the rest"),
            Case((32, 3, 1, 1), why="a 3x3 'same' convolution keeps the size"),
        ],
        hidden=[
            Case((55, 3, 2), why="AlexNet's overlapping pool"),
            Case((27, 5, 1, 2), why="AlexNet's conv2, padded by 2"),
            Case((13, 3, 2), why="AlexNet's last pool"),
            Case((224, 7, 2, 3), why="a ResNet stem"),
            Case((7, 3, 2, 1), why="odd size, stride 2"),
            Case((28, 1), why="a 1x1 convolution"),
            Case((10, 4, 3), why="stride that does not fit"),
            Case((5, 5), why="kernel as large as the input"),
        ],
        hint=("Count the positions where a K-wide window fits inside the padded input, then keep only"
              " every s-th of them. Try it by hand on a 5-wide input with K = 3.",
              "Slide a K-wide window over n + 2p positions (the input plus padding on both sides): it"
              " fits n + 2p - K + 1 times at stride 1; with stride s you keep every s-th start, the "
              "first included. Use integer (floor) division: a partial step is not an output."),
    ),
    Exercise(
        id="01.conv_params",
        points=1,
        reference=conv_params,
        slips={"the bias is left out":
               lambda i, o, k, groups=1, bias=True: conv_params(i, o, k, groups, False),
               "the groups are ignored":
               lambda i, o, k, groups=1, bias=True: conv_params(i, o, k, 1, bias)},
        uses=[Case((3, 96, 11)), Case((3, 96, 11, 1, False))],
        visible=[
            Case((3, 96, 11), why="AlexNet's conv1 with biases"),
            Case((3, 96, 11, 1, False), why="seed 004 counts weights only"),
            Case((96, 256, 5, 2), why="AlexNet's conv2 split over two GPUs: each filter sees 48 maps"),
        ],
        hidden=[
            Case((64, 64, 3), why="VGG's conv1_2"),
            Case((256, 256, 1, 1, False), why="a pointwise convolution"),
            Case((32, 32, 3, 32), why="depthwise: one 3x3 filter per channel"),
            Case((48, 96, 3, 4, False), why="four groups"),
            Case((512, 512, 3), why="a big VGG layer"),
        ],
        hint=("A parameter count never depends on the image: count the numbers in one filter, then "
              "the filters, and ask what groups do to a filter's depth.",
              "Each of the C_out filters is K x K x (C_in / groups): with groups, a filter only sees "
              "its own group's input maps. A bias adds one more number per filter, not per weight."),
    ),
    Exercise(
        id="01.conv_macs",
        points=1,
        reference=conv_macs,
        slips={"the MACs are counted on the input grid, not the output grid":
               lambda i, o, n, k, stride=1, padding=0, groups=1: o * n * n * k * k * i // groups},
        uses=[Case((3, 96, 227, 11, 4))],
        visible=[
            Case((3, 96, 227, 11, 4), why="AlexNet's conv1"),
            Case((64, 64, 224, 3, 1, 1), why="VGG16's second layer, the most expensive one"),
            Case((96, 256, 27, 5, 1, 2, 2), why="AlexNet's grouped conv2"),
        ],
        hidden=[
            Case((256, 128, 28, 1), why="inception's 1x1 branch"),
            Case((256, 192, 28, 3, 1, 1), why="inception's naive 3x3 branch"),
            Case((64, 96, 28, 5, 1, 2), why="inception's 5x5 after a bottleneck"),
            Case((32, 32, 32, 3, 1, 1, 32), why="depthwise"),
            Case((512, 512, 14, 3, 2, 1), why="stride 2 quarters the outputs"),
        ],
        hint=("Every output value is one dot product: how many output values are there (on the output"
              " grid), and how many multiplications go into each one?",
              "One MAC per weight per output position: (number of outputs C_out x H' x W') times "
              "(weights per output, K x K x C_in / groups). H' and W' are the OUTPUT size, so compute"
              " it first; a bias adds no multiply."),
    ),
    Exercise(
        id="01.dsc_savings",
        points=1,
        reference=arithmetic.savings_dsc,
        visible=[
            Case((128, 3), why="the dissertation's example after eq. 3.6"),
            Case((16, 3), why="few output channels: the pointwise part dominates"),
        ],
        hidden=[
            Case((64, 5), why="a 5x5 kernel"),
            Case((256, 3), why="a wider layer, 3x3"),
            Case((1024, 7), why="a very wide layer with 7x7 kernels"),
            Case((32, 1), why="K = 1: a 'DSC' costs more than the 1x1 it replaces"),
        ],
        hint=("Write the MACs of the depthwise part, of the pointwise part and of the standard "
              "convolution for the same layer, then see which factors cancel in the ratio.",
              "Divide eq. 3.2 (depthwise K*K*M*F*F plus pointwise M*N*F*F) by eq. 3.1 (K*K*M*N*F*F) "
              "and cancel M and F. Return the ratio DSC / standard (below 1 when DSC is cheaper), not"
              " 'how many times fewer'."),
    ),
    Exercise(
        id="01.compute_to_memory_ratio",
        points=1,
        reference=arithmetic.ratio_conv,
        visible=[
            Case((3, 16, 32, 3), why="the dissertation's example after eq. 3.14"),
            Case((128, 128, 32, 3)),
        ],
        hidden=[
            Case((64, 64, 56, 3), why="a VGG-like layer on a 56x56 map"),
            Case((512, 512, 7, 3), why="small map: the weights dominate the traffic"),
            Case((256, 256, 14, 1), why="pointwise"),
            Case((3, 96, 55, 11), why="few input channels, an 11x11 kernel"),
        ],
        hint=("R is work per value moved: the MACs on top, and below every value the layer must read "
              "or write once (what does a convolution read?).",
              "Eq. 3.13: MACs (not FLOPs) over every element the layer touches in memory: the F x F x"
              " M input read, the K x K x M x N weights read and the F x F x N output written ('same'"
              " convolution, stride 1, no bias)."),
    ),
    Exercise(
        id="01.where_memory_goes",
        points=2,
        reference=where_memory_goes,
        uses=_tables_of_the_notebook,
        visible=[
            Case((_TINY,), why="a tiny hand-made table"),
            Case((_ALL_CONV,), why="no Linear layer: no parameters live there"),
        ],
        hidden=[Case((_random_table(seed, layers),), why=f"a made-up table of {layers} layers")
                for seed, layers in ((1, 12), (2, 30), (3, 7))],
        hint=("Each row says what kind of layer it is, what it writes and what it holds: sum one "
              "column over some rows, and divide by that column's total.",
              "Two shares, each a fraction in [0, 1]: bytes written by rows whose 'type' is 'Conv2d' "
              "over bytes written by all rows ('activation_bytes'), and parameters of rows whose "
              "'type' is 'Linear' over all parameters ('params'). Return them as a tuple (conv share,"
              " linear share)."),
    ),
]
