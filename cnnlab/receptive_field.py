"""How much of the input one output unit can see: computed from the layers, and measured.

The *theoretical* receptive field of a chain of convolutions and poolings grows by
``dilation * (kernel - 1)`` input-steps per layer, where one step of layer ``l`` is the product of
the strides before it (the *jump*)::

    r = 1;  jump = 1
    for each layer:  r += dilation * (kernel - 1) * jump;  jump *= stride

So n stacked 3x3 convolutions (stride 1) see ``2n + 1`` pixels: 5x5 for two, 7x7 for three, which
is VGG's argument. The *effective* receptive field (Luo et al., 2016) is where a central output
unit's gradient actually lands on the input: it is brightest in the middle and fades well inside
the theoretical square, because central pixels reach the output along many more paths.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.checks import is_int

__all__ = ["effective_receptive_field", "effective_size", "layer_geometry", "receptive_field"]

_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _first(value) -> int:
    """One side of a square kernel/stride/dilation given as an int or a pair."""
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ValueError(f"only square kernels, strides and dilations are supported, got "
                             f"{value}.")
        return value[0]
    return value


def receptive_field(layers: Sequence[Sequence[int]]) -> int:
    """Side, in input pixels, of what one output unit of a chain of layers can see.

    ``layers`` lists ``(kernel_size, stride)`` or ``(kernel_size, stride, dilation)`` per layer,
    input first, e.g. ``[(3, 1), (3, 1)]`` for two stacked 3x3 convolutions (answer 5). Padding
    does not change it. An empty chain sees one pixel.
    """
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of (kernel_size, stride[, dilation]) tuples, "
                        f"not {type(layers).__name__}.")
    side, jump = 1, 1
    for index, layer in enumerate(layers):
        if not isinstance(layer, Sequence) or len(layer) not in (2, 3):
            raise ValueError(f"layers[{index}] = {layer!r}: give (kernel_size, stride) or "
                             "(kernel_size, stride, dilation).")
        if any(not is_int(v) or v < 1 for v in layer):
            raise ValueError(f"layers[{index}] = {layer!r}: kernel size, stride and dilation are "
                             "whole numbers >= 1.")
        kernel, stride, dilation = (*layer, 1)[:3]
        side += dilation * (kernel - 1) * jump
        jump *= stride
    return side


def layer_geometry(model: nn.Module) -> list[tuple[int, int, int]]:
    """``(kernel_size, stride, dilation)`` of every Conv2d, MaxPool2d and AvgPool2d in ``model``.

    Layers are listed in registration order, which is the order data flows through a plain
    chain such as ``vgg.features``; for branching models (Inception, ResNet) the list means
    nothing, so pass one branch at a time.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, not {type(model).__name__}.")
    geometry = []
    for module in model.modules():
        if isinstance(module, _SPATIAL):
            stride = module.stride if module.stride is not None else module.kernel_size
            dilation = getattr(module, "dilation", 1)
            geometry.append((_first(module.kernel_size), _first(stride), _first(dilation)))
    return geometry


def effective_receptive_field(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    samples: int = 8,
    seed: int = 0,
) -> torch.Tensor:
    """Mean |gradient| of the central output unit with respect to the input, as an H x W map.

    ``model`` maps N x C x H x W to N x C' x H' x W' (a feature extractor, not a classifier).
    The gradient of the centre unit (summed over its channels) is taken for ``samples``
    standard-normal inputs, and its magnitude is summed over samples and input channels and
    scaled to a maximum of 1. The model is run in eval mode and left in its own mode; its
    parameters' ``.grad`` are not touched.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, not {type(model).__name__}.")
    if (isinstance(input_size, str | bytes) or len(input_size) != 3
            or any(not is_int(n) or n < 1 for n in input_size)):
        raise ValueError(f"input_size must be (channels, height, width), got {input_size!r}.")
    if not is_int(samples) or samples < 1:
        raise ValueError(f"samples must be a whole number >= 1, got {samples!r}.")
    device = next(model.parameters(), torch.empty(0)).device
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((samples, *input_size), generator=generator).to(device).requires_grad_()
    was_training = model.training
    try:
        with torch.enable_grad():
            out = model.eval()(x)
            if out.dim() != 4:
                raise ValueError(f"model must output feature maps (N x C x H x W), got shape "
                                 f"{tuple(out.shape)}; pass its convolutional part.")
            centre = out[:, :, out.shape[2] // 2, out.shape[3] // 2].sum()
            (grad,) = torch.autograd.grad(centre, x)
    finally:
        model.train(was_training)
    heat = grad.abs().sum(dim=(0, 1)).cpu()
    peak = heat.max()
    if peak == 0:
        raise ValueError("the central output does not depend on the input at all (zero "
                         "gradient); check the model, e.g. for ReLUs that are all off.")
    return heat / peak


def effective_size(erf: torch.Tensor, share: float = 0.9) -> int:
    """Side of the smallest centred square that holds ``share`` of an ERF map's total.

    ``erf`` is an H x W map from :func:`effective_receptive_field`, centred on its middle pixel
    (odd sides keep the square symmetric). Compare it with :func:`receptive_field`.
    """
    if not isinstance(erf, torch.Tensor) or erf.dim() != 2:
        raise ValueError("erf must be an H x W tensor, as effective_receptive_field returns.")
    if not 0 < share <= 1:
        raise ValueError(f"share is a fraction in (0, 1], got {share!r}.")
    height, width = erf.shape
    total = erf.sum()
    cy, cx = height // 2, width // 2
    for half in range(max(height, width)):
        window = erf[max(0, cy - half):cy + half + 1, max(0, cx - half):cx + half + 1]
        if window.sum() >= share * total * (1 - 1e-6):
            return 2 * half + 1
    return max(height, width)
