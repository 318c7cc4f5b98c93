"""Inception: the v3 / v4 / Inception-ResNet blocks against torchvision's and hand-counted
parameters, GoogLeNet and Inception-v3 against torchvision (weights through the key translation,
identical outputs, aux heads in training only), the loss weighting, and seed 000's counts.

Counts and shapes use the meta device; only the torchvision equivalence tests compute."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import inception as tv_inception

from cnnlab import models
from cnnlab.layers import InceptionModule, InceptionResNetBlock, Mixed
from cnnlab.layers import inception as blocks
from cnnlab.models.googlenet import InceptionOutputs, inception_loss
from cnnlab.models.torchvision_keys import load_torchvision_state_dict
from cnnlab.summary import cost_of, summary


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def convs(*layers, norm=True, bias=False) -> int:
    """Parameters of (in, out, kh, kw) convolutions, each with a BN (2 per output) or not."""
    return sum(i * o * kh * kw + (2 * o if norm else 0) + (o if bias else 0)
               for i, o, kh, kw in layers)


def calibrated(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Batch norm's running statistics set from one batch: with freshly initialised weights the
    eval-mode activations would otherwise vanish (GoogLeNet) or explode (Inception-v3), and
    outputs that barely depend on the input would prove little."""
    model.eval()  # the auxiliary heads stay off; only the norms learn from the batch
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average: after one batch, that batch's statistics
            module.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def out_shape(module: nn.Module, shape) -> tuple:
    with torch.device("meta"):
        return tuple(module.to("meta")(torch.empty(1, *shape)).shape[1:])


# ------------------------------------------------------------------------ v3 blocks


V3_TWINS = [  # (ours, torchvision's, input shape, output shape)
    (lambda: blocks.inception_v3_a(192, 32), lambda: tv_inception.InceptionA(192, 32),
     (192, 35, 35), (256, 35, 35)),
    (lambda: blocks.inception_v3_b(288), lambda: tv_inception.InceptionB(288),
     (288, 35, 35), (768, 17, 17)),
    (lambda: blocks.inception_v3_c(768, 160), lambda: tv_inception.InceptionC(768, 160),
     (768, 17, 17), (768, 17, 17)),
    (lambda: blocks.inception_v3_d(768), lambda: tv_inception.InceptionD(768),
     (768, 17, 17), (1280, 8, 8)),
    (lambda: blocks.inception_v3_e(1280), lambda: tv_inception.InceptionE(1280),
     (1280, 8, 8), (2048, 8, 8)),
]


@pytest.mark.parametrize("ours,theirs,in_shape,expected", V3_TWINS, ids="ABCDE")
def test_v3_blocks_match_torchvision_in_shape_parameters_and_conv_macs(ours, theirs, in_shape,
                                                                       expected):
    with torch.device("meta"):
        mine, reference = ours(), theirs()
    assert mine.out_channels == expected[0]
    assert out_shape(mine, in_shape) == expected
    assert count(mine) == count(reference)
    conv_macs = [sum(row["macs"] for row in summary(m, in_shape, device="meta").rows
                     if row["type"] == "Conv2d") for m in (mine, reference)]
    assert conv_macs[0] == conv_macs[1] > 0


def test_v3_factorisation_costs_what_the_paper_says():
    # 5x5 -> two 3x3: 18/25 of the weights for equal widths (28% cheaper).
    five = Mixed(64, {"b": [(64, 5)]}, norm_layer=None)
    two = Mixed(64, {"b": [(64, 3), (64, 3)]}, norm_layer=None)
    assert count(two) / count(five) == 18 / 25
    # n x n -> 1 x n + n x 1: 2/n of the weights, the same field; n=3 saves a third.
    for n in (3, 7):
        square = Mixed(32, {"b": [(32, n)]}, norm_layer=None)
        factorised = Mixed(32, {"b": [(32, (1, n)), (32, (n, 1))]}, norm_layer=None)
        assert count(factorised) / count(square) == pytest.approx(2 / n)
        assert out_shape(factorised, (32, 9, 9)) == out_shape(square, (32, 9, 9))
    # The C block really is 1x7 then 7x1 (and 7x1 first in the double branch).
    c = blocks.inception_v3_c(768, 128)
    assert [unit.conv.kernel_size for unit in c.branch7x7[1:]] == [(1, 7), (7, 1)]
    assert [unit.conv.kernel_size for unit in c.branch7x7dbl[1:]] == [(7, 1), (1, 7)] * 2


