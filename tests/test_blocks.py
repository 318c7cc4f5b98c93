"""Blocks: modules vs cnnlab.arithmetic closed forms; shuffle, shift, residual path, errors."""

import math
import random
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import arithmetic as ar
from cnnlab.blocks import (
    ChannelShuffle,
    ConvBNAct,
    DepthwiseSeparable,
    FireModule,
    ResidualBlock,
    ShiftModule,
    ShuffleUnit,
    channel_shuffle,
    spatial_op,
)
from cnnlab.ops import shift_reference
from cnnlab.summary import summary

CONFIGS_PER_BLOCK = 40


def random_configs(make, seed, count=CONFIGS_PER_BLOCK):
    rng = random.Random(seed)
    return [make(rng) for _ in range(count)]


def config_id(config):
    return ",".join(f"{key}={value}" for key, value in config.items() if value is not None)


def assert_matches_closed_form(module, cost, in_shape):
    """Parameters, output shape and MACs (via cnnlab.summary) equal the closed form's."""
    assert sum(p.numel() for p in module.parameters()) == cost.params
    x = torch.randn(2, *in_shape, generator=torch.Generator().manual_seed(0))
    assert tuple(module(x).shape[1:]) == cost.out_shape
    assert summary(module, in_shape).total_macs == cost.macs


def random_size(rng, even=False):
    return tuple(rng.randrange(8, 17, 2 if even else 1) for _ in range(2))


# ------------------------------------------------------------------------ layers


def conv_bn_act_config(rng):
    groups = rng.choice([1, 2, 3])
    kernel_size = rng.randint(1, 5)
    return {"in_channels": groups * rng.randint(1, 4), "out_channels": groups * rng.randint(1, 4),
            "kernel_size": kernel_size, "stride": rng.choice([1, 2]), "groups": groups,
            "bias": rng.random() < 0.5, "batch_norm": rng.random() < 0.5,
            "size": random_size(rng)}


@pytest.mark.parametrize("config", random_configs(conv_bn_act_config, 1), ids=config_id)
def test_conv_bn_act_matches_closed_form(config):
    c = dict(config)
    size, batch_norm = c.pop("size"), c.pop("batch_norm")
    module = ConvBNAct(**c, norm_layer=nn.BatchNorm2d if batch_norm else None)
    cost = ar.conv2d(c["in_channels"], c["out_channels"], size, c["kernel_size"],
                     stride=c["stride"], padding=(c["kernel_size"] - 1) // 2, groups=c["groups"],
                     bias=c["bias"])
    if batch_norm:
        cost = ar.chain(cost, ar.batch_norm2d(c["out_channels"], cost.out_shape[1:]))
    assert_matches_closed_form(module, cost, (c["in_channels"], *size))


def dsc_config(rng):
    return {"in_channels": rng.randint(1, 8), "out_channels": rng.randint(1, 12),
            "kernel_size": rng.choice([1, 3, 4, 5]), "stride": rng.choice([1, 2]),
            "bias": rng.random() < 0.5, "batch_norm": rng.random() < 0.5,
            "size": random_size(rng)}


@pytest.mark.parametrize("config", random_configs(dsc_config, 2), ids=config_id)
def test_depthwise_separable_matches_closed_form(config):
    c = dict(config)
    size = c.pop("size")
    cost = ar.depthwise_separable_conv2d(c.pop("in_channels"), c.pop("out_channels"), size,
                                         c.pop("kernel_size"), **c)
    module = DepthwiseSeparable(config["in_channels"], config["out_channels"],
                                config["kernel_size"], **c)
    assert_matches_closed_form(module, cost, (config["in_channels"], *size))


# ------------------------------------------------------------------------ residual blocks


