"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012): five convolutions, three fully connected layers.

Three designs, written as data and built by :func:`cnnlab.models.plain.build`:

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

from functools import partial

from torch import nn

from cnnlab.models import register
from cnnlab.models.plain import NORM, POOL, Conv, Design, PlainCNN, build

_OVERLAPPING_POOL = partial(nn.MaxPool2d, kernel_size=3, stride=2)  # z=3, s=2


class AlexNet(PlainCNN):
    """AlexNet's modules in torchvision's layout (features -> avgpool -> classifier)."""


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
    pool=_OVERLAPPING_POOL,
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
    pool=_OVERLAPPING_POOL,
    dropout_first=True,
)  # fmt: skip
CIFAR = Design(layers=(Conv(96, 5, padding=2), *PAPER_2012.layers[1:]), pooled_size=3, hidden=1024,
               pool=_OVERLAPPING_POOL)


@register("alexnet_2012", input_size=(3, 227, 227))
def alexnet_2012(num_classes: int, *, dropout: float = 0.5, split: bool = True) -> AlexNet:
    """AlexNet as published in 2012: LRN, overlapping pooling, two-GPU grouped conv2/4/5."""
    return build(PAPER_2012, num_classes, model_class=AlexNet, dropout=dropout, split=split)


@register("alexnet", input_size=(3, 224, 224))
def alexnet(num_classes: int, *, dropout: float = 0.5) -> AlexNet:
    """Single-stream AlexNet, interchangeable with torchvision.models.alexnet."""
    return build(SINGLE_STREAM, num_classes, model_class=AlexNet, dropout=dropout)


@register("alexnet_cifar", input_size=(3, 32, 32), num_classes=10)
def alexnet_cifar(num_classes: int, *, dropout: float = 0.5, split: bool = True) -> AlexNet:
    """The 2012 AlexNet for 32x32 images: 5x5 stride-1 conv1, 1024-wide FC6/FC7."""
    return build(CIFAR, num_classes, model_class=AlexNet, dropout=dropout, split=split)
