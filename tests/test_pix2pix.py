"""pix2pix: seed 002's table 13 parameter counts, section 4.4.3's worked example, the U-Net and
the PatchGAN's shapes and receptive field.

Table 13 counts the generator alone (unet_256, 64 base filters, BatchNorm): the base, DSC and
Shift rows are reproduced to the printed 0.01M. The Shuffle row is not: see
``test_shuffle_has_no_unique_count``.
"""

import pytest
import torch

from cnnlab import arithmetic
from cnnlab.layers.unet import UNetDown, encoder_operator, skip_concat
from cnnlab.models import pix2pix
from cnnlab.published import SEED002_TABLE13
from cnnlab.receptive_field import layer_geometry, receptive_field


def count(module):
    return sum(p.numel() for p in module.parameters())


def generator_on_meta(encoder, name="unet_256"):
    with torch.device("meta"):
        return pix2pix.generator(name, encoder)


@pytest.mark.parametrize("encoder, row", [("base", 0), ("dsc", 1), ("shift", 2)])
def test_generator_alone_matches_table_13(encoder, row):
    published = SEED002_TABLE13[row].params_millions
    assert round(count(generator_on_meta(encoder)) / 1e6, 2) == published


def test_table_13_counts_the_generator_alone_not_with_the_discriminator():
    with torch.device("meta"):
        discriminator = pix2pix.PatchGAN()
    d = count(discriminator)
    assert round(d / 1e6, 3) == 2.769  # the reference implementation prints 2.769 M for D
    for encoder, row in [("base", 0), ("dsc", 1), ("shift", 2)]:
        both = count(generator_on_meta(encoder)) + d
        assert round(both / 1e6, 2) != SEED002_TABLE13[row].params_millions
    assert round((count(generator_on_meta("base")) + d) / 1e6, 2) == 57.18


def test_exact_generator_counts():
    """The whole counts, so a change to any layer shows (BatchNorm's 2 per channel included)."""
    assert count(generator_on_meta("base")) == 54_413_955
    assert count(generator_on_meta("dsc")) == 36_141_939
    assert count(generator_on_meta("shift")) == 36_058_822


def test_shuffle_has_no_unique_count():
    """The principled unit (grouped 1x1 M -> M/2, shuffle, depthwise 4x4 stride 2, grouped 1x1
    M/2 -> N, g = 8 on both 1x1s; the image's 3 channels ungrouped) gives 35.05M, 0.55M under
    the seed's 35.60M; eq. 4.8's last 1x1 at 2g groups would give fewer still, not more."""
    principled = count(generator_on_meta("shuffle"))
    assert principled == 35_048_406
    assert round(principled / 1e6, 2) == 35.05
    assert SEED002_TABLE13[3].params_millions - principled / 1e6 == pytest.approx(0.55, abs=0.01)


def test_worked_example_of_section_4_4_3():
    """M = N = 32, m = 16, K = 4, g = 8: 16,384 / 1,536 / 352 / 1,024 from the equations; the
    modules agree except Shuffle, whose eq. 4.8 groups the last 1x1 in 2g = 16 (32 weights)
    where the unit built here uses g (64): 384."""
    assert arithmetic.params_standard_conv(32, 32, 4) == 16_384
    assert arithmetic.params_dsc(32, 32, 4) == 1_536
    assert arithmetic.params_residual_shuffle(32, 16, 4, 8) == 352
    assert arithmetic.params_shift_module(32, 16) == 1_024
    built = {v: count(encoder_operator(v, 32, 32, mid_channels=16, groups=g))
             for v, g in [("conv", 1), ("dsc", 1), ("shuffle", 8), ("shift", 1)]}
    assert built == {"conv": 16_384, "dsc": 1_536, "shuffle": 384, "shift": 1_024}


@pytest.mark.parametrize("encoder", list(pix2pix.ENCODERS))
def test_every_encoder_halves_the_side_and_the_unet_keeps_the_image_shape(encoder):
    g = pix2pix.generator("unet_32", encoder, ngf=16).eval()
    x = torch.randn(2, 3, 32, 32)
    assert g(x).shape == (2, 3, 32, 32)
    assert g(x).abs().max() <= 1  # tanh
    step = UNetDown(16, 32, variant=pix2pix.ENCODERS[encoder][0],
                    groups=pix2pix.ENCODERS[encoder][1])
    assert step(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)


def test_unet_256_ends_in_a_1x1_bottleneck_and_drops_out_three_decoder_steps():
    g = generator_on_meta("base")
    widths = [step.op.conv.out_channels for step in g.down]
    assert widths == [64, 128, 256, 512, 512, 512, 512, 512]
    assert sum(isinstance(m, torch.nn.Dropout) for m in g.modules()) == 3
    assert "act" not in dict(g.down[0].named_children())  # the image is not activated
    assert "norm" not in dict(g.down[-1].named_children())  # a 1x1 map: no BatchNorm


def test_skip_concat_puts_the_encoder_map_first_and_refuses_other_sides():
    skip, up = torch.zeros(1, 2, 4, 4), torch.ones(1, 3, 4, 4)
    joined = skip_concat(skip, up)
    assert joined.shape == (1, 5, 4, 4) and joined[:, :2].eq(0).all() and joined[:, 2:].eq(1).all()
    with pytest.raises(ValueError, match="same batch and side"):
        skip_concat(skip, torch.ones(1, 3, 2, 2))


def test_patchgan_sees_70x70_and_scores_a_30x30_grid_at_256():
    with torch.device("meta"):
        d = pix2pix.PatchGAN()
    assert receptive_field(layer_geometry(d)) == 70
    assert receptive_field(pix2pix.patchgan_layers(3)) == 70
    assert [receptive_field(pix2pix.patchgan_layers(n)) for n in (1, 2, 3, 4)] == [16, 34, 70, 142]
    with torch.device("meta"):
        assert pix2pix.PatchGAN()(torch.empty(1, 6, 256, 256)).shape == (1, 1, 30, 30)


def test_bad_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unet_256"):
        pix2pix.generator("unet_512")
    with pytest.raises(ValueError, match="shuffle"):
        pix2pix.generator("unet_32", "squeeze")
