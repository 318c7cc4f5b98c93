"""cnnlab.models: registry, published shapes and parameter counts, torchvision compatibility.

Shape and parameter checks build the networks on the meta device (no memory, no arithmetic);
only the torchvision equivalence tests run real forward passes.
"""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import models
from cnnlab.models.lenet import C3_TABLE, PartialConv2d
from cnnlab.models.plain import local_response_norm
from cnnlab.models.vgg import VGGBlock

TORCHVISION_TWINS = ["alexnet"] + [
    f"vgg{depth}{bn}" for depth in (11, 13, 16, 19) for bn in ("", "_bn")
]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_parameters(kernel: int, depth: int, filters: int) -> int:
    """Weights and biases of ``filters`` kernels of size kernel x kernel x depth."""
    return kernel * kernel * depth * filters + filters


def fc_parameters(inputs: int, outputs: int) -> int:
    return inputs * outputs + outputs


def shapes_after(model: nn.Module, layer_types: tuple[type, ...], input_size) -> list[tuple]:
    """(channels, height, width) after every layer of the given types, on the meta device."""
    shapes = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
        for m in model.modules()
        if isinstance(m, layer_types)
    ]
    model(torch.empty(1, *input_size, device="meta"))
    for hook in hooks:
        hook.remove()
    return shapes


# --- registry -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", models.list_models())
def test_every_model_scores_each_class_at_its_input_size(name):
    spec = models.model_spec(name)
    with torch.device("meta"):
        # eval: in training, models with auxiliary heads also return the heads' scores
        default = models.create(name).eval()
        custom = models.create(name, num_classes=7).eval()
        batch = torch.empty(2, *spec.input_size)
        assert default(batch).shape == (2, spec.num_classes)
        assert custom(batch).shape == (2, 7)


def test_every_imagenet_design_has_a_cifar_adaptation():
    cifar = models.list_models("*_cifar")
    for name in cifar:
        spec = models.model_spec(name)
        assert (spec.input_size, spec.num_classes) == ((3, 32, 32), 10)
    imagenet = [n for n in models.list_models() if models.model_spec(n).input_size[1] > 200]
    torchvision_only = {"alexnet"}  # its CIFAR form is alexnet_cifar, from the 2012 design
    for name in set(imagenet) - torchvision_only:
        assert name.removesuffix("_2012") + "_cifar" in cifar


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'vgg61'") as caught:
        models.create("vgg61")
    assert "vgg16" in str(caught.value)
    assert all(name in str(caught.value) for name in models.list_models())
    with pytest.raises(TypeError, match="name must be"):
        models.create(16)


def test_unknown_option_is_named_with_the_accepted_ones():
    with pytest.raises(TypeError, match="wdith") as caught:
        models.create("alexnet_2012", wdith=2)
    assert "dropout, split" in str(caught.value)


@pytest.mark.parametrize(("num_classes", "error"), [(0, ValueError), (2.5, TypeError)])
def test_bad_num_classes_is_refused(num_classes, error):
    with pytest.raises(error, match="num_classes"):
        models.create("lenet5", num_classes=num_classes)


def test_list_models_filters_by_pattern():
    names = models.list_models("vgg*_bn_cifar")
    assert names == sorted(names)
    assert [n[:5] for n in names] == ["vgg11", "vgg13", "vgg16", "vgg19"]


def test_a_new_family_registers_and_builds(monkeypatch):
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))

    @models.register("tiny", input_size=(1, 4, 4), num_classes=3)
    def tiny(num_classes: int, *, hidden: int = 5) -> nn.Module:
        """A two-layer toy."""
        return nn.Sequential(nn.Flatten(), nn.Linear(16, hidden), nn.Linear(hidden, num_classes))

    assert "tiny" in models.list_models()
    assert models.model_spec("tiny").description == "A two-layer toy."
    assert models.create("tiny", hidden=2)(torch.zeros(1, 1, 4, 4)).shape == (1, 3)


