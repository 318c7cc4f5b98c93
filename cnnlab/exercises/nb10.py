"""Notebook 10 (pix2pix): an encoder step's parameters in each variant, the U-Net's skip join,
per-pixel accuracy, and the PatchGAN's receptive field at a given depth."""

import torch

from cnnlab.grading import Case, Exercise
from cnnlab.layers import skip_concat
from cnnlab.layers.unet import encoder_operator
from cnnlab.models.pix2pix import patchgan_layers
from cnnlab.receptive_field import receptive_field
from cnnlab.train import pixel_accuracy


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def encoder_params(variant: str, in_channels: int, out_channels: int, mid_channels: int,
                   kernel_size: int = 4, groups: int = 1) -> int:
    """Weights of one encoder step's operator (no norm, no bias), counted from the module."""
    op = encoder_operator(variant, in_channels, out_channels, kernel_size=kernel_size,
                          mid_channels=mid_channels, groups=groups)
    return sum(p.numel() for p in op.parameters())


def patch_receptive_field(n_layers: int) -> int:
    """The side of the input patch one PatchGAN logit sees, with ``n_layers`` stride-2 layers."""
    return receptive_field(patchgan_layers(n_layers))


def _shuffle_eq_4_8(variant, in_channels, out_channels, mid_channels, kernel_size=4, groups=1):
    """Eq. 4.8's shuffle count (last 1x1 in 2g groups), which the built unit does not follow."""
    if variant != "shuffle":
        return encoder_params(variant, in_channels, out_channels, mid_channels, kernel_size, groups)
    return (in_channels * mid_channels // groups + kernel_size**2 * mid_channels
            + mid_channels * out_channels // (2 * groups))


def _accuracy_any_channel(fake, real, tolerance=0.05):
    return 100 * (((fake - real).abs() / 2 <= tolerance).any(1)).flatten(1).float().mean(1)


EXERCISES = [
    Exercise(
        id="10.encoder_params",
        points=2,
        reference=encoder_params,
        uses=[Case((v, 32, 32, 16, 4, g)) for v, g in
              [("conv", 1), ("dsc", 1), ("shift", 1), ("shuffle", 8)]],
        visible=[
            Case(("conv", 32, 32, 16), why="the seed's worked example, a plain 4x4 conv"),
            Case(("dsc", 32, 32, 16), why="the worked example as a DSC"),
            Case(("shift", 32, 32, 16), why="the worked example as a shift step"),
            Case(("shuffle", 32, 32, 16, 4, 8), why="the worked example as a shuffle step, g = 8"),
        ],
        hidden=[
            Case(("conv", 64, 128, 32), why="unet_256's second encoder step"),
            Case(("dsc", 512, 512, 256), why="a 512-channel DSC step"),
            Case(("shift", 3, 64, 1), why="the first step on the image, m = 1"),
            Case(("shuffle", 256, 512, 128, 4, 8), why="a wider shuffle step"),
            Case(("shuffle", 64, 128, 32, 3, 4), why="a 3x3 shuffle step with 4 groups"),
        ],
        hint=("Each variant replaces one linear map: list its convolutions in order and, for each, "
              "ask how many input channels one filter sees and how big its window is.",
              "Weights of a conv = K_h K_w (in / groups) out. conv: K^2 M N. dsc: depthwise K^2 M, "
              "then 1x1 M N. shift: 1x1 M m + 1x1 m N (the shift has none). shuffle: grouped 1x1 "
              "M m / g, depthwise K^2 m, grouped 1x1 m N / g. Return an int."),
        slips={"the shuffle's last 1x1 is grouped in 2g, as eq. 4.8 prints it, not in g as built":
               _shuffle_eq_4_8},
    ),
    Exercise(
        id="10.skip_concat",
        points=1,
        reference=skip_concat,
        visible=[
            Case((_randn(1, 2, 4, 4, seed=1), _randn(1, 3, 4, 4, seed=2)),
                 why="two and three channels on a 4x4 map"),
        ],
        hidden=[
            Case((_randn(2, 4, 2, 2, seed=3), _randn(2, 4, 2, 2, seed=4)),
                 why="equal widths, a batch of two"),
            Case((_randn(1, 1, 8, 8, seed=5), _randn(1, 5, 8, 8, seed=6)),
                 why="a narrow skip and a wide decoder map"),
        ],
        hint=("The decoder step must see the encoder's map of the same size beside its own: along "
              "which dimension do two maps of the same side stack?",
              "torch.cat along dim 1 (the channels), the encoder's map (skip) first, then the "
              "decoder's (up), as the reference implementation's cat([x, block(x)], 1)."),
    ),
    Exercise(
        id="10.pixel_accuracy",
        points=2,
        reference=pixel_accuracy,
        visible=[
            Case((_randn(2, 3, 4, 4, seed=7) * 0.1, torch.zeros(2, 3, 4, 4)),
                 why="small errors around a grey target, some beyond the tolerance"),
        ],
        hidden=[
            Case((torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.08)),
                 why="every pixel 0.04 off on [0, 1]: all within the tolerance"),
            Case((_randn(3, 3, 5, 5, seed=8).clamp(-1, 1), _randn(3, 3, 5, 5, seed=9).clamp(-1, 1)),
                 why="unrelated images"),
            Case((_randn(2, 3, 4, 4, seed=10) * 0.1, torch.zeros(2, 3, 4, 4), 0.02),
                 why="a tighter tolerance"),
        ],
        hint=("A pixel is right only when its colour is close in every channel; images here are on "
              "[-1, 1], the tolerance on [0, 1]. One value per image, in percent.",
              "close = ((fake - real).abs() / 2 <= tolerance).all(dim=1), then 100 times the mean "
              "of close over each image's pixels: close.flatten(1).float().mean(1)."),
        slips={"a pixel counts as right when any one channel is close, not all three":
               _accuracy_any_channel},
    ),
    Exercise(
        id="10.patch_receptive_field",
        points=1,
        reference=patch_receptive_field,
        visible=[
            Case((3,), why="pix2pix's default PatchGAN"),
            Case((1,), why="one stride-2 layer"),
        ],
        hidden=[
            Case((0,), why="no stride-2 layer: only the two stride-1 convs"),
            Case((2,), why="two stride-2 layers"),
            Case((5,), why="a deep discriminator"),
        ],
        hint=("Walk through the layers from the input: each 4x4 conv widens the view by 3 steps, and "
              "a step is as many input pixels as the strides before it multiply to.",
              "r = 1, jump = 1; for n_layers 4x4 convs at stride 2, then two at stride 1: "
              "r += 3 * jump; jump *= stride. Return an int."),
    ),
]