# ------------------------------------------------------------------------ v4 and Inception-ResNet


def test_v4_blocks_have_the_papers_shapes_and_parameters():
    a, b, c = blocks.inception_v4_a(), blocks.inception_v4_b(), blocks.inception_v4_c()
    assert out_shape(a, (384, 35, 35)) == (384, 35, 35)
    assert count(a) == convs((384, 96, 1, 1), (384, 96, 1, 1), (384, 64, 1, 1), (64, 96, 3, 3),
                             (384, 64, 1, 1), (64, 96, 3, 3), (96, 96, 3, 3))
    assert out_shape(b, (1024, 17, 17)) == (1024, 17, 17)
    assert count(b) == convs((1024, 128, 1, 1), (1024, 384, 1, 1), (1024, 192, 1, 1),
                             (192, 224, 1, 7), (224, 256, 7, 1), (1024, 192, 1, 1),
                             (192, 192, 1, 7), (192, 224, 7, 1), (224, 224, 1, 7),
                             (224, 256, 7, 1))
    assert out_shape(c, (1536, 8, 8)) == (1536, 8, 8)
    assert count(c) == convs((1536, 256, 1, 1), (1536, 256, 1, 1), (1536, 384, 1, 1),
                             (384, 256, 1, 3), (384, 256, 3, 1), (1536, 384, 1, 1),
                             (384, 448, 1, 3), (448, 512, 3, 1), (512, 256, 1, 3),
                             (512, 256, 3, 1))
    ra, rb = blocks.reduction_a(), blocks.reduction_b()
    assert out_shape(ra, (384, 35, 35)) == (384 + 384 + 256, 17, 17)  # pool | n | m
    assert count(ra) == convs((384, 384, 3, 3), (384, 192, 1, 1), (192, 224, 3, 3),
                              (224, 256, 3, 3))
    assert out_shape(rb, (1024, 17, 17)) == (1536, 8, 8)
    assert count(rb) == convs((1024, 192, 1, 1), (192, 192, 3, 3), (1024, 256, 1, 1),
                              (256, 256, 1, 7), (256, 320, 7, 1), (320, 320, 3, 3))


@pytest.mark.parametrize("build,shape,inner", [
    (blocks.inception_resnet_a, (384, 35, 35),
     [(384, 32, 1, 1), (384, 32, 1, 1), (32, 32, 3, 3), (384, 32, 1, 1), (32, 48, 3, 3),
      (48, 64, 3, 3)]),
    (blocks.inception_resnet_b, (1154, 17, 17),
     [(1154, 192, 1, 1), (1154, 128, 1, 1), (128, 160, 1, 7), (160, 192, 7, 1)]),
    (blocks.inception_resnet_c, (2048, 8, 8),
     [(2048, 192, 1, 1), (2048, 192, 1, 1), (192, 224, 1, 3), (224, 256, 3, 1)]),
], ids="ABC")
def test_inception_resnet_blocks_keep_the_shape_and_add_a_linear_1x1(build, shape, inner):
    block = build()
    assert out_shape(block, shape) == shape
    widths = {"A": 128, "B": 384, "C": 448}[build.__name__[-1].upper()]
    assert block.branches.out_channels == widths
    assert count(block) == convs(*inner) + convs((widths, shape[0], 1, 1), norm=False, bias=True)