def test_a_taken_name_cannot_be_claimed_by_another_builder():
    original = models.model_spec("vgg16")
    with pytest.raises(ValueError, match="already registered"):
        models.register("vgg16", input_size=(3, 224, 224))(lambda num_classes: nn.Identity())
    assert models.model_spec("vgg16") is original


# --- LeNet-5 --------------------------------------------------------------------------------


def test_lenet5_parameters_match_the_paper():
    # LeNet-5 paper, section II.B: trainable parameters per layer on 1-channel 32x32 input.
    paper = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120}
    model = models.create("lenet5", in_channels=1)
    for name, expected in paper.items():
        assert count_parameters(model.features.get_submodule(name)) == expected, name
    assert count_parameters(model.classifier.f6) == 10164


def test_c3_table_has_the_papers_shape():
    # 60 connections; every S2 map feeds exactly 10 of the 16 C3 maps.
    assert sum(len(inputs) for inputs in C3_TABLE) == 60
    assert [sum(source in inputs for inputs in C3_TABLE) for source in range(6)] == [10] * 6


def test_c3_output_map_reads_only_its_table_inputs():
    torch.manual_seed(0)
    c3 = PartialConv2d(6, C3_TABLE, 5)
    nn.init.zeros_(c3.bias)
    for source in range(6):
        x = torch.zeros(1, 6, 5, 5)
        x[0, source] = torch.rand(5, 5) + 0.1
        responding = {o for o in range(16) if c3(x)[0, o].abs().item() > 0}
        assert responding == {o for o, inputs in enumerate(C3_TABLE) if source in inputs}


def test_partial_conv_rejects_a_table_beyond_its_inputs():
    with pytest.raises(ValueError, match="in_channels=3"):
        PartialConv2d(3, [(0, 1), (2, 5)], 3)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_lenet5_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    model = models.create(name)
    loss = nn.functional.cross_entropy(model(torch.randn(8, 3, 32, 32)), torch.arange(8))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_lenet5_explains_wrong_input_size_and_options():
    with pytest.raises(ValueError, match="32x32"):
        models.create("lenet5")(torch.zeros(1, 3, 28, 28))
    with pytest.raises(ValueError, match="activation='gelu'"):
        models.create("lenet5", activation="gelu")
    with pytest.raises(ValueError, match="pooling='median'"):
        models.create("lenet5", pooling="median")


# --- AlexNet and ZFNet ----------------------------------------------------------------------


def test_alexnet_2012_parameters_follow_the_paper_kernel_shapes():
    # Paper: conv2 kernels are 5x5x48, conv4 and conv5 3x3x192 (half the maps: one GPU's share).
    fc = fc_parameters(256 * 6 * 6, 4096) + fc_parameters(4096, 4096) + fc_parameters(4096, 1000)
    first_and_third = conv_parameters(11, 3, 96) + conv_parameters(3, 256, 384)
    split = conv_parameters(5, 48, 256) + conv_parameters(3, 192, 384) + conv_parameters(3, 192, 256)
    joined = conv_parameters(5, 96, 256) + conv_parameters(3, 384, 384) + conv_parameters(3, 384, 256)
    with torch.device("meta"):
        assert count_parameters(models.create("alexnet_2012")) == fc + first_and_third + split
        unsplit = models.create("alexnet_2012", split=False)
        assert count_parameters(unsplit) == fc + first_and_third + joined


def test_alexnet_2012_output_sizes_match_seed_004():
    with torch.device("meta"):
        model = models.create("alexnet_2012")
    shapes = shapes_after(model, (nn.Conv2d, nn.MaxPool2d), (3, 227, 227))
    assert shapes == [
        (96, 55, 55), (96, 27, 27),  # conv1, pool1
        (256, 27, 27), (256, 13, 13),  # conv2, pool2
        (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6),  # conv3-5, pool3
    ]


def test_zfnet_output_sizes_match_the_zf_paper():
    with torch.device("meta"):
        model = models.create("zfnet")
    shapes = shapes_after(model, (nn.Conv2d, nn.MaxPool2d), (3, 224, 224))
    assert shapes == [
        (96, 110, 110), (96, 55, 55),
        (256, 26, 26), (256, 13, 13),
        (512, 13, 13), (1024, 13, 13), (512, 13, 13), (512, 6, 6),
    ]


