"""VGG (Simonyan and Zisserman, 2014): only 3x3 convolutions (stride 1, pad 1) and 2x2 max pools.

Two stacked 3x3 convolutions see a 5x5 window and three see 7x7, with fewer weights and more
ReLUs than one large filter; VGG spends that saving on depth. The four depths are the paper's
configurations A, B, D and E (11, 13, 16 and 19 weight layers); ``_bn`` adds batch normalisation
after every convolution. Module names and layout are torchvision's, so its state_dicts load here.

The ``_cifar`` versions keep the convolutions and change the head for 32x32 images: the five pools
leave a 1x1x512 map, so there is no pooling to 7x7 (which would copy that one value 49 times into
a 25088-wide FC6) and FC6/FC7 have 512 units instead of 4096.
"""

from __future__ import annotations

import itertools
from functools import partial

import torch
from torch import nn

from cnnlab.checks import integer
from cnnlab.models import register
from cnnlab.models.plain import POOL, Conv, Design, PlainCNN, build

# Output channels of each 3x3 convolution, POOL for a 2x2 max pool (torchvision's table).
CONFIGS: dict[int, list[int | str]] = {
    11: [64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL],
    13: [64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL],
    16: [64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL,
         512, 512, 512, POOL],
    19: [64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL,
         512, 512, 512, 512, POOL],
}  # fmt: skip


class VGGBlock(nn.Module):
    """``num_convs`` 3x3 convolutions (padding 1, each followed by ReLU), then a 2x2 max pool.

    The unit notebook 03 builds VGG from. The registered models below keep torchvision's flat
    ``features`` layout instead, so that its state_dicts load unchanged.

    The padding keeps the side through the convolutions and the pool halves it: VGG's rule is
    to double ``out_channels`` from one block to the next, so every block costs about the same.
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int):
        super().__init__()
        in_channels, out_channels = integer("in_channels", in_channels), integer("out_channels", out_channels)
        num_convs = integer("num_convs", num_convs)
        layers: list[nn.Module] = []
        for index in range(num_convs):
            layers += [nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3,
                                 padding=1), nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x))


class VGG(PlainCNN):
    """AlexNet's layout with a VGG feature stack, initialised as torchvision initialises VGG."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, pooled_size: int):
        super().__init__(features, classifier, pooled_size)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)


def design(depth: int, cifar: bool) -> Design:
    """The VGG of ``depth`` weight layers as a :class:`Design` (ImageNet or CIFAR head)."""
    layers = tuple(
        POOL if width == POOL else Conv(width, 3, padding=1) for width in CONFIGS[depth]
    )
    return Design(
        layers,
        pooled_size=1 if cifar else 7,
        hidden=512 if cifar else 4096,
        pool=partial(nn.MaxPool2d, kernel_size=2, stride=2),
    )


def _register(depth: int, batch_norm: bool, cifar: bool) -> None:
    name = f"vgg{depth}{'_bn' if batch_norm else ''}{'_cifar' if cifar else ''}"
    description = (
        f"VGG{depth}: {depth - 3} 3x3 convolutions{' with batch norm' if batch_norm else ''}"
        f", {'a 512-wide FC head for 32x32 images' if cifar else '3 FC layers'}"
    )
    vgg_design = design(depth, cifar)

    @register(
        name,
        input_size=(3, 32, 32) if cifar else (3, 224, 224),
        num_classes=10 if cifar else 1000,
        description=description,
    )
    def build_vgg(num_classes: int, *, dropout: float = 0.5) -> VGG:
        return build(
            vgg_design, num_classes, model_class=VGG, dropout=dropout, batch_norm=batch_norm
        )


for _depth, _batch_norm, _cifar in itertools.product(CONFIGS, (False, True), (False, True)):
    _register(_depth, _batch_norm, _cifar)
