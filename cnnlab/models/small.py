"""A small CNN for controlled experiments: it trains in seconds on a CPU, so one change can be
tried at a time (ReLU or tanh, overlapping pooling or not, dropout, augmentation).

Two 5x5 convolutions, each followed by its activation and a max pool, then two fully connected
layers: LeNet-5's skeleton, with the knobs AlexNet argued about as options.
"""

from __future__ import annotations

from torch import nn

from cnnlab import arithmetic
from cnnlab.checks import integer
from cnnlab.models import register
from cnnlab.models.lenet import ACTIVATIONS


@register("small_cnn", input_size=(3, 32, 32), num_classes=10)
def small_cnn(
    num_classes: int,
    *,
    activation: str = "relu",
    pool_kernel: int = 3,
    pool_stride: int = 2,
    dropout: float = 0.0,
    widths: tuple[int, int] = (16, 32),
    hidden: int = 64,
    image_size: int = 32,
    in_channels: int = 3,
) -> nn.Sequential:
    """Four layers with weights: two 5x5 convolutions, each pooled, then two fully connected.

    ``pool_kernel=3, pool_stride=2`` is AlexNet's overlapping pooling, ``pool_kernel=2`` the
    traditional kind; the pooling is padded by ``(pool_kernel - 1) // 2`` so both give the same
    map sizes and the same parameter count. ``dropout`` applies to the hidden fully connected
    layer's output, as AlexNet's FC6/FC7. ``image_size`` is the side of the (square) input.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not known; use one of "
                         f"{', '.join(ACTIVATIONS)}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}.")
    if len(widths) != 2:
        raise ValueError(f"widths must hold the two convolutions' channel counts, got {widths!r}.")
    for name, value in [("pool_kernel", pool_kernel), ("pool_stride", pool_stride),
                        ("hidden", hidden), ("image_size", image_size),
                        ("num_classes", num_classes), ("in_channels", in_channels),
                        *zip(("widths[0]", "widths[1]"), widths, strict=True)]:
        integer(name, value)
    act = ACTIVATIONS[activation]
    padding = (pool_kernel - 1) // 2
    side = image_size
    for _ in range(2):
        side = arithmetic.conv_output_size(side, pool_kernel, pool_stride, padding)
    return nn.Sequential(
        nn.Conv2d(in_channels, widths[0], 5, padding=2), act(),
        nn.MaxPool2d(pool_kernel, pool_stride, padding),
        nn.Conv2d(widths[0], widths[1], 5, padding=2), act(),
        nn.MaxPool2d(pool_kernel, pool_stride, padding),
        nn.Flatten(),
        nn.Linear(widths[1] * side * side, hidden), act(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