def test_local_response_norm_is_the_paper_formula():
    # b_i = a_i / (k + alpha * sum of a_j^2 over maps j within n/2 of i) ** beta,
    # with k=2, n=5, alpha=1e-4, beta=0.75.
    torch.manual_seed(0)
    a = torch.randn(1, 8, 3, 3) * 30
    expected = torch.stack(
        [a[:, i] / (2 + 1e-4 * (a[:, max(0, i - 2) : i + 3] ** 2).sum(1)) ** 0.75 for i in range(8)],
        dim=1,
    )
    torch.testing.assert_close(local_response_norm()(a), expected)


# --- torchvision equivalence ----------------------------------------------------------------


@pytest.mark.parametrize("name", TORCHVISION_TWINS)
def test_layout_and_parameter_count_equal_torchvision(name):
    with torch.device("meta"):
        ours = models.create(name)
        reference = getattr(torchvision.models, name)(weights=None)
    assert count_parameters(ours) == count_parameters(reference)
    layout = {key: value.shape for key, value in ours.state_dict().items()}
    assert layout == {key: value.shape for key, value in reference.state_dict().items()}


def max_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return (a.eval()(x) - b.eval()(x)).abs().max().item()


def test_alexnet_weights_load_both_ways_with_identical_outputs():
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    reference = torchvision.models.alexnet(weights=None)
    ours = models.create("alexnet")
    assert max_difference(ours, reference, x) > 1e-3  # independent weights really differ
    ours.load_state_dict(reference.state_dict())
    assert max_difference(ours, reference, x) < 1e-5

    torch.manual_seed(2)
    ours = models.create("alexnet")
    assert max_difference(ours, reference, x) > 1e-3
    reference.load_state_dict(ours.state_dict())
    assert max_difference(ours, reference, x) < 1e-5


def test_vgg16_loads_torchvision_weights_with_identical_outputs():
    # 64x64 keeps this cheap: torchvision's adaptive pooling accepts it, and so does ours.
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(3)
    reference = torchvision.models.vgg16(weights=None).eval()
    with torch.device("meta"):  # skip a second 138M-weight random initialisation
        ours = models.create("vgg16")
    ours.load_state_dict(reference.state_dict(), assign=True)
    with torch.no_grad():
        expected = reference(x)
        assert expected.abs().max() > 1e-3  # large enough for the tolerance below to mean something
        assert (ours.eval()(x) - expected).abs().max() < 1e-5


# --- small_cnn ---------------------------------------------------------------------------------


def test_overlapping_and_traditional_pooling_keep_sizes_and_parameters():
    counts = set()
    for kernel in (2, 3):
        net = models.create("small_cnn", pool_kernel=kernel, image_size=28)
        assert net(torch.zeros(2, 3, 28, 28)).shape == (2, 10)
        counts.add(sum(p.numel() for p in net.parameters()))
    assert len(counts) == 1
    tiny = models.create("small_cnn", 3, widths=(4, 8), hidden=8, image_size=12,
                         activation="tanh")
    assert isinstance(tiny[1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="activation"):
        models.create("small_cnn", activation="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        models.create("small_cnn", dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        models.create("small_cnn", hidden=0)


# --- VGG's unit --------------------------------------------------------------------------------


@pytest.mark.parametrize("num_convs", [1, 3])
def test_vgg_block_keeps_the_side_through_convolutions_and_halves_it_once(num_convs):
    block = VGGBlock(3, 8, num_convs)
    assert block(torch.randn(2, 3, 10, 7)).shape == (2, 8, 5, 3)
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == num_convs
    assert sum(p.numel() for p in block.parameters()) == (
        8 * (3 * 9 + 1) + (num_convs - 1) * 8 * (8 * 9 + 1))
    with pytest.raises(ValueError, match="num_convs"):
        VGGBlock(3, 8, 0)
