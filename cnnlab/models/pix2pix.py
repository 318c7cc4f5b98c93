"""pix2pix (Isola et al., 2017): a U-Net generator and a 70x70 PatchGAN discriminator, and the
generator with optimised encoders of seed 002 (section 4.4.3, table 13).

``UNET_DEPTHS`` is the config table: how many stride-2 steps each U-Net takes (the bottleneck is
1x1, so the image side is ``2 ** depth``). ``unet_256`` at 64 base filters with BatchNorm is
the reference implementation's default, the generator the dissertation trained; ``unet_32``
is the shallow form the smoke profile trains in seconds. Encoder widths double from ``ngf`` up
to ``8 ngf``; the decoder mirrors them and reads each skip, so its inputs are twice as wide.

These networks map images to images, so they are built here, not through the classifier
registry (:func:`cnnlab.models.create` promises class scores).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnlab.checks import integer
from cnnlab.layers.conv import Factory
from cnnlab.layers.unet import PatchLayer, UNetDown, UNetUp, mid_width, skip_concat
from cnnlab.layers.variants import Variant

__all__ = ["ENCODERS", "UNET_DEPTHS", "PatchGAN", "UNet", "generator", "patchgan_layers"]

UNET_DEPTHS = {"unet_256": 8, "unet_128": 7, "unet_64": 6, "unet_32": 5}
# The dissertation's four generators (table 13): the encoder operator and its groups.
ENCODERS = {"base": ("conv", 1), "dsc": ("dsc", 1), "shift": ("shift", 1),
            "shuffle": ("shuffle", 8)}


def encoder_widths(depth: int, ngf: int = 64) -> list[int]:
    """Output channels of each encoder step: ``ngf * 2 ** i``, capped at ``8 ngf``."""
    return [ngf * min(2**i, 8) for i in range(integer("depth", depth))]


class UNet(nn.Module):
    """The U-Net generator: ``depth`` encoder steps, ``depth`` decoder steps, a skip at each
    level but the innermost.

    ``variant`` / ``groups`` / ``mid_channels`` choose every encoder step's operator
    (:class:`cnnlab.layers.unet.UNetDown`); a step whose widths cannot be split into ``groups``
    (the image's 3 channels) takes the largest group count that divides them. ``dropout`` (0.5
    in pix2pix) acts in the decoder steps at ``8 ngf`` below the innermost, as in the reference.
    """

    def __init__(self, depth: int = 8, *, in_channels: int = 3, out_channels: int = 3,
                 ngf: int = 64, variant: str | Variant = "conv", groups: int = 1,
                 mid_channels: int | None = None,
                 norm_layer: Factory | None = nn.BatchNorm2d, dropout: float = 0.5):
        super().__init__()
        depth = integer("depth", depth, minimum=2)
        widths = encoder_widths(depth, integer("ngf", ngf))
        inputs = [integer("in_channels", in_channels), *widths[:-1]]
        self.down = nn.ModuleList()
        for level, (m, n) in enumerate(zip(inputs, widths, strict=True)):
            outer, inner = level == 0, level == depth - 1
            fitted = math.gcd(integer("groups", groups), m, mid_width(m, mid_channels))
            self.down.append(UNetDown(
                m, n, variant=variant, groups=fitted,
                mid_channels=mid_channels, activate=not outer, normalize=not (outer or inner),
                norm_layer=norm_layer))
        self.up = nn.ModuleList()
        for level in reversed(range(depth)):
            outer, inner = level == 0, level == depth - 1
            self.up.append(UNetUp(
                widths[level] if inner else 2 * widths[level],
                integer("out_channels", out_channels) if outer else inputs[level],
                outermost=outer, norm_layer=norm_layer,
                dropout=dropout if 4 <= level <= depth - 2 else 0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for step in self.down:
            x = step(x)
            skips.append(x)
        skips.pop()  # the innermost map goes straight up
        for step in self.up:
            x = step(x)
            if skips:
                x = skip_concat(skips.pop(), x)
        return x


def generator(name: str = "unet_256", encoder: str = "base", *, ngf: int = 64,
              norm_layer: Factory | None = nn.BatchNorm2d, **options) -> UNet:
    """A U-Net from ``UNET_DEPTHS[name]`` with one of the dissertation's ``ENCODERS``.

    ``options`` go to :class:`UNet` (e.g. ``groups``, ``mid_channels``, ``dropout``)."""
    if name not in UNET_DEPTHS:
        raise ValueError(f"unknown U-Net {name!r}; use one of {', '.join(UNET_DEPTHS)}.")
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}.")
    variant, groups = ENCODERS[encoder]
    options = {"variant": variant, "groups": groups, **options}
    return UNet(UNET_DEPTHS[name], ngf=ngf, norm_layer=norm_layer, **options)


def patchgan_layers(n_layers: int = 3) -> list[tuple[int, int]]:
    """``(kernel_size, stride)`` of the PatchGAN's convolutions: ``n_layers`` at stride 2,
    then two at stride 1 (70x70 for ``n_layers=3``), for :func:`cnnlab.receptive_field`."""
    return [(4, 2)] * integer("n_layers", n_layers, minimum=0) + [(4, 1), (4, 1)]


class PatchGAN(nn.Sequential):
    """The PatchGAN discriminator: it scores every overlapping patch of (condition, image) as
    real or fake, one logit per patch (70x70 pixels at ``n_layers=3``).

    Its input is the condition and the image stacked: ``in_channels`` = 3 + 3.
    """

    def __init__(self, in_channels: int = 6, *, ndf: int = 64, n_layers: int = 3,
                 norm_layer: Factory | None = nn.BatchNorm2d):
        geometry = patchgan_layers(n_layers)
        widths = [integer("ndf", ndf) * min(2**i, 8) for i in range(len(geometry) - 1)]
        layers = [PatchLayer(integer("in_channels", in_channels), widths[0], geometry[0][1],
                             norm_layer=None, bias=True)]
        for (m, n), (_, stride) in zip(zip(widths, widths[1:], strict=False), geometry[1:-1], strict=True):
            layers.append(PatchLayer(m, n, stride, norm_layer=norm_layer))
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        super().__init__(*layers)