@pytest.mark.parametrize("build,shape", [
    (blocks.inception_v4_a, (384, 35, 35)), (blocks.inception_v4_b, (1024, 17, 17)),
    (blocks.inception_v4_c, (1536, 8, 8)), (blocks.reduction_a, (384, 35, 35)),
    (blocks.reduction_b, (1024, 17, 17)), (blocks.inception_resnet_a, (384, 35, 35)),
    (blocks.inception_resnet_b, (1154, 17, 17)), (blocks.inception_resnet_c, (2048, 8, 8)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_v4_and_inception_resnet_costs_are_measured_from_the_modules(build, shape):
    with torch.device("meta"):
        block = build()
    table = summary(block, shape, device="meta")
    assert all(row["ruled"] for row in table.rows)
    conv_macs = sum(row["macs"] for row in table.rows if row["type"] == "Conv2d")
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        block(torch.empty(1, *shape))
    assert 2 * conv_macs == counter.get_total_flops() > 0


def test_inception_resnet_block_is_a_scaled_residual():
    torch.manual_seed(0)
    block = InceptionResNetBlock(8, {"1x1": [(4, 1)], "3x3": [(4, 1), (4, 3)]}, scale=0.2).eval()
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        expected = F.relu(x + 0.2 * block.up(block.branches(x)))
        torch.testing.assert_close(block(x), expected)
        nn.init.zeros_(block.up.weight), nn.init.zeros_(block.up.bias)
        torch.testing.assert_close(block(x), F.relu(x))


def test_bad_block_tables_are_explained():
    with pytest.raises(ValueError, match="pool must be one of"):
        Mixed(8, {"b": ["median"]})
    with pytest.raises(ValueError, match="widen must be one of"):
        InceptionModule(8, 4, 4, 4, large_branch="3x3+3x3", widen="middle")
    with pytest.raises(TypeError, match="out_channels must be an int"):
        Mixed(8, {"b": [(4.5, 1)]})


# ------------------------------------------------------------------------ GoogLeNet


def test_googlenet_loads_torchvision_weights_with_identical_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(aux_logits=True, init_weights=True, weights=None)
    calibrated(reference, torch.randn(4, 3, 96, 96))
    with torch.device("meta"):
        ours = models.create("googlenet")
    copied = {key: tensor.clone() for key, tensor in reference.state_dict().items()}
    load_torchvision_state_dict(ours, copied, assign=True)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference.eval()(x)
        assert (expected[0] - expected[1]).abs().max() > 0.1  # the input matters
        torch.testing.assert_close(ours.eval()(x), expected)
        ours.features.inception5b.branch4[1].conv.weight[0, 0] += 1  # one weight off shows
        assert not torch.allclose(ours(x), expected)
        ours.features.inception5b.branch4[1].conv.weight[0, 0] -= 1
    # Training: main and both auxiliary logits, the same dropout masks under the same seed.
    reference.train(), ours.train()
    torch.manual_seed(2)
    theirs = reference(x)
    torch.manual_seed(2)
    mine = ours(x)
    assert isinstance(mine, InceptionOutputs) and len(mine.aux) == 2
    torch.testing.assert_close(mine.logits, theirs.logits)
    torch.testing.assert_close(mine.aux, (theirs.aux_logits1, theirs.aux_logits2))
    # transform_input changes no weights, only what the stem sees.
    with torch.device("meta"):
        transformed = models.create("googlenet", transform_input=True)
    reference.transform_input = True
    load_torchvision_state_dict(transformed, reference.state_dict(), assign=True)
    with torch.no_grad():
        torch.testing.assert_close(transformed.eval()(x), reference.eval()(x))


def test_googlenet_key_translation_refuses_what_does_not_fit():
    with torch.device("meta"):
        ours = models.create("googlenet")
        no_aux = torchvision.models.googlenet(aux_logits=False, init_weights=False).state_dict()
        ten = torchvision.models.googlenet(num_classes=10, aux_logits=True,
                                           init_weights=False).state_dict()
        vgg = torchvision.models.vgg11().state_dict()
    with pytest.raises(ValueError, match=r"lacks 20 key\(s\) \(aux1\.conv\.conv\.weight"):
        load_torchvision_state_dict(ours, no_aux)
    with pytest.raises(ValueError, match=r"shapes differ for 6 key\(s\) \(aux1\.fc2\.weight "
                                         r"\(10, 1024\) \(expected \(1000, 1024\)\)"):
        load_torchvision_state_dict(ours, ten)
    with pytest.raises(ValueError, match=r"key\(s\) \(features\.0\.weight.* name no layer"):
        load_torchvision_state_dict(ours, vgg)


def test_googlenet_saves_parameters_in_its_head():
    with torch.device("meta"):
        alexnet, googlenet = models.create("alexnet"), models.create("googlenet", aux_logits=False)
    assert (count(alexnet.classifier), count(googlenet.fc)) == (58_631_144, 1_025_000)
    assert (count(alexnet), count(googlenet)) == (61_100_840, 6_624_904)
    assert round(count(alexnet) / count(googlenet), 1) == 9.2  # not the rounded figures' 12


def test_auxiliary_heads_run_in_training_only():
    with torch.device("meta"):
        x = torch.empty(2, 3, 224, 224)
        model = models.create("googlenet")
        assert model.eval()(x).shape == (2, 1000)
        logits, aux = model.train()(x)
        assert logits.shape == (2, 1000) and [a.shape for a in aux] == [(2, 1000)] * 2
        plain = models.create("googlenet", aux_logits=False).train()
        assert plain(x).shape == (2, 1000) and not hasattr(plain.aux, "inception4a")
        cifar = models.create("googlenet_cifar", aux_logits=True).train()
        assert len(cifar(torch.empty(2, 3, 32, 32)).aux) == 2


@pytest.mark.parametrize("weights,main,aux", [("paper", 1.0, 0.3), ("seed003", 0.7, 0.3),
                                              ((0.5, 0.25), 0.5, 0.25)])
def test_inception_loss_weights_the_auxiliary_losses(weights, main, aux):
    torch.manual_seed(0)
    target = torch.tensor([1, 0, 3])
    logits, aux1, aux2 = (torch.randn(3, 4) for _ in range(3))

    def nll(z):  # cross-entropy written out: -log softmax of the true class, averaged
        return -(z - z.exp().sum(1, keepdim=True).log())[range(3), target].mean()

    outputs = InceptionOutputs(logits, (aux1, aux2))
    expected = main * nll(logits) + aux * (nll(aux1) + nll(aux2))
    torch.testing.assert_close(inception_loss(outputs, target, weights=weights), expected)
    # At inference the heads are gone: plain logits give the main loss alone.
    torch.testing.assert_close(inception_loss(logits, target, weights=weights), nll(logits))
    smoothed = inception_loss(outputs, target, weights=weights, label_smoothing=0.1)
    assert not torch.isclose(smoothed, expected)


def test_inception_loss_names_the_schemes():
    with pytest.raises(ValueError, match="'paper', 'seed003'"):
        inception_loss(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), weights="v3")


# ------------------------------------------------------------------------ seed 000's variant


def test_seed_000_counts_are_reached_by_named_conventions():
    seed = {"stem": "7x7+3x3", "bias": True, "widen": "last", "num_classes": 1000}
    with torch.device("meta"):
        five = models.create("googlenet_cifar", large_branch="5x5", **seed)
        three = models.create("googlenet_cifar", large_branch="3x3+3x3", **seed)
        public = models.create("googlenet_cifar", large_branch="3x3+3x3", widen="first")
        first = models.create("googlenet_cifar", large_branch="3x3+3x3", **{**seed, "widen": "first"})
    assert count(five) == 7_008_824 and count(three) == 6_701_240
    saving = count(five) - count(three)
    assert saving == 307_584 and f"{saving / count(five):.4%}".startswith("4.38")
    # What each convention contributes: stem, head, and the nine modules.
    stem = count(five.features.conv1) + count(five.features.conv2)
    assert stem == (7 * 7 * 3 * 64 + 3 * 64) + (3 * 3 * 64 * 192 + 3 * 192) == 120_768
    assert count(five.fc) == 1024 * 1000 + 1000
    modules = [m for name, m in five.features.named_children() if name.startswith("inception")]
    assert sum(map(count, modules)) == 5_863_056
    assert sum(count(m) for name, m in three.features.named_children()
               if name.startswith("inception")) == 5_863_056 - 307_584 == 5_555_472
    # The public CIFAR code widens first and keeps a 3x3 stem and 10 classes; widening first
    # would make the factorised form larger than the 5x5, not 4.38% smaller.
    assert count(public) == 6_166_250
    assert count(first) > count(five)
    # Without conv bias the middle 3x3 adds 2 per channel, not 3: 256 more saved than printed.
    with torch.device("meta"):
        unbiased = [count(models.create("googlenet_cifar", large_branch=branch,
                                        **{**seed, "bias": False}))
                    for branch in ("5x5", "3x3+3x3")]
    assert unbiased[0] - unbiased[1] == 307_584 + 256


@pytest.mark.parametrize("side", [32, 48, 64, 96])
def test_googlenet_cifar_accepts_any_input_size(side):
    with torch.device("meta"):
        model = models.create("googlenet_cifar", large_branch="3x3+3x3").eval()
        assert model(torch.empty(2, 3, side, side)).shape == (2, 10)


# ------------------------------------------------------------------------ Inception-v3


def test_inception_v3_loads_torchvision_weights_with_identical_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    with torch.device("meta"):
        ours = models.create("inception_v3")
    calibrated(reference, torch.randn(4, 3, 75, 75))
    load_torchvision_state_dict(ours, reference.state_dict(), assign=True)
    with torch.no_grad():
        x = torch.randn(2, 3, 75, 75, generator=torch.Generator().manual_seed(1))
        expected = reference.eval()(x)
        assert (expected[0] - expected[1]).abs().max() > 0.1
        torch.testing.assert_close(ours.eval()(x), expected)
        # The auxiliary head's 5x5/3 pool needs the 17x17 map of a 299x299 input.
        x = torch.randn(2, 3, 299, 299, generator=torch.Generator().manual_seed(2))
        reference.train(), ours.train()
        torch.manual_seed(3)
        theirs = reference(x)
        torch.manual_seed(3)
        mine = ours(x)
    torch.testing.assert_close(mine.logits, theirs.logits)
    torch.testing.assert_close(mine.aux, (theirs.aux_logits,))
    # Its factorised 17x17 modules are the library's v3 blocks, not copies of them.
    for name, width in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6e", 192)):
        block = getattr(ours.features, name)
        layout = {k: v.shape for k, v in block.state_dict().items()}
        with torch.device("meta"):
            library = blocks.inception_v3_c(768, width, norm_layer=nn.BatchNorm2d)
        assert type(block) is Mixed
        assert layout == {k: v.shape for k, v in library.state_dict().items()}


def test_inception_v3_state_dict_from_another_model_is_refused():
    with torch.device("meta"):
        ours = models.create("inception_v3")
        googlenet = torchvision.models.googlenet(aux_logits=True, init_weights=False)
    with pytest.raises(ValueError, match="name no layer that this InceptionV3 has"):
        load_torchvision_state_dict(ours, googlenet.state_dict())


def test_inception_v3_cifar_keeps_small_images_alive():
    with torch.device("meta"):
        model = models.create("inception_v3_cifar").eval()
        shapes = {}
        for name in ("Mixed_5b", "Mixed_6a", "Mixed_7c"):
            getattr(model.features, name).register_forward_hook(
                lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:])))
        assert model(torch.empty(1, 3, 32, 32)).shape == (1, 10)
    assert shapes == {"Mixed_5b": (256, 12, 12), "Mixed_6a": (768, 5, 5),
                      "Mixed_7c": (2048, 2, 2)}
    assert cost_of(model, (3, 32, 32)).params == count(model)


def test_transform_input_has_a_cost_rule():
    with torch.device("meta"):
        model = models.create("googlenet", transform_input=True)
    table = summary(model, (3, 64, 64), device="meta")
    assert all(row["ruled"] for row in table.rows)
    assert table.rows[0]["type"] == "TransformInput" and table.rows[0]["macs"] == 3 * 64 * 64
