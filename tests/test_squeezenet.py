"""cnnlab.models.squeezenet: torchvision's SqueezeNets in our fire modules, the CIFAR adaptation
and its parameter counts beside the dissertation's (seed 002, tables 1 and 2)."""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import models
from cnnlab.layers import FireModule
from cnnlab.models.squeezenet import DESIGNS, Fire
from cnnlab.models.torchvision_keys import load_torchvision_state_dict
from cnnlab.summary import summary
from tests.test_resnet import torchvision_twin

SEED_CIFAR10 = {"conv": 746_638, "dsc": 248_670, "shift": 246_926, "shuffle": 114_574}
SEED_CIFAR100 = {"conv": 792_988, "dsc": 295_020, "shift": 293_276, "shuffle": 160_924}
# This module's counts for the same nets (CIFAR-10); the module docstring says why they differ.
OURS_CIFAR10 = {"conv": 735_006, "dsc": 247_326, "shift": 243_486, "shuffle": 110_878}


def build(name: str = "squeezenet1_0_cifar", num_classes: int = 10, **options) -> nn.Module:
    with torch.device("meta"):
        return models.create(name, num_classes, **options)


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def variant_options(variant: str) -> dict:
    return {"variant": variant, "groups": 2 if variant == "shuffle" else 1}


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_torchvision_weights_load_with_identical_outputs(name):
    theirs, state = torchvision_twin(name)
    ours = load_torchvision_state_dict(build(name, 1000), state, assign=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_torchvision_names_add_our_units_conv_level():
    names = build("squeezenet1_0", 1000).torchvision_names()
    assert names["features.0"] == "features.0.conv"
    assert names["features.3.expand3x3"] == "features.3.expand3x3.conv"
    assert names["classifier.1"] == "classifier.1.conv"


def test_another_versions_state_dict_is_refused():
    with torch.device("meta"):
        state = torchvision.models.squeezenet1_1().state_dict()
    with pytest.raises(ValueError, match=r"features.6.squeeze.weight.*name no layer"):
        load_torchvision_state_dict(build("squeezenet1_0", 1000), state, assign=True)


@pytest.mark.parametrize("variant", ["conv", "dsc", "shift", "shuffle"])
def test_cifar_counts_beside_the_dissertations(variant):
    ten, hundred = (build(num_classes=n, **variant_options(variant)) for n in (10, 100))
    assert params(ten) == OURS_CIFAR10[variant]
    # The seed's CIFAR-100 nets are 90 x (512 weights + bias + 2 BN) larger, as ours.
    assert params(hundred) - params(ten) == SEED_CIFAR100[variant] - SEED_CIFAR10[variant] == \
        90 * (512 + 1 + 2)


def test_no_bias_or_norm_convention_reaches_the_seeds_variant_differences():
    fires = [layer for layer in DESIGNS["1_0"].layers if isinstance(layer, Fire)]
    inputs = [96] + [fire.expand1x1 + fire.expand3x3 for fire in fires[:-1]]

    def fire_params(variant, **convention):
        with torch.device("meta"):
            return sum(params(FireModule(m, *fire, variant=variant, **convention))
                       for m, fire in zip(inputs, fires, strict=True))

    for bias, norm_layer in [(True, nn.BatchNorm2d), (False, None), (True, None)]:
        conv, dsc, shift = (fire_params(v, bias=bias, norm_layer=norm_layer)
                            for v in ("conv", "dsc", "shift"))
        assert conv - shift == 8 * sum(f.squeeze * f.expand3x3 for f in fires) == 491_520
        per_channel = 9 + bias + (2 if norm_layer else 0)  # the depthwise conv's parameters
        assert dsc - shift == per_channel * sum(f.squeeze for f in fires)
    assert SEED_CIFAR10["conv"] - SEED_CIFAR10["shift"] == 499_712  # != 491,520
    assert all((SEED_CIFAR10["dsc"] - SEED_CIFAR10["shift"]) % k for k in (9, 10, 11, 12))


def test_cifar_adaptation_is_the_seeds_list():
    net = build()
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())
    stem = net.features[0].conv
    assert (stem.kernel_size, stem.stride, stem.out_channels) == ((3, 3), (1, 1), 96)
    pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(2, 2)] * 3
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == len(convs) == 26
    assert all(conv.bias is not None for conv in convs)
    sizes = []
    net.classifier.register_forward_pre_hook(lambda _m, args: sizes.append(args[0].shape[1:]))
    net(torch.empty(1, 3, 32, 32, device="meta"))
    assert sizes == [(512, 4, 4)]  # 32 -> 16 -> 8 -> 4


def test_imagenet_form_is_torchvisions_without_norms():
    net = build("squeezenet1_1", 1000)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert isinstance(net.classifier[0], nn.Dropout)
    assert params(net) == sum(p.numel() for p in torchvision.models.squeezenet1_1().parameters())


def test_variant_and_groups_reach_every_fire_module():
    fires = [m for m in build(variant="shuffle", groups=2).modules() if isinstance(m, FireModule)]
    assert len(fires) == 8
    assert all(f.squeeze.conv.groups == 2 and f.expand1x1.conv.groups == 2 for f in fires)
    assert all(f.expand3x3.depthwise.conv.groups == f.squeeze.conv.out_channels for f in fires)
    shift = [m for m in build(variant="shift").modules() if isinstance(m, FireModule)]
    assert all(f.expand3x3.pointwise.conv.kernel_size == (1, 1) for f in shift)
    assert models.create("squeezenet1_1_cifar", variant="dsc")(torch.randn(2, 3, 32, 32)).shape \
        == (2, 10)
    with pytest.raises(ValueError, match="groups=2 has nothing to group in variant 'dsc'"):
        build(variant="dsc", groups=2)


def test_fifty_times_fewer_parameters_than_alexnet_and_v1_1_cheaper():
    assert round(params(build("alexnet", 1000)) / params(build("squeezenet1_0", 1000))) == 49
    macs = [summary(build(f"squeezenet{v}", 1000), (3, 224, 224), device="meta").total_macs
            for v in ("1_0", "1_1")]
    assert round(macs[0] / macs[1], 2) == 2.34  # the module docstring says so


@pytest.mark.parametrize("variant", ["conv", "dsc", "shift", "shuffle"])
def test_the_seeds_name_builds_the_same_net_as_squeezenet1_0_cifar(variant):
    alias = build("squeezenet-cifar", variant=variant)  # shuffle: g = 2 by default
    same = build(**variant_options(variant))
    assert params(alias) == OURS_CIFAR10[variant]
    assert [(n, p.shape) for n, p in alias.named_parameters()] == \
        [(n, p.shape) for n, p in same.named_parameters()]


def test_the_seeds_name_passes_groups_on_and_refuses_them_where_nothing_is_grouped():
    assert params(build("squeezenet-cifar", variant="shuffle", groups=4)) < \
        OURS_CIFAR10["shuffle"]
    with pytest.raises(ValueError, match="nothing to group"):
        build("squeezenet-cifar", variant="shift", groups=2)
