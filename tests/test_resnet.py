"""cnnlab.models.resnet: torchvision's ResNets in our blocks, the CIFAR nets' published counts,
shortcut options, width, variants and the plain twins.

Counts are taken on the meta device; only the torchvision comparisons compute anything.
"""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import models
from cnnlab.layers import DepthwiseSeparable, ZeroPadShortcut
from cnnlab.models.resnet import cifar_resnet
from cnnlab.models.torchvision_keys import load_torchvision_state_dict


def params(name: str, num_classes: int = 10, **options) -> int:
    with torch.device("meta"):
        model = models.create(name, num_classes, **options)
    return sum(p.numel() for p in model.parameters())


def randomised(model: nn.Module) -> dict:
    """A state_dict for ``model`` (built on any device) with every float tensor random, norm
    statistics included, so a weight loaded into the wrong layer changes the output."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            noise = torch.rand(tensor.shape, generator=generator)
            state[key] = noise + 0.5 if "running_var" in key else (noise - 0.5) * 0.2
        else:
            state[key] = torch.zeros(tensor.shape, dtype=tensor.dtype)
    return state


def torchvision_twin(name: str) -> tuple[nn.Module, dict]:
    """torchvision's ``name`` holding random weights, and those weights."""
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)()
    state = randomised(theirs)
    theirs.load_state_dict(state, assign=True)
    return theirs, state


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_torchvision_weights_load_with_identical_outputs(name):
    theirs, state = torchvision_twin(name)
    with torch.device("meta"):
        ours = models.create(name)
    load_torchvision_state_dict(ours, state, assign=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_torchvision_names_map_blocks_and_projections():
    with torch.device("meta"):
        names = models.create("resnet50").torchvision_names()
    assert names["conv1"] == "stem.conv" and names["bn1"] == "stem.norm"
    assert names["layer2.0.conv2"] == "stages.1.0.residual.spatial.conv"
    assert names["layer2.0.bn3"] == "stages.1.0.residual.expand.norm"
    assert names["layer2.0.downsample.0"] == "stages.1.0.shortcut.conv"
    assert "layer2.1.downsample.0" not in names  # identity shortcut
    with torch.device("meta"):
        names = models.create("resnet18").torchvision_names()
    assert names["layer1.1.conv1"] == "stages.0.1.residual.spatial1.conv"
    assert "layer1.0.downsample.0" not in names  # 64 -> 64 at stride 1: identity, as torchvision


def test_a_wrong_or_partial_state_dict_is_refused_naming_the_keys():
    with torch.device("meta"):
        theirs = torchvision.models.resnet18()
        ours = models.create("resnet18")
    state = theirs.state_dict()
    partial = {k: v for k, v in state.items() if k != "layer4.1.bn2.running_var"}
    with pytest.raises(ValueError, match=r"lacks 1 key\(s\) \(layer4.1.bn2.running_var\)"):
        load_torchvision_state_dict(ours, partial, assign=True)
    with pytest.raises(ValueError, match=r"has 1 key\(s\) \(fc.scale\) that the model does not"):
        load_torchvision_state_dict(ours, {**state, "fc.scale": torch.ones(1)}, assign=True)
    with torch.device("meta"):
        deeper = torchvision.models.resnet34().state_dict()
    with pytest.raises(ValueError, match=r"layer1.2.conv1.weight.*name no layer"):
        load_torchvision_state_dict(ours, deeper, assign=True)
    with torch.device("meta"):
        vgg = models.create("vgg11")
        ten_classes = models.create("resnet18", num_classes=10)
    with pytest.raises(TypeError, match="VGG has no torchvision_names"):
        load_torchvision_state_dict(vgg, state)
    with pytest.raises(ValueError, match=r"shapes differ for 2 key\(s\) \(fc.weight \(1000, 512\) "
                                         r"\(expected \(10, 512\)\)"):
        load_torchvision_state_dict(ten_classes, state, assign=True)


# The dissertation's CIFAR-10 and CIFAR-100 counts (seed 002, tables 3 and 4).
SEED_CIFAR10 = {20: 272_762, 56: 856_058, 110: 1_731_002}
SEED_CIFAR100 = {20: 278_612, 56: 861_908, 110: 1_736_852}
# Exact counts of He et al.'s option A nets (they print ~0.27M, 0.85M, 1.7M) and of option B.
OPTION_A = {20: 269_722, 56: 853_018, 110: 1_727_962}
OPTION_B = {20: 272_474, 56: 855_770, 110: 1_730_714}
DISSERTATION = {"shortcut": "projection", "stage1_projection": True}


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_cifar_counts_match_the_dissertation_and_he_et_al(depth):
    name = f"resnet{depth}"
    assert params(name, 10, **DISSERTATION) == SEED_CIFAR10[depth]
    assert params(name, 100, **DISSERTATION) == SEED_CIFAR100[depth]
    assert params(name) == OPTION_A[depth]  # the default: option A
    assert round(OPTION_A[depth] / 1e6, 2 if depth < 100 else 1) == {20: 0.27, 56: 0.85,
                                                                     110: 1.7}[depth]
    assert params(name, shortcut="projection") == OPTION_B[depth]
    # Where the differences come from: a 1x1 projection + BN of c_in -> c_out adds
    # c_in c_out + 2 c_out; option B has two (stages 2, 3), the dissertation also stage 1's.
    projection = [16 * 16 + 2 * 16, 16 * 32 + 2 * 32, 32 * 64 + 2 * 64]
    assert OPTION_B[depth] - OPTION_A[depth] == sum(projection[1:]) == 2_752
    assert SEED_CIFAR10[depth] - OPTION_B[depth] == projection[0] == 288
    # 100 classes instead of 10: 90 more rows of 64 weights and a bias in the linear head.
    assert SEED_CIFAR100[depth] - SEED_CIFAR10[depth] == 90 * (64 + 1)


def blocks(model):
    return [block for stage in model.stages for block in stage]


def test_shortcut_options_build_what_they_say():
    with torch.device("meta"):
        a = models.create("resnet20")
        b = models.create("resnet20", shortcut="projection")
        seed = models.create("resnet20", **DISSERTATION)
    firsts = [0, 3, 6]  # the first block of each stage
    assert [type(blocks(a)[i].shortcut).__name__ for i in firsts] == \
        ["Identity", "ZeroPadShortcut", "ZeroPadShortcut"]
    assert [type(blocks(b)[i].shortcut).__name__ for i in firsts] == \
        ["Identity", "ConvNormAct", "ConvNormAct"]
    assert all(type(blocks(seed)[i].shortcut).__name__ == "ConvNormAct" for i in firsts)
    assert all(isinstance(block.shortcut, nn.Identity) for model in (a, b, seed)
               for i, block in enumerate(blocks(model)) if i not in firsts)
    assert isinstance(blocks(a)[3].shortcut, ZeroPadShortcut)
    # The dissertation's convention: no conv bias, BN after each conv, a linear head with bias.
    convs = [m for m in seed.modules() if isinstance(m, nn.Conv2d)]
    assert all(conv.bias is None for conv in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in seed.modules()) == len(convs) == 22
    assert seed.stem.conv.kernel_size == (3, 3) and seed.stem.conv.out_channels == 16
    assert seed.fc.bias is not None


def test_stage1_projection_needs_projection_shortcuts():
    with pytest.raises(ValueError, match="needs shortcut='projection', not 'zero_pad'"):
        models.create("resnet20", stage1_projection=True)
    with pytest.raises(ValueError, match="shortcut must be one of"):
        models.create("resnet20", shortcut="identity")


def test_zero_pad_and_projection_nets_run_on_real_images():
    x = torch.randn(2, 3, 32, 32)
    for shortcut in ("zero_pad", "projection"):
        assert models.create("resnet20", shortcut=shortcut)(x).shape == (2, 10)


@pytest.mark.parametrize(("width", "channels"), [(1.0, (16, 32, 64)), (0.5, (8, 16, 32)),
                                                 (0.3, (4, 9, 19)), (2, (32, 64, 128))])
def test_width_multiplies_every_stage(width, channels):
    with torch.device("meta"):
        model = models.create("resnet20", width=width)
    assert model.stem.conv.out_channels == channels[0]
    assert tuple(stage[-1].residual[-1].conv.out_channels for stage in model.stages) == channels
    assert model.fc.in_features == channels[-1]
    assert model(torch.empty(1, 3, 32, 32, device="meta")).shape == (1, 10)


def test_width_must_be_a_positive_number():
    with pytest.raises(ValueError, match="width must be a positive multiplier"):
        models.create("resnet20", width=0)


def test_variant_reaches_every_block():
    with torch.device("meta"):
        dsc = models.create("resnet20", variant="dsc")
        shift = models.create("resnet20", variant="shift", kind="bottleneck", mid_ratio=1.0)
        shuffle = models.create("resnet56", variant="shuffle", kind="bottleneck", groups=2)
    assert all(isinstance(block.residual.spatial1, DepthwiseSeparable) for block in blocks(dsc))
    assert len(blocks(dsc)) == len(blocks(shift)) == 9  # three per stage, whatever the variant
    assert all(block.residual.reduce.conv.out_channels == block.residual.shift.pointwise.conv
               .out_channels for block in blocks(shift))  # mid_ratio=1: m = N
    assert all(block.residual.reduce.conv.groups == 2 for block in blocks(shuffle))
    assert params("resnet20", variant="dsc") < params("resnet20")
    with pytest.raises(ValueError, match="variant 'shift' is a bottleneck design"):
        models.create("resnet20", variant="shift")


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_plain_twins_have_no_shortcut_and_the_same_layers(depth):
    with torch.device("meta"):
        plain = models.create(f"plain{depth}")
        no_norm = models.create(f"plain{depth}", norm=False)
    assert all(block.shortcut is None for block in blocks(plain))
    assert params(f"plain{depth}") == OPTION_A[depth]  # option A's shortcuts have no parameters
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_norm.modules())
    convs = [m for m in no_norm.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == depth - 1 and all(conv.bias is not None for conv in convs)


def test_plain_twin_without_norm_trains_a_step():
    net = models.create("plain20", norm=False, width=0.5)
    loss = nn.functional.cross_entropy(net(torch.randn(4, 3, 32, 32)), torch.arange(4))
    loss.backward()
    assert net.stem.conv.weight.grad.abs().sum() > 0


def test_preactivation_nets_normalise_the_last_sum_once():
    with torch.device("meta"):
        preact = models.create("resnet20", ordering="preact")
        relu_only = models.create("resnet20", ordering="relu_preact")
        original = models.create("resnet20")
    assert [type(m).__name__ for m in preact.final] == ["BatchNorm2d", "ReLU"]
    assert [type(m).__name__ for m in relu_only.final] == ["ReLU"]
    assert original.final is None
    assert models.create("resnet20", ordering="preact")(torch.randn(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_cifar_stem_versions_keep_the_imagenet_stages(depth):
    with torch.device("meta"):
        imagenet = models.create(f"resnet{depth}", num_classes=10)
        cifar = models.create(f"resnet{depth}_cifar")
    assert cifar.stem.conv.kernel_size == (3, 3) and cifar.stem.conv.stride == (1, 1)
    assert not hasattr(cifar.stem, "pool")
    assert params(f"resnet{depth}", 1000) - params(f"resnet{depth}_cifar", 1000) == \
        (7 * 7 - 3 * 3) * 3 * 64  # only the stem's kernels differ
    assert [stage[0].residual[0].conv.stride for stage in cifar.stages] == \
        [stage[0].residual[0].conv.stride for stage in imagenet.stages]


def test_cifar_depth_must_be_six_n_plus_two():
    assert len(blocks(cifar_resnet(32, 10))) == 15
    with pytest.raises(ValueError, match=r"depth must be 6n \+ 2"):
        cifar_resnet(21, 10)
