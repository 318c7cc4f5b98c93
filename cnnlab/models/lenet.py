"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998): CONV-POOL-CONV-POOL-FC-FC on 32x32 images.

Layer names follow the paper: C = convolution (5x5, stride 1), S = subsampling (2x2, stride 2),
F = fully connected. Shapes for a 32x32 input: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5,
C5 120@1x1, F6 84, output.

``lenet5`` is the published network, with two simplifications everybody makes: plain tanh instead
of LeCun's scaled 1.7159 tanh(2x/3), and a linear output layer trained with cross-entropy instead
of the Euclidean RBF units. Its S layers are true subsampling: a 2x2 average times a learned
coefficient plus a learned bias per map, then tanh. Its C3 follows the paper's connection table
(``partial_c3``): each of the 16 maps reads only 3, 4 or all 6 of S2's maps, which cut the
weights and, LeCun argued, forced the maps to learn different features.

``lenet5_modern`` is what the same skeleton looks like today: ReLU, max pooling, full C3.

Both take 32x32 inputs already (LeCun padded 28x28 digits to 32x32), so CIFAR needs no other
adaptation. ``in_channels`` defaults to 3 because every dataset in this course is in colour;
``in_channels=1`` gives the grayscale network of the paper.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.models import register
from cnnlab.summary import mac_rule

# Which S2 maps each C3 map reads (LeNet-5 paper, table I): 6 maps read 3 neighbours, 6 read 4
# neighbours, 3 read 4 non-adjacent maps and the last reads all 6.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
POOLINGS = ("subsample", "avg", "max")


class PartialConv2d(nn.Module):
    """A convolution in which output map ``j`` reads only the input maps ``table[j]``.

    Only the weights of existing connections are parameters, so parameter counts are honest
    (LeNet-5's C3: 60 connections x 25 weights + 16 biases = 1,516). The forward pass scatters
    them into an ordinary, mostly-zero kernel: simple, but it costs as much compute as a full
    convolution.
    """

    def __init__(self, in_channels: int, table: Sequence[Sequence[int]], kernel_size: int):
        super().__init__()
        if not table or any(not inputs for inputs in table):
            raise ValueError("table must list at least one input map for every output map.")
        bad = sorted({i for inputs in table for i in inputs if not 0 <= i < in_channels})
        if bad:
            raise ValueError(
                f"table refers to input maps {bad}, but in_channels={in_channels} "
                f"(valid indices 0..{in_channels - 1})."
            )
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        pairs = [(out, i) for out, inputs in enumerate(table) for i in inputs]
        self.register_buffer("out_index", torch.tensor([out for out, _ in pairs]), persistent=False)
        self.register_buffer("in_index", torch.tensor([i for _, i in pairs]), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        # PyTorch's default range, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with each map's own fan-in.
        bound = torch.tensor([len(inputs) * kernel_size**2 for inputs in table]).rsqrt()
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(bound[self.out_index][:, None, None])
            self.bias.uniform_(-1, 1).mul_(bound)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent (out, in, k, k) kernel, zero where the table has no connection."""
        shape = (self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        dense = self.weight.new_zeros(shape)
        return dense.index_put((self.out_index, self.in_index), self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={len(self.weight)}")


@mac_rule(PartialConv2d)
def _partial_conv_macs(module: PartialConv2d, inputs, outputs) -> int:
    """The connections the table makes, not the dense kernel the forward pass happens to use:
    LeNet-5's C3 has 60 x 25 weights per output pixel (151,600 connections with the biases)."""
    y = outputs[0]
    return y.shape[0] * y.shape[-2] * y.shape[-1] * module.weight.numel()


class Subsampling(nn.Module):
    """LeCun's S layer: 2x2 average (stride 2) times a learned per-map coefficient, plus a bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) * self.weight[:, None, None] + self.bias[:, None, None]

    def extra_repr(self) -> str:
        return f"channels={len(self.weight)}, kernel_size=2, stride=2"


@mac_rule(Subsampling)
def _subsampling_macs(module: Subsampling, inputs, outputs) -> int:
    """Four for the 2x2 average and one for the coefficient, per output (the paper's S2 has
    14 x 14 x 6 x 5 = 5,880 connections, the bias included)."""
    return 5 * outputs[0].numel()


class LeNet5(nn.Module):
    """LeNet-5 with a choice of activation, pooling and C3 wiring (see the module docstring)."""

    def __init__(
        self,
        num_classes: int = 10,
        *,
        in_channels: int = 3,
        activation: str = "tanh",
        pooling: str = "subsample",
        partial_c3: bool = True,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation={activation!r} is not supported; use one of {', '.join(ACTIVATIONS)}."
            )
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r} is not supported; use one of {POOLINGS}.")
        act = ACTIVATIONS[activation]

        def pool(channels: int) -> nn.Module:
            if pooling == "subsample":  # trainable, so it is followed by a squashing function
                return nn.Sequential(Subsampling(channels), act())
            return nn.AvgPool2d(2) if pooling == "avg" else nn.MaxPool2d(2)

        c3 = PartialConv2d(6, C3_TABLE, 5) if partial_c3 else nn.Conv2d(6, 16, 5)
        self.features = nn.Sequential(OrderedDict(
            c1=nn.Conv2d(in_channels, 6, 5), act1=act(), s2=pool(6),
            c3=c3, act3=act(), s4=pool(16),
            c5=nn.Conv2d(16, 120, 5), act5=act(),
        ))  # fmt: skip
        self.classifier = nn.Sequential(OrderedDict(
            f6=nn.Linear(120, 84), act6=act(), output=nn.Linear(84, num_classes),
        ))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (32, 32):
            raise ValueError(
                f"LeNet-5 expects 32x32 images, got {tuple(x.shape[-2:])}; pad or resize them "
                "(LeCun padded 28x28 MNIST digits by 2 pixels on each side)."
            )
        return self.classifier(torch.flatten(self.features(x), 1))


@register("lenet5", input_size=(3, 32, 32), num_classes=10)
def lenet5(
    num_classes: int,
    *,
    in_channels: int = 3,
    activation: str = "tanh",
    pooling: str = "subsample",
    partial_c3: bool = True,
) -> LeNet5:
    """LeNet-5 as published: tanh, trainable subsampling, C3 connection table."""
    return LeNet5(num_classes, in_channels=in_channels, activation=activation,
                  pooling=pooling, partial_c3=partial_c3)


@register("lenet5_modern", input_size=(3, 32, 32), num_classes=10)
def lenet5_modern(
    num_classes: int,
    *,
    in_channels: int = 3,
    activation: str = "relu",
    pooling: str = "max",
    partial_c3: bool = False,
) -> LeNet5:
    """LeNet-5 the modern way: ReLU, max pooling, fully connected C3."""
    return LeNet5(num_classes, in_channels=in_channels, activation=activation,
                  pooling=pooling, partial_c3=partial_c3)