def residual_config(rng, kind=None, spatial=None):
    """A valid residual-block configuration; kernel sizes stay odd unless the shapes still add."""
    kind = kind or rng.choice(["basic", "bottleneck"])
    spatial = spatial or rng.choice(
        ["conv", "dsc"] if kind == "basic" else ["conv", "dsc", "shuffle", "shift"]
    )
    groups = rng.choice([1, 2, 3]) if spatial in ("conv", "shuffle") else 1
    expand_groups = rng.choice([1, groups, 2 * groups]) if spatial == "shuffle" else None
    unit = math.lcm(groups, expand_groups or 1)
    stride = rng.choice([1, 2])
    in_channels = unit * rng.randint(1, 4)
    out_channels = in_channels if rng.random() < 0.4 else unit * rng.randint(1, 4)
    default_mid_allowed = unit == 1 and kind == "bottleneck" and spatial != "shift"
    mid_channels = None if default_mid_allowed and rng.random() < 0.3 else unit * rng.randint(1, 4)
    shortcuts = ["auto", "projection", "none"]
    if in_channels == out_channels and stride == 1:
        shortcuts.append("identity")
    shortcut = rng.choice(shortcuts)
    # An even kernel keeps the residual branch the shortcut's size only at stride 2 on even maps.
    even_kernel_adds_up = kind == "bottleneck" and stride == 2
    kernels = [1, 3, 5]
    if spatial != "shift" and (shortcut == "none" or even_kernel_adds_up):
        kernels.append(4)
    kernel_size = rng.choice(kernels)
    return {"in_channels": in_channels, "out_channels": out_channels, "stride": stride,
            "kind": kind, "spatial": spatial, "mid_channels": mid_channels,
            "kernel_size": kernel_size, "groups": groups, "expand_groups": expand_groups,
            "bias": rng.random() < 0.5, "batch_norm": rng.random() < 0.5,
            "shortcut": shortcut, "size": random_size(rng, even=kernel_size % 2 == 0)}


def split(config):
    """(in_channels, out_channels, size, the keywords both the module and closed form take)."""
    c = dict(config)
    return c.pop("in_channels"), c.pop("out_channels"), c.pop("size"), c


@pytest.mark.parametrize("config", random_configs(residual_config, 3), ids=config_id)
def test_residual_block_matches_closed_form(config):
    in_channels, out_channels, size, options = split(config)
    module = ResidualBlock(in_channels, out_channels, **options)
    cost = ar.residual_block(in_channels, out_channels, size, **options)
    assert_matches_closed_form(module, cost, (in_channels, *size))


