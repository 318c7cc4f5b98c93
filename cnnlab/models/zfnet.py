"""ZFNet (Zeiler and Fergus, 2013): AlexNet with a finer first layer and wider middle layers.

Zeiler and Fergus looked at what AlexNet's first layers had learned and found dead filters and
aliasing from the coarse 11x11 stride-4 conv1. Their network, as seed 004 summarises it:

* conv1 becomes 7x7 with stride 2 (224x224 input, 110x110 maps); to land on AlexNet's 13x13 maps
  anyway, conv2 gets stride 2 as in the ZF paper;
* conv3, conv4, conv5 widen from 384, 384, 256 to 512, 1024, 512 filters;
* one GPU, so no grouped convolutions; normalisation across maps follows each of the first two
  pools, and pools round up (Caffe's convention), which gives the paper's 55x55 and 13x13 maps.

``zfnet_cifar`` adapts it to 32x32 images: conv1 3x3 stride 1, conv2 stride 1 (strides of 2 would
leave a 1x1 map before conv3), so the last map is 4x4; FC6/FC7 shrink to 1024 units.
"""

from __future__ import annotations

from functools import partial

from torch import nn

from cnnlab.models import register
from cnnlab.models.plain import NORM, POOL, Conv, Design, PlainCNN, build

_ROUNDING_UP_POOL = partial(nn.MaxPool2d, kernel_size=3, stride=2, ceil_mode=True)
_WIDER_MIDDLE = (Conv(512, 3, padding=1), Conv(1024, 3, padding=1), Conv(512, 3, padding=1), POOL)

ZFNET = Design(
    layers=(
        Conv(96, 7, stride=2, padding=1), POOL, NORM,
        Conv(256, 5, stride=2), POOL, NORM,
        *_WIDER_MIDDLE,
    ),
    pooled_size=6,
    hidden=4096,
    pool=_ROUNDING_UP_POOL,
)  # fmt: skip
CIFAR = Design(
    layers=(
        Conv(96, 3, padding=1), POOL, NORM,
        Conv(256, 5, padding=2), POOL, NORM,
        *_WIDER_MIDDLE,
    ),
    pooled_size=4,
    hidden=1024,
    pool=_ROUNDING_UP_POOL,
)  # fmt: skip


class ZFNet(PlainCNN):
    """AlexNet's layout (features -> avgpool -> classifier) with ZFNet's feature stack."""


@register("zfnet", input_size=(3, 224, 224))
def zfnet(num_classes: int, *, dropout: float = 0.5) -> ZFNet:
    """ZFNet: 7x7 stride-2 conv1, conv3-5 widened to 512-1024-512."""
    return build(ZFNET, num_classes, model_class=ZFNet, dropout=dropout)


@register("zfnet_cifar", input_size=(3, 32, 32), num_classes=10)
def zfnet_cifar(num_classes: int, *, dropout: float = 0.5) -> ZFNet:
    """ZFNet for 32x32 images: 3x3 stride-1 conv1, stride-1 conv2, 1024-wide FC6/FC7."""
    return build(CIFAR, num_classes, model_class=ZFNet, dropout=dropout)
