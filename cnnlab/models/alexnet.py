"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012): five convolutions, three fully connected layers.

Three designs, written as data and built by one function:

* ``alexnet_2012`` - the published network: 227x227 input, 96-256-384-384-256 maps, ReLU, local
  response normalisation (LRN) after conv1 and conv2, overlapping max pooling (z=3, s=2), dropout
  0.5 after FC6 and FC7. conv2, conv4 and conv5 were split over two GPUs and saw only the maps on
  their own GPU: here that is ``groups=2`` (``split=False`` gives the one-GPU equivalent).
* ``alexnet`` - the single-stream form torchvision ships (Krizhevsky's 2014 "one weird trick"
  variant): 64-192-384-256-256 maps, no LRN, conv1 padded by 2, 224x224 input, dropout before FC6
  and FC7. Same module names and layout as ``torchvision.models.alexnet``, so state_dicts load
  either way and give identical outputs.
* ``alexnet_cifar`` - the published design for 32x32 images. Only conv1 changes (5x5, stride 1,
  padded: an 11x11 stride-4 filter would shrink 32 pixels to 6 at once); the three pools then
  leave a 3x3 map, and FC6/FC7 shrink to 1024 units, since 4096-wide layers over a 2304-value
  input would be nearly all of the parameters for only 10 classes.

All of them pool the last feature map to a fixed side (``avgpool``, as torchvision does). At the
native input size that pooling changes nothing; it lets the same network accept other sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import torch
from torch import nn

from cnnlab.models import register


class Conv(NamedTuple):
    """One convolution (followed by ReLU) in a feature stack."""

    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    groups: int = 1  # 2 = the two-GPU split: each half of the filters sees half of the input maps


POOL = "M"  # max pooling; its size comes with the design
NORM = "N"  # local response normalisation across neighbouring maps
Layer = Conv | str


def local_response_norm() -> nn.LocalResponseNorm:
    """LRN with the paper's constants: n=5 maps, k=2, alpha=1e-4, beta=0.75.

    The paper divides by (k + alpha * sum of squares); PyTorch divides by
    (k + alpha / n * sum of squares), so alpha is passed as n * 1e-4.
    """
    size = 5
    return nn.LocalResponseNorm(size=size, alpha=size * 1e-4, beta=0.75, k=2.0)


def make_features(
    layers: Sequence[Layer],
    *,
    pool: Callable[[], nn.Module],
    batch_norm: bool = False,
    in_channels: int = 3,
) -> nn.Sequential:
    """Turn a design's layer list into modules: Conv -> Conv2d (+ BatchNorm) + ReLU."""
    modules: list[nn.Module] = []
    for layer in layers:
        if layer == POOL:
            modules.append(pool())
        elif layer == NORM:
            modules.append(local_response_norm())
        else:
            modules.append(nn.Conv2d(in_channels, **layer._asdict()))
            if batch_norm:
                modules.append(nn.BatchNorm2d(layer.out_channels))
            modules.append(nn.ReLU(inplace=True))
            in_channels = layer.out_channels
    return nn.Sequential(*modules)


def make_classifier(
    in_features: int, hidden: int, num_classes: int, dropout: float, dropout_first: bool = False
) -> nn.Sequential:
    """FC6 and FC7 (Linear + ReLU, each with dropout) then the output layer FC8.

    The paper drops out the outputs of FC6 and FC7; torchvision's AlexNet drops out their inputs
    (``dropout_first``). The module order decides the state_dict keys, so both are kept.
    """
    modules: list[nn.Module] = []
    for width in (in_features, hidden):
        block = [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
        modules += [nn.Dropout(dropout), *block] if dropout_first else [*block, nn.Dropout(dropout)]
    return nn.Sequential(*modules, nn.Linear(hidden, num_classes))


class AlexNet(nn.Module):
    """features -> avgpool -> flatten -> classifier: torchvision's layout, kept by ZFNet and VGG."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, pooled_size: int):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pooled_size, pooled_size))
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


@dataclass(frozen=True)
class Design:
    """Everything that distinguishes one member of the AlexNet layout family from another."""

    layers: tuple[Layer, ...]
    pooled_size: int  # side of the last feature map at the native input size
    hidden: int  # width of FC6 and FC7
    pool: Callable[[], nn.Module] = partial(nn.MaxPool2d, kernel_size=3, stride=2)  # overlapping
    dropout_first: bool = False

    @property
    def out_channels(self) -> int:
        return [layer for layer in self.layers if isinstance(layer, Conv)][-1].out_channels


def build(
    design: Design,
    num_classes: int,
    *,
    dropout: float = 0.5,
    split: bool = True,
    batch_norm: bool = False,
    model_class: type[AlexNet] = AlexNet,
) -> AlexNet:
    """The one builder behind every design here (and ZFNet's, and VGG's).

    ``split=False`` undoes the two-GPU grouping: every convolution sees all its input maps.
    """
    layers = design.layers if split else [
        layer._replace(groups=1) if isinstance(layer, Conv) else layer for layer in design.layers
    ]
    features = make_features(layers, pool=design.pool, batch_norm=batch_norm)
    in_features = design.out_channels * design.pooled_size**2
    classifier = make_classifier(
        in_features, design.hidden, num_classes, dropout, design.dropout_first
    )
    return model_class(features, classifier, design.pooled_size)


PAPER_2012 = Design(
    layers=(
        Conv(96, 11, stride=4), NORM, POOL,
        Conv(256, 5, padding=2, groups=2), NORM, POOL,
        Conv(384, 3, padding=1),
        Conv(384, 3, padding=1, groups=2),
        Conv(256, 3, padding=1, groups=2), POOL,
    ),
    pooled_size=6,
    hidden=4096,
)  # fmt: skip
SINGLE_STREAM = Design(
    layers=(
        Conv(64, 11, stride=4, padding=2), POOL,
        Conv(192, 5, padding=2), POOL,
        Conv(384, 3, padding=1),
        Conv(256, 3, padding=1),
        Conv(256, 3, padding=1), POOL,
    ),
    pooled_size=6,
    hidden=4096,
    dropout_first=True,
)  # fmt: skip
CIFAR = Design(layers=(Conv(96, 5, padding=2), *PAPER_2012.layers[1:]), pooled_size=3, hidden=1024)


@register("alexnet_2012", input_size=(3, 227, 227))
def alexnet_2012(num_classes: int, *, dropout: float = 0.5, split: bool = True) -> AlexNet:
    """AlexNet as published in 2012: LRN, overlapping pooling, two-GPU grouped conv2/4/5."""
    return build(PAPER_2012, num_classes, dropout=dropout, split=split)


@register("alexnet", input_size=(3, 224, 224))
def alexnet(num_classes: int, *, dropout: float = 0.5) -> AlexNet:
    """Single-stream AlexNet, interchangeable with torchvision.models.alexnet."""
    return build(SINGLE_STREAM, num_classes, dropout=dropout)


@register("alexnet_cifar", input_size=(3, 32, 32), num_classes=10)
def alexnet_cifar(num_classes: int, *, dropout: float = 0.5, split: bool = True) -> AlexNet:
    """The 2012 AlexNet for 32x32 images: 5x5 stride-1 conv1, 1024-wide FC6/FC7."""
    return build(CIFAR, num_classes, dropout=dropout, split=split)
