"""Notebook 02 (LeNet and AlexNet): shapes, parameter counts, grouping and colour augmentation."""

import torch

from cnnlab import arithmetic
from cnnlab.data import pca_lighting
from cnnlab.grading import Case, Exercise

LENET_WIDTHS = (6, 16, 120)  # maps of C1, C3 and C5


def lenet_output_shapes(size: int, kernel_size: int = 5) -> list[tuple[int, int, int]]:
    """(channels, height, width) after C1, S2, C3, S4 and C5 of LeNet-5 on a size x size input.

    Convolutions are unpadded with stride 1; the S layers halve the side (2x2, stride 2),
    rounding down.
    """
    shapes, side = [], size
    for index, channels in enumerate(LENET_WIDTHS):
        side = arithmetic.conv_output_size(side, kernel_size)
        shapes.append((channels, side, side))
        if index < 2:
            side = arithmetic.conv_output_size(side, 2, 2)
            shapes.append((channels, side, side))
    return shapes


def conv_params(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1,
                bias: bool = True) -> int:
    """Weights (and biases) of a square ``nn.Conv2d``, grouped or not: both exercises' reference.

    The side passed as the input size is ``kernel_size``, the smallest that fits: parameters do
    not depend on it.
    """
    return arithmetic.conv2d(in_channels, out_channels, kernel_size, kernel_size, groups=groups,
                             bias=bias).params


def _pca_case(seed: int, height: int, width: int) -> tuple[torch.Tensor, ...]:
    """A random image, the PCA of some random colours, and a draw of alpha (AlexNet's std 0.1)."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, height, width, generator=g)
    colours = torch.rand(50, 3, generator=g) @ torch.rand(3, 3, generator=g)
    eigval, eigvec = torch.linalg.eigh(torch.cov(colours.T))
    order = eigval.argsort(descending=True)
    return image, eigval[order], eigvec[:, order], 0.1 * torch.randn(3, generator=g)


_SIMPLE_EIGVAL = torch.tensor([0.2, 0.02, 0.005])
_ROTATION = torch.tensor([[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])

EXERCISES = [
    Exercise(
        id="02.lenet_output_shapes",
        points=1,
        reference=lenet_output_shapes,
        uses=[Case((32,))],
        visible=[Case((32,), why="LeNet-5 as published"), Case((36,))],
        hidden=[Case((40,), why="a larger input"), Case((32, 3), why="3x3 kernels"),
                Case((35,), why="an odd side: pooling rounds down"),
                Case((33, 3), why="an odd side with 3x3 kernels")],
        hint=("Walk the network layer by layer: what does an unpadded convolution do to the side, and"
              " what does a 2x2 pooling with stride 2 do to it?",
              "A k x k convolution without padding, stride 1, turns side n into n - k + 1; a 2x2 "
              "pooling with stride 2 turns n into n // 2 (floor). Channels: 6 after C1 and S2, 16 "
              "after C3 and S4, 120 after C5. Return five (channels, height, width) tuples."),
    ),
    Exercise(
        id="02.conv_params",
        points=1,
        reference=conv_params,
        uses=[Case((3, 96, 11), {"bias": False}), Case((3, 96, 11))],
        visible=[Case((3, 96, 11), why="AlexNet's conv1"),
                 Case((3, 96, 11), {"bias": False},
                      why="conv1 without biases, as seed 004 counts")],
        hidden=[Case((1, 6, 5), why="LeNet's C1 on grayscale"), Case((256, 384, 3), why="AlexNet's conv3"),
                Case((384, 256, 3), {"bias": False}, why="a 3x3 layer without biases"),
                Case((64, 128, 1), why="a 1x1 convolution")],
        hint=("Count one filter's numbers (height, width, depth), then the filters, and ask what a "
              "bias adds. The image size plays no part.",
              "Each of the out_channels filters is kernel_size x kernel_size x in_channels weights, "
              "plus one bias per filter when bias is True. The image size does not matter: the same "
              "weights slide everywhere."),
    ),
    Exercise(
        id="02.grouped_conv_params",
        points=1,
        reference=conv_params,
        visible=[Case((96, 256, 5, 2), why="AlexNet's conv2 over two GPUs"),
                 Case((96, 256, 5, 1), why="the same layer on one GPU")],
        hidden=[Case((384, 384, 3, 2), why="conv4"),
                Case((384, 256, 3, 2), {"bias": False}, why="grouped, no biases"),
                Case((32, 32, 3, 32), why="one group per channel (depthwise)"),
                Case((64, 128, 1, 4), {"bias": False}, why="a grouped 1x1 without biases")],
        hint=("Grouping changes what one filter sees, not how many filters there are: how deep is a "
              "filter that reads only its own group?",
              "With g groups, each filter sees only in_channels / g input maps, so a filter has "
              "kernel_size x kernel_size x (in_channels / g) weights. There are still out_channels "
              "filters, and still one bias each."),
    ),
    Exercise(
        id="02.pca_lighting",
        points=2,
        reference=pca_lighting,
        visible=[
            Case((torch.zeros(3, 2, 2), _SIMPLE_EIGVAL, torch.eye(3), torch.tensor([1.0, 0, 0])),
                 why="alpha picks the first component only"),
            Case((torch.full((3, 2, 3), 0.5), _SIMPLE_EIGVAL, _ROTATION,
                  torch.tensor([0.1, -0.2, 0.3])), why="eigenvectors are the columns"),
            Case(_pca_case(1, 4, 4)),
        ],
        hidden=[Case(_pca_case(2, 5, 7), why="a non-square image"),
                Case(_pca_case(3, 1, 1), why="a one-pixel image"),
                Case((torch.rand(3, 3, 2, generator=torch.Generator().manual_seed(4)),
                      _SIMPLE_EIGVAL, _ROTATION, torch.zeros(3)), why="alpha = 0 changes nothing")],
        hint=("The change added to every pixel is one RGB vector built from the principal components:"
              " how does each alpha scale its component, and what is added where?",
              "Weight each eigenvalue by its alpha (alpha * eigval, three numbers), combine the "
              "eigenvectors (the columns of eigvec) with those weights (a matrix-vector product), and"
              " add the resulting RGB offset to every pixel: reshape it to 3 x 1 x 1 to broadcast."),
        rtol=1e-4,
    ),
]