@pytest.mark.parametrize(
    "config", random_configs(partial(residual_config, kind="bottleneck", spatial="shuffle"), 4),
    ids=config_id,
)
def test_shuffle_unit_matches_closed_form(config):
    in_channels, out_channels, size, options = split(config)
    del options["kind"], options["spatial"]
    mid_channels = options.pop("mid_channels") or max(out_channels // 4, 1)
    module = ShuffleUnit(in_channels, out_channels, mid_channels, **options)
    cost = ar.shuffle_unit(in_channels, out_channels, size, mid_channels, **options)
    assert_matches_closed_form(module, cost, (in_channels, *size))


@pytest.mark.parametrize(
    "config", random_configs(partial(residual_config, kind="bottleneck", spatial="shift"), 5),
    ids=config_id,
)
def test_shift_module_matches_closed_form_whatever_its_kernel(config):
    in_channels, out_channels, size, options = split(config)
    kernel_size = options["kernel_size"]
    for unused in ("kind", "spatial", "groups", "expand_groups", "kernel_size"):
        del options[unused]
    mid_channels = options.pop("mid_channels")
    module = ShiftModule(in_channels, out_channels, mid_channels, kernel_size=kernel_size,
                         **options)
    cost = ar.shift_module(in_channels, out_channels, size, mid_channels, **options)
    assert_matches_closed_form(module, cost, (in_channels, *size))


# ------------------------------------------------------------------------ fire module


def fire_config(rng, spatial):
    groups = rng.choice([1, 2, 3]) if spatial == "shuffle" else 1
    squeeze = groups * rng.randint(1, 4)
    expand3x3 = squeeze * rng.randint(1, 3) if spatial == "shuffle" else rng.randint(1, 12)
    return {"in_channels": groups * rng.randint(1, 6), "squeeze_channels": squeeze,
            "expand1x1_channels": groups * rng.randint(1, 4), "expand3x3_channels": expand3x3,
            "spatial": spatial, "kernel_size": rng.choice([1, 3, 5]), "groups": groups,
            "bias": rng.random() < 0.5, "batch_norm": rng.random() < 0.5,
            "size": random_size(rng)}


FIRE_CONFIGS = [config for seed, spatial in enumerate(("conv", "dsc", "shuffle", "shift"), 6)
                for config in random_configs(partial(fire_config, spatial=spatial), seed, 12)]


@pytest.mark.parametrize("config", FIRE_CONFIGS, ids=config_id)
def test_fire_module_matches_closed_form(config):
    c = dict(config)
    size, in_channels = c.pop("size"), c.pop("in_channels")
    widths = [c.pop(name) for name in
              ("squeeze_channels", "expand1x1_channels", "expand3x3_channels")]
    module = FireModule(in_channels, *widths, **c)
    cost = ar.fire_module(in_channels, size, *widths, **c)
    assert_matches_closed_form(module, cost, (in_channels, *size))


def test_seed_worked_examples_hold_for_the_modules():
    """Seed 002's parameter examples (sec. 4.4.1-4.4.3): no bias, no BN, as the equations."""
    def params(module):
        return sum(p.numel() for p in module.parameters())

    bare = {"bias": False, "batch_norm": False}
    fires = [FireModule(96, 16, 64, 64, spatial=s, **bare) for s in ("conv", "dsc", "shift")]
    fires.append(FireModule(96, 16, 64, 16, spatial="shuffle", groups=2, **bare))
    assert [params(m) for m in fires] == [11_776, 3_728, 3_584, 1_424]
    residuals = [
        ResidualBlock(32, 32, mid_channels=16, **bare),
        ResidualBlock(32, 32, spatial="dsc", mid_channels=16, **bare),
        ResidualBlock(32, 32, kind="bottleneck", mid_channels=16, **bare),
        ShuffleUnit(32, 32, 16, groups=2, expand_groups=4, **bare),  # eq. 4.8: expand_groups 2g
        ShiftModule(32, 32, 16, **bare),
    ]
    assert [params(m) for m in residuals] == [9_216, 1_456, 3_328, 528, 1_024]
    encoders = [DepthwiseSeparable(32, 32, 4, 2, **bare),
                ShuffleUnit(32, 32, 16, groups=8, expand_groups=16, kernel_size=4, stride=2,
                            shortcut="none", **bare),
                ShiftModule(32, 32, 16, stride=2, shortcut="none", **bare)]
    assert [params(m) for m in encoders] == [1_536, 352, 1_024]


# ------------------------------------------------------------------------ behaviour


@pytest.mark.parametrize("channels,groups", [(6, 2), (6, 3), (12, 4), (8, 8), (5, 1), (1, 1)])
def test_channel_shuffle_interleaves_the_groups_and_has_an_inverse(channels, groups):
    labels = torch.arange(channels, dtype=torch.float32).reshape(1, channels, 1, 1)
    x = labels.expand(2, channels, 3, 4) + torch.randn(2, channels, 3, 4) / 10
    shuffled = channel_shuffle(x, groups)
    order = shuffled[0, :, 0, 0].round().long().tolist()
    per_group = channels // groups
    assert sorted(order) == list(range(channels))  # a permutation
    # Output p comes from group p mod g, so neighbouring outputs come from different groups.
    assert order == [(p % groups) * per_group + p // groups for p in range(channels)]
    assert torch.equal(channel_shuffle(shuffled, per_group), x)
    layer = ChannelShuffle(groups)
    assert isinstance(layer, nn.ChannelShuffle)  # what cnnlab.summary counts as free
    assert torch.equal(layer(x), shuffled)


def test_shuffle_unit_mixes_groups_that_a_grouped_conv_keeps_apart():
    torch.manual_seed(0)
    channels, groups = 8, 2
    x = torch.randn(1, channels, 8, 8)
    changed = x.clone()
    changed[:, : channels // groups] += torch.randn(1, channels // groups, 8, 8)  # group 0 only
    group1 = slice(channels // groups, channels)

    def group1_changes(module):
        module.eval()
        with torch.no_grad():
            return not torch.equal(module(x)[:, group1], module(changed)[:, group1])

    assert not group1_changes(ConvBNAct(channels, channels, 1, groups=groups))
    unit = ShuffleUnit(channels, channels, channels, groups=groups, shortcut="none")
    assert group1_changes(unit)
    unit.residual.spatial.shuffle = nn.Identity()  # the same unit without its shuffle
    assert not group1_changes(unit)


@pytest.mark.parametrize("kernel_size,stride", [(3, 1), (3, 2), (5, 2)])
def test_shift_module_is_pointwise_shift_pointwise(kernel_size, stride):
    torch.manual_seed(0)
    module = ShiftModule(6, 10, 27, kernel_size=kernel_size, stride=stride, bias=True,
                         batch_norm=False)
    x = torch.randn(2, 6, 9, 9)
    reduce, expand = module.residual.reduce.conv, module.residual.shift.pointwise.conv
    hidden = F.relu(F.conv2d(x, reduce.weight, reduce.bias))
    moved = shift_reference(hidden, kernel_size)
    projection = module.shortcut.conv
    expected = F.relu(F.conv2d(moved, expand.weight, expand.bias, stride=stride)
                      + F.conv2d(x, projection.weight, projection.bias, stride=stride))
    torch.testing.assert_close(module(x), expected)


IDENTITY_CASES = [("basic", "conv", 1), ("basic", "dsc", 1), ("bottleneck", "conv", 2),
                  ("bottleneck", "dsc", 1), ("bottleneck", "shuffle", 2),
                  ("bottleneck", "shift", 1)]


@pytest.mark.parametrize("kind,spatial,groups", IDENTITY_CASES)
@pytest.mark.parametrize("batch_norm,bias", [(True, False), (False, True), (False, False)])
@pytest.mark.parametrize("act_layer", [nn.ReLU, partial(nn.LeakyReLU, 0.2)], ids=["relu", "leaky"])
def test_zeroed_residual_branch_leaves_the_activated_input(kind, spatial, groups, batch_norm,
                                                           bias, act_layer):
    torch.manual_seed(0)
    block = ResidualBlock(8, 8, kind=kind, spatial=spatial, groups=groups, mid_channels=4,
                          batch_norm=batch_norm, bias=bias, act_layer=act_layer)
    assert isinstance(block.shortcut, nn.Identity)
    x = torch.randn(2, 8, 6, 6)
    activated = act_layer()(x)
    assert not torch.allclose(block(x), activated)  # the branch contributes while it has weights
    last = [m for m in block.residual.modules() if list(m.parameters(recurse=False))][-1]
    with torch.no_grad():
        for p in last.parameters():
            p.zero_()
    torch.testing.assert_close(block(x), activated)


@pytest.mark.parametrize("kind,spatial,groups", IDENTITY_CASES)
def test_residual_branch_is_activated_only_after_the_sum(kind, spatial, groups):
    torch.manual_seed(0)
    block = ResidualBlock(8, 8, kind=kind, spatial=spatial, groups=groups, mid_channels=4)
    assert (block.residual(torch.randn(2, 8, 6, 6)) < 0).any()


@pytest.mark.parametrize("spatial", ["conv", "dsc", "shuffle"])
def test_only_the_shuffle_unit_leaves_its_middle_conv_unactivated(spatial):
    """ShuffleNet drops the ReLU after the depthwise conv (seed 002, sec. 3.3.1, after Xception)."""
    torch.manual_seed(0)
    block = ResidualBlock(8, 8, kind="bottleneck", spatial=spatial, mid_channels=4)
    middle = block.residual.spatial(block.residual.reduce(torch.randn(2, 8, 6, 6)))
    assert (middle < 0).any() == (spatial == "shuffle")


# ------------------------------------------------------------------------ bad configurations


BAD_CONFIGS = [
    (partial(ResidualBlock, 6, 6, groups=4), ValueError, "groups=4 must divide in_channels=6"),
    (partial(ResidualBlock, 8, 8, kind="bottleneck", spatial="shuffle", mid_channels=6,
             groups=4), ValueError, "groups=4 must divide mid_channels=6"),
    (partial(ResidualBlock, 8, 8, kind="bottleneck", spatial="shuffle", mid_channels=8,
             groups=2, expand_groups=3), ValueError, "expand_groups=3 must divide mid_channels"),
    (partial(ResidualBlock, 8, 8, spatial="dsc", groups=2), ValueError, "nothing to group"),
    (partial(ResidualBlock, 8, 8, spatial="dsc", expand_groups=2), ValueError,
     "expand_groups applies to spatial='shuffle' only"),
    (partial(ResidualBlock, 8, 8, spatial="shift"), ValueError, "use kind='bottleneck'"),
    (partial(ResidualBlock, 8, 8, spatial="pool"), ValueError, "spatial must be one of"),
    (partial(ResidualBlock, 8, 8, kind="wide"), ValueError, "kind must be one of"),
    (partial(ResidualBlock, 8, 16, shortcut="identity"), ValueError, "shortcut='projection'"),
    (partial(ResidualBlock, 8, 8, shortcut="skip"), ValueError, "shortcut must be one of"),
    (partial(ResidualBlock, 8, 8, stride=0), ValueError, "stride must be >= 1"),
    (partial(ResidualBlock, 8, 8, mid_channels=2.5), TypeError, "mid_channels must be an int"),
    (partial(ResidualBlock, 8, 8, kind="bottleneck", spatial="shift", kernel_size=4), ValueError,
     "kernel_size must be odd"),
    (partial(FireModule, 8, 4, 4, 4, kernel_size=4), ValueError, "kernel_size=4 must be odd"),
    (partial(FireModule, 8, 4, 4, 6, spatial="shuffle", groups=2), ValueError,
     "squeeze_channels=4 must divide expand3x3_channels=6"),
    (partial(FireModule, 9, 4, 4, 4, spatial="shuffle", groups=2), ValueError,
     "groups=2 must divide in_channels=9"),
    (partial(FireModule, 8, 4, 4, 4, groups=2), ValueError, "spatial='shuffle' only"),
    (partial(spatial_op, "separable", 4, 4), ValueError, "spatial must be one of"),
    (partial(spatial_op, "shuffle", 4, 6, groups=2), ValueError,
     "in_channels=4 must divide out_channels=6"),
    (partial(ConvBNAct, 6, 4, 3, groups=4), ValueError, "groups=4 must divide in_channels=6"),
    (partial(ChannelShuffle, 0), ValueError, "groups must be >= 1"),
    (partial(ChannelShuffle, 2.0), TypeError, "groups must be an int"),
    (partial(channel_shuffle, torch.zeros(1, 6, 2, 2), 4), ValueError, r"x.shape\[1\]"),
    (partial(channel_shuffle, torch.zeros(6, 2), 2), ValueError, "at least 3 dimensions"),
]


@pytest.mark.parametrize("build,error,message", BAD_CONFIGS)
def test_bad_configurations_raise_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize("kind,stride,size", [("basic", 2, 8), ("bottleneck", 1, 8),
                                              ("bottleneck", 2, 9)])
def test_even_kernel_that_breaks_the_residual_sum_is_explained(kind, stride, size):
    block = ResidualBlock(4, 4, stride, kind=kind, kernel_size=4)
    with pytest.raises(ValueError, match="even kernel_size"):
        block(torch.randn(1, 4, size, size))
    ResidualBlock(4, 4, stride, kind=kind, kernel_size=4, shortcut="none")(
        torch.randn(1, 4, size, size))  # without a sum the smaller map is fine
