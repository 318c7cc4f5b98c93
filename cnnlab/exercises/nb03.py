"""Notebook 03 (VGG): receptive fields, the VGG block, and where VGG16's parameters are."""

import torch

from cnnlab import arithmetic
from cnnlab.grading import Case, Exercise
from cnnlab.models.vgg import VGGBlock
from cnnlab.receptive_field import receptive_field


def vgg_fc_params(channels: int, side: int, hidden: int, num_classes: int,
                  bias: bool = True) -> list[int]:
    """Parameters of FC6, FC7 and FC8 on a ``channels x side x side`` feature map."""
    widths = [channels * side * side, hidden, hidden, num_classes]
    return [arithmetic.linear(n_in, n_out, bias=bias).params
            for n_in, n_out in zip(widths, widths[1:], strict=False)]


def _image(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


_ALEXNET = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
_VGG16 = [(3, 1)] * 2 + [(2, 2)] + [(3, 1)] * 2 + [(2, 2)] + ([(3, 1)] * 3 + [(2, 2)]) * 3

EXERCISES = [
    Exercise(
        id="03.receptive_field",
        points=1,
        reference=receptive_field,
        visible=[Case(([(3, 1), (3, 1)],), why="two stacked 3x3"),
                 Case(([(3, 1)] * 3,), why="three stacked 3x3"),
                 Case(([(5, 1), (2, 2), (5, 1)],), why="a stride multiplies every later step")],
        hidden=[Case((_ALEXNET,), why="AlexNet's convolutions and pools"),
                Case((_VGG16,), why="VGG16's feature stack"),
                Case(([],), why="no layers: a unit sees one pixel"),
                Case(([(7, 2), (3, 2), (3, 1), (3, 1)],), why="a ResNet-like stem, then 3x3s")],
        hint=("Walk from the input: track how much of it one unit sees and how far apart two "
              "neighbouring units' windows start. A stride makes every later layer step further.",
              "Keep two numbers while walking from the input: the field r (start at 1) and the jump, "
              "how many input pixels one step of the current layer spans (start at 1). A layer with "
              "kernel k adds (k - 1) * jump to r; then its stride multiplies the jump."),
    ),
    Exercise(
        id="03.VGGBlock",
        points=2,
        reference=VGGBlock,
        probe="module_output",
        visible=[Case(((3, 8, 1), {}, _image(0, 1, 3, 8, 8)), why="one convolution"),
                 Case(((8, 16, 2), {}, _image(1, 2, 8, 6, 6)), why="two convolutions")],
        hidden=[Case(((4, 4, 3), {}, _image(2, 1, 4, 4, 4)), why="three convolutions, channels kept"),
                Case(((3, 5, 2), {}, _image(3, 1, 3, 7, 9)), why="odd sides: the pool rounds down"),
                Case(((16, 8, 1), {}, _image(4, 3, 16, 2, 2)), why="fewer channels out, a 2x2 map")],
        hint=("A VGG block is a stack of 3x3 convolutions that keep the side, each followed by a "
              "ReLU, then one pooling that halves it. Which convolution changes the channel count?",
              "The first 3x3 convolution maps in_channels to out_channels, the others out_channels to"
              " out_channels; padding=1 keeps the side, a ReLU follows each convolution, and one 2x2 "
              "max pool with stride 2 ends the block. Calling the module runs all of it."),
    ),
    Exercise(
        id="03.vgg_fc_params",
        points=1,
        reference=vgg_fc_params,
        uses=[Case((512, 7, 4096, 1000), {"bias": False}), Case((512, 7, 4096, 1000))],
        visible=[Case((512, 7, 4096, 1000), why="VGG16 on ImageNet"),
                 Case((512, 7, 4096, 1000), {"bias": False}, why="without biases, as seed 004")],
        hidden=[Case((512, 1, 512, 10), why="the CIFAR head"),
                Case((256, 6, 4096, 1000), why="AlexNet's head"),
                Case((64, 4, 32, 10), {"bias": False}, why="a small head without biases")],
        hint=("A fully connected layer has one weight per (input, output) pair, plus biases: how many"
              " inputs does the first one get once the map is flattened?",
              "FC6 reads the flattened map, channels * side * side numbers, and has hidden outputs; "
              "FC7 maps hidden to hidden; FC8 maps hidden to num_classes. A layer has in x out "
              "weights, plus out biases when bias is True. Return the three counts as a list."),
    ),
]
