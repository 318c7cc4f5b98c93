"""pix2pix: seed 002's table 13 parameter counts, section 4.4.3's worked example, the U-Net and
the PatchGAN's shapes and receptive field.

Table 13 counts the generator alone (unet_256, 64 base filters, BatchNorm): the base, DSC and
Shift rows are reproduced to the printed 0.01M. The Shuffle row is not: see
``test_shuffle_has_no_unique_count``.
"""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cnnlab import arithmetic, config, data, train
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


# --- training --------------------------------------------------------------------------------


def small_pair(seed, ngf=8):
    config.seed_everything(seed)
    return pix2pix.generator("unet_32", ngf=ngf), pix2pix.PatchGAN(ndf=ngf, n_layers=2)


def aerial_to_map(length, seed=0):
    pairs = data.Swapped(data.PairedShapes("train", size=32, length=length))
    return DataLoader(pairs, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(seed))


def test_an_interrupted_gan_training_resumes_to_the_same_weights(tmp_path):
    G, D = small_pair(0)
    whole = train.fit_gan(G, D, aerial_to_map(12), epochs=2, progress=False, seed=3)
    G1, D1 = small_pair(0)
    train.fit_gan(G1, D1, aerial_to_map(12), epochs=1, progress=False, seed=3,
                  checkpoint_dir=tmp_path)
    torch.manual_seed(123)  # a new process: other RNG state, other initial weights
    G2, D2 = pix2pix.generator("unet_32", ngf=8), pix2pix.PatchGAN(ndf=8, n_layers=2)
    resumed = train.fit_gan(G2, D2, aerial_to_map(12), epochs=2, progress=False,
                            checkpoint_dir=tmp_path)
    for ours, theirs in [(G, G2), (D, D2)]:
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(),
                                strict=True):
            assert torch.equal(a, b), name
    assert resumed.step_l1 == whole.step_l1


def test_a_checkpoint_of_another_pair_is_refused(tmp_path):
    G, D = small_pair(0)
    train.fit_gan(G, D, aerial_to_map(4), epochs=1, progress=False, checkpoint_dir=tmp_path)
    G, D = small_pair(0, ngf=16)
    with pytest.raises(train.CheckpointMismatchError, match="different model"):
        train.fit_gan(G, D, aerial_to_map(4), epochs=1, progress=False, checkpoint_dir=tmp_path)


L1_FALL = 0.6  # stated in notebook 10: the last steps' L1 is under 60% of the first steps'


def test_the_base_generators_l1_falls_clearly_in_a_smoke_run_for_most_seeds():
    """Notebook 10's smoke set-up (unet_32, 16 base filters, lr 1e-3, 16 steps of 8 pairs):
    the mean L1 of the last 4 steps is under L1_FALL of the first 4's in at least 4 of 5 seeds."""
    falls = []
    for seed in range(5):
        G, D = small_pair(seed, ngf=16)
        loader = DataLoader(data.Swapped(data.PairedShapes("train", size=32, length=64)),
                            batch_size=8, shuffle=True)
        steps = train.fit_gan(G, D, loader, epochs=2, lr=1e-3, progress=False).step_l1
        falls.append(sum(steps[-4:]) / sum(steps[:4]))
    assert sum(f < L1_FALL for f in falls) >= 4, falls


def test_pixel_accuracy_counts_pixels_within_the_tolerance_in_every_channel():
    real = torch.zeros(2, 3, 2, 2)
    fake = real.clone()
    fake[0, 0, 0, 0] = 0.2  # 0.1 on [0, 1]: beyond 0.05
    fake[1, 2, 1, 1] = 0.08  # 0.04: within
    assert train.pixel_accuracy(fake, real).tolist() == [75.0, 100.0]
    with pytest.raises(ValueError, match="same shape"):
        train.pixel_accuracy(fake[0], real)


def test_mean_interval_is_the_normal_95_percent_half_width():
    mean, half = train.mean_interval([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and half == pytest.approx(1.96 * (5 / 3) ** 0.5 / 2)
    with pytest.raises(ValueError, match="at least 2"):
        train.mean_interval([1.0])


# --- the real maps <-> satellite folders ----------------------------------------------------


def write_maps(root, split, count, side=20):
    """Tiny pairs in pix2pix's layout: root/split/N.jpg, satellite left, map right."""
    (root / split).mkdir(parents=True)
    for n in range(1, count + 1):
        pair = np.zeros((side, 2 * side, 3), dtype=np.uint8)
        pair[:, :side] = (200, 40, 40)  # "satellite": red
        pair[:, side:] = (40, 40, 200)  # "map": blue
        Image.fromarray(pair).save(root / split / f"{n}.jpg", quality=95)


def test_paired_folder_reads_the_real_layout_in_both_directions(tmp_path):
    write_maps(tmp_path, "train", 3)
    write_maps(tmp_path, "val", 2)
    train_set = data.PairedFolder(tmp_path, "train", size=16)
    assert len(train_set) == 3 and len(data.PairedFolder(tmp_path, "val")) == 2
    satellite, map_ = train_set[0]
    assert satellite.shape == map_.shape == (3, 16, 16)
    assert satellite.min() >= -1 and satellite.max() <= 1
    assert satellite[0].mean() > satellite[2].mean() and map_[2].mean() > map_[0].mean()
    flipped = data.PairedFolder(tmp_path, "train", size=16, direction="BtoA")[0]
    assert torch.equal(flipped[0], map_) and torch.equal(flipped[1], satellite)
    batch = next(iter(DataLoader(train_set, batch_size=2)))
    assert batch[0].shape == (2, 3, 16, 16)


def test_paired_folder_says_what_is_missing_or_wrong(tmp_path):
    write_maps(tmp_path, "train", 1)
    with pytest.raises(data.DataNotFoundError, match="train"):
        data.PairedFolder(tmp_path, "test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataNotFoundError, match="holds no"):
        data.PairedFolder(tmp_path, "empty")
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(tmp_path / "train" / "2.jpg")
    with pytest.raises(ValueError, match="side by side"):
        data.PairedFolder(tmp_path, "train")[1]
    with pytest.raises(ValueError, match="direction"):
        data.PairedFolder(tmp_path, "train", direction="AB")


def test_the_real_or_fake_quiz_records_answers_and_scores_generated_images_taken_for_real():
    from cnnlab.widgets import RealOrFakeQuiz

    images = [torch.zeros(3, 4, 4)] * 4
    quiz = RealOrFakeQuiz(images, [True, False, True, False], seed=1)
    box = quiz.widget()
    fake_button = box.children[0].children[1]
    for _ in range(4):
        fake_button.click()  # as a learner would
    assert quiz.done and sorted(i for i, _, _ in quiz.answers) == [0, 1, 2, 3]
    assert quiz.error_rate() == 0.0
    quiz = RealOrFakeQuiz(images, [True, False, True, False], seed=1)
    for _ in range(4):
        quiz.answer(False)
    assert quiz.error_rate() == 1.0
    with pytest.raises(RuntimeError, match="answered"):
        quiz.answer(True)
    with pytest.raises(ValueError, match="one is_fake flag per image"):
        RealOrFakeQuiz(images, [True])


def test_fit_gan_hands_the_generator_to_on_epoch_after_every_epoch_for_sample_grids():
    G, D = small_pair(0)
    seen = []
    train.fit_gan(G, D, aerial_to_map(4), epochs=2, progress=False,
                  on_epoch=lambda epoch, g: seen.append((epoch, g is G, g.training)))
    assert seen == [(1, True, False), (2, True, False)]
