"""The plain CNN: convolutions and pools, then fully connected layers, in torchvision's layout.

AlexNet set the pattern and ZFNet and VGG keep it: ``features`` (the stack) -> ``avgpool`` (to a
fixed side) -> flatten -> ``classifier`` (FC6, FC7, output). A family writes its networks as data,
a :class:`Design` whose layer list holds :class:`Conv`, :data:`POOL` and :data:`NORM`, and
:func:`build` turns a design into modules, so the families differ only in their tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn


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

    The AlexNet paper drops out the outputs of FC6 and FC7; torchvision's AlexNet drops out their
    inputs (``dropout_first``). The module order decides the state_dict keys, so both are kept.
    """
    modules: list[nn.Module] = []
    for width in (in_features, hidden):
        block = [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
        modules += [nn.Dropout(dropout), *block] if dropout_first else [*block, nn.Dropout(dropout)]
    return nn.Sequential(*modules, nn.Linear(hidden, num_classes))


class PlainCNN(nn.Module):
    """features -> avgpool -> flatten -> classifier: torchvision's layout for AlexNet and VGG."""

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
    """Everything that distinguishes one plain CNN from another."""

    layers: tuple[Layer, ...]
    pooled_size: int  # side of the last feature map at the native input size
    hidden: int  # width of FC6 and FC7
    pool: Callable[[], nn.Module]  # what POOL builds
    dropout_first: bool = False

    @property
    def out_channels(self) -> int:
        return [layer for layer in self.layers if isinstance(layer, Conv)][-1].out_channels


def build(
    design: Design,
    num_classes: int,
    *,
    model_class: type[PlainCNN],
    dropout: float = 0.5,
    split: bool = True,
    batch_norm: bool = False,
) -> PlainCNN:
    """The one builder behind AlexNet's, ZFNet's and VGG's designs.

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
