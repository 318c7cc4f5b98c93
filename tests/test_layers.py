"""cnnlab.layers: every block and variant measured by cost_of against numel, FlopCounterMode and
traffic derived by hand from its layers; the seed's equations against the modules; orderings,
shortcuts, composition, and clear errors."""

import copy
import math
import random
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import arithmetic as ar
from cnnlab.layers import (
    ORDERINGS,
    ChannelShuffle,
    ConvNormAct,
    ConvUnit,
    DepthwiseSeparable,
    DSCVariant,
    FireModule,
    InceptionModule,
    NormActConv,
    ResidualBlock,
    ShiftModule,
    ShuffleUnit,
    ZeroPadShortcut,
    channel_shuffle,
    fold_batch_norm,
    make_divisible,
    resolve_variant,
    same_job_blocks,
)
from cnnlab.ops import shift_reference
from cnnlab.summary import cost_of

CONFIGS = 30


# ------------------------------------------------------------------------ hand-derived costs
# A block is described by its weighted layers in order: (in, out, kernel, stride, groups), each
# followed by a norm over its outputs or not. Free ops (activations, shuffle, shift, sums,
# concatenation) add nothing. Traffic per layer: input read + weights read + output written.


def conv_spec(cin, cout, k, stride=1, groups=1, norm=True):
    return {"cin": cin, "cout": cout, "k": k, "stride": stride, "groups": groups, "norm": norm}


def derive(specs_by_input, bias):
    """Sum the closed forms of the layers; ``specs_by_input`` is [(in_size, [spec, ...]), ...]
    for chains that start from one known size."""
    costs = []
    for size, specs in specs_by_input:
        for s in specs:
            conv = ar.conv2d(s["cin"], s["cout"], size, s["k"], stride=s["stride"],
                             padding=(s["k"] - 1) // 2, groups=s["groups"], bias=bias)
            costs.append(conv)
            size = conv.out_shape[1:]
            if s["norm"]:
                costs.append(ar.batch_norm2d(s["cout"], size))
    return (sum(c.params for c in costs), sum(c.macs for c in costs),
            sum(c.activations for c in costs), sum(c.elements_moved for c in costs))


def assert_costs(module, in_shape, expected):
    """cost_of against numel, FlopCounterMode (conv MACs) and the hand-derived totals."""
    cost = cost_of(module, in_shape)
    params, macs, activations, moved = expected
    assert cost.params == sum(p.numel() for p in module.parameters()) == params
    with torch.device("meta"):
        meta = _meta_copy(module)
        with FlopCounterMode(display=False) as counter:
            out = meta.eval()(torch.zeros(1, *in_shape))
    # FlopCounterMode counts convolutions only; batch norm's scale-and-shift is ours to add.
    assert 2 * (cost.macs - _norm_output_elements(meta, in_shape)) == counter.get_total_flops()
    assert cost.macs == macs
    assert cost.activations == activations
    assert cost.elements_moved == moved
    assert cost.out_shape == tuple(out.shape[1:])
    return cost


def _meta_copy(module):
    return copy.deepcopy(module).to("meta")


def _norm_output_elements(module, in_shape):
    """Elements written by every BatchNorm2d: one MAC each, which FlopCounterMode does not count."""
    total = []
    hooks = [m.register_forward_hook(lambda m, a, out: total.append(out.numel()))
             for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    module(torch.zeros(1, *in_shape, device="meta"))
    for hook in hooks:
        hook.remove()
    return sum(total)


def random_size(rng, even=False):
    return tuple(rng.randrange(8, 17, 2 if even else 1) for _ in range(2))


# ------------------------------------------------------------------------ conv units


def conv_unit_config(rng):
    groups = rng.choice([1, 2, 3])
    return {"cin": groups * rng.randint(1, 4), "cout": groups * rng.randint(1, 4),
            "k": rng.choice([1, 2, 3, 5, (1, 7), (7, 1), (3, 5)]), "stride": rng.choice([1, 2]),
            "groups": groups, "bias": rng.random() < 0.5, "norm": rng.random() < 0.5,
            "size": random_size(rng)}


@pytest.mark.parametrize("seed", range(CONFIGS))
def test_conv_norm_act_costs(seed):
    c = conv_unit_config(random.Random(seed))
    module = ConvNormAct(c["cin"], c["cout"], c["k"], c["stride"], groups=c["groups"],
                         bias=c["bias"], norm_layer=nn.BatchNorm2d if c["norm"] else None)
    k = c["k"] if isinstance(c["k"], tuple) else (c["k"], c["k"])
    conv = ar.conv2d(c["cin"], c["cout"], c["size"], k, stride=c["stride"],
                     padding=tuple((n - 1) // 2 for n in k), groups=c["groups"], bias=c["bias"])
    costs = [conv] + ([ar.batch_norm2d(c["cout"], conv.out_shape[1:])] if c["norm"] else [])
    expected = tuple(sum(getattr(x, f) for x in costs)
                     for f in ("params", "macs", "activations", "elements_moved"))
    assert_costs(module, (c["cin"], *c["size"]), expected)


def test_norm_act_conv_normalises_the_input_first():
    unit = NormActConv(4, 6, 3, norm_layer=nn.InstanceNorm2d, act_layer=partial(nn.LeakyReLU, 0.2))
    assert list(dict(unit.named_children())) == ["norm", "act", "conv"]
    assert unit.norm.num_features == 4
    x = torch.randn(2, 4, 5, 5)
    expected = F.conv2d(F.leaky_relu(F.instance_norm(x), 0.2), unit.conv.weight, padding=1)
    torch.testing.assert_close(unit(x), expected)
    cost = cost_of(unit, (4, 5, 5))
    assert cost.macs == 4 * 25 + 6 * 25 * 4 * 9  # the norm's scale-and-shift, then the conv


# ------------------------------------------------------------------------ residual blocks


def residual_config(rng, kind=None, variant=None):
    """A valid residual block: kind, variant, widths, stride, kernel, shortcut, norm, bias."""
    kind = kind or rng.choice(["basic", "bottleneck"])
    variant = variant or rng.choice(["conv", "dsc"] if kind == "basic"
                                    else ["conv", "dsc", "shuffle", "shift"])
    groups = rng.choice([1, 2, 3]) if variant in ("conv", "shuffle") else 1
    expand_groups = rng.choice([groups, 2 * groups]) if variant == "shuffle" else None
    unit = math.lcm(groups, expand_groups or 1)
    stride = rng.choice([1, 2])
    cin = unit * rng.randint(1, 4)
    cout = cin if rng.random() < 0.4 else unit * rng.randint(1, 4)
    shortcuts = ["auto", "projection", "none"] + (["zero_pad"] if cout >= cin else [])
    if cin == cout and stride == 1:
        shortcuts.append("identity")
    return {"cin": cin, "cout": cout, "stride": stride, "kind": kind, "variant": variant,
            "mid": unit * rng.randint(1, 4), "k": rng.choice([1, 3, 5]), "groups": groups,
            "expand_groups": expand_groups, "bias": rng.random() < 0.5,
            "norm": rng.random() < 0.5, "shortcut": rng.choice(shortcuts),
            "size": random_size(rng, even=True)}


def residual_layers(c):
    """The weighted layers of a block in the 'original' ordering, and of its shortcut."""
    M, m, N, k, s, g, norm = c["cin"], c["mid"], c["cout"], c["k"], c["stride"], c["groups"], c["norm"]
    spec = partial(conv_spec, norm=norm)

    def op(cin, cout, stride):
        if c["variant"] == "conv":
            return [spec(cin, cout, k, stride, g)]
        if c["variant"] == "dsc":
            return [spec(cin, cin, k, stride, cin), spec(cin, cout, 1)]
        raise AssertionError(c["variant"])

    if c["kind"] == "basic":
        branch = op(M, m, s) + op(m, N, 1)
    elif c["variant"] == "shuffle":
        branch = [spec(M, m, 1, 1, g), spec(m, m, k, s, m), spec(m, N, 1, 1, c["expand_groups"])]
    elif c["variant"] == "shift":
        branch = [spec(M, m, 1), spec(m, N, 1, s)]
    else:
        branch = [spec(M, m, 1)] + op(m, m, s) + [spec(m, N, 1)]
    projection = c["shortcut"] == "projection" or (
        c["shortcut"] == "auto" and (M != N or s != 1))
    return branch, [spec(M, N, 1, s)] if projection else []


def build_residual(c, **extra):
    return ResidualBlock(c["cin"], c["cout"], c["stride"], kind=c["kind"], variant=c["variant"],
                         mid_channels=c["mid"], kernel_size=c["k"], groups=c["groups"],
                         expand_groups=c["expand_groups"], bias=c["bias"],
                         norm_layer=nn.BatchNorm2d if c["norm"] else None,
                         shortcut=c["shortcut"], **extra)


RESIDUAL_CONFIGS = [residual_config(random.Random(seed)) for seed in range(3 * CONFIGS)]


@pytest.mark.parametrize("c", RESIDUAL_CONFIGS,
                         ids=lambda c: f"{c['kind']}-{c['variant']}-{c['shortcut']}")
def test_residual_block_costs(c):
    branch, shortcut = residual_layers(c)
    expected = derive([(c["size"], branch), (c["size"], shortcut)], c["bias"])
    assert_costs(build_residual(c), (c["cin"], *c["size"]), expected)


@pytest.mark.parametrize("ordering", sorted(ORDERINGS))
@pytest.mark.parametrize("seed", range(6))
def test_every_ordering_counts_like_numel_and_flop_counter(ordering, seed):
    c = residual_config(random.Random(100 + seed))
    block = build_residual(c, ordering=ordering)
    cost = cost_of(block, (c["cin"], *c["size"]))
    assert cost.params == sum(p.numel() for p in block.parameters())
    with FlopCounterMode(display=False) as counter:
        out = _meta_copy(block).eval()(torch.zeros(1, c["cin"], *c["size"], device="meta"))
    norms = _norm_output_elements(_meta_copy(block), (c["cin"], *c["size"]))
    assert 2 * (cost.macs - norms) == counter.get_total_flops()
    assert cost.out_shape == tuple(out.shape[1:])


def test_orderings_put_norm_and_activation_where_he_et_al_drew_them():
    x = torch.randn(2, 8, 6, 6)
    for name, ordering in ORDERINGS.items():
        block = ResidualBlock(8, 8, ordering=name)
        units = list(block.residual)
        assert all(list(dict(u.named_children())) ==
                   [p for p in ordering.unit if p == "conv" or hasattr(u, p)] for u in units)
        last = units[-1]
        assert hasattr(last, "norm") == ordering.last_norm
        assert hasattr(last, "act") == ordering.last_act
        after = [] if block.after_add is None else list(dict(block.after_add.named_children()))
        assert after == list(ordering.after_add)
        assert block(x).shape == x.shape
    # Full pre-activation leaves the identity path clean: zero the branch, get x back unchanged.
    block = ResidualBlock(8, 8, ordering="preact")
    with torch.no_grad():
        block.residual[-1].conv.weight.zero_()
    torch.testing.assert_close(block(x), x)


def test_zero_pad_shortcut_is_option_a():
    shortcut = ZeroPadShortcut(4, 10, stride=2)
    x = torch.randn(2, 4, 7, 7)
    out = shortcut(x)
    assert out.shape == (2, 10, 4, 4)
    torch.testing.assert_close(out[:, :4], x[:, :, ::2, ::2])
    assert out[:, 4:].abs().sum() == 0
    assert cost_of(shortcut, (4, 7, 7)).macs == 0
    with pytest.raises(ValueError, match="projection"):
        ZeroPadShortcut(8, 4)


@pytest.mark.parametrize("kind,variant,groups",
                         [("basic", "conv", 1), ("basic", "dsc", 1), ("bottleneck", "conv", 2),
                          ("bottleneck", "dsc", 1), ("bottleneck", "shuffle", 2),
                          ("bottleneck", "shift", 1)])
@pytest.mark.parametrize("act_layer", [nn.ReLU, partial(nn.LeakyReLU, 0.2)], ids=["relu", "leaky"])
def test_zeroed_residual_branch_leaves_the_activated_input(kind, variant, groups, act_layer):
    torch.manual_seed(0)
    block = ResidualBlock(8, 8, kind=kind, variant=variant, groups=groups, mid_channels=4,
                          act_layer=act_layer)
    assert isinstance(block.shortcut, nn.Identity)
    x = torch.randn(2, 8, 6, 6)
    activated = act_layer()(x)
    assert not torch.allclose(block(x), activated)  # the branch contributes while it has weights
    assert (block.residual(x) < 0).any()  # the branch itself is activated only after the sum
    last = [m for m in block.residual.modules() if list(m.parameters(recurse=False))][-1]
    with torch.no_grad():
        for p in last.parameters():
            p.zero_()
    torch.testing.assert_close(block(x), activated)


@pytest.mark.parametrize("variant", ["conv", "dsc", "shuffle"])
def test_only_the_shuffle_unit_leaves_its_middle_conv_unactivated(variant):
    """ShuffleNet drops the ReLU after the depthwise conv (seed 002, sec. 3.3.1, after Xception)."""
    torch.manual_seed(0)
    block = ResidualBlock(8, 8, kind="bottleneck", variant=variant, mid_channels=4)
    middle = block.residual.spatial(block.residual.reduce(torch.randn(2, 8, 6, 6)))
    assert (middle < 0).any() == (variant == "shuffle")


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

    assert not group1_changes(ConvNormAct(channels, channels, 1, groups=groups))
    unit = ShuffleUnit(channels, channels, channels, groups=groups, shortcut="none")
    assert group1_changes(unit)
    unit.residual.spatial.shuffle = nn.Identity()  # the same unit without its shuffle
    assert not group1_changes(unit)


@pytest.mark.parametrize("kernel_size,stride", [(3, 1), (3, 2), (5, 2)])
def test_shift_module_is_pointwise_shift_pointwise(kernel_size, stride):
    torch.manual_seed(0)
    module = ShiftModule(6, 10, 27, kernel_size=kernel_size, stride=stride, bias=True,
                         norm_layer=None)
    x = torch.randn(2, 6, 9, 9)
    reduce, expand = module.residual.reduce.conv, module.residual.shift.pointwise.conv
    hidden = F.relu(F.conv2d(x, reduce.weight, reduce.bias))
    moved = shift_reference(hidden, kernel_size)
    projection = module.shortcut.conv
    expected = F.relu(F.conv2d(moved, expand.weight, expand.bias, stride=stride)
                      + F.conv2d(x, projection.weight, projection.bias, stride=stride))
    torch.testing.assert_close(module(x), expected)


# ------------------------------------------------------------------------ fire and inception


def fire_config(rng, variant):
    groups = rng.choice([1, 2, 3]) if variant in ("conv", "shuffle") else 1
    squeeze = groups * rng.randint(1, 4)
    e3 = squeeze * rng.randint(1, 3) if variant == "shuffle" else groups * rng.randint(1, 4)
    return {"cin": groups * rng.randint(1, 6), "s": squeeze, "e1": groups * rng.randint(1, 4),
            "e3": e3, "variant": variant, "k": rng.choice([1, 3, 5]), "groups": groups,
            "bias": rng.random() < 0.5, "norm": rng.random() < 0.5, "size": random_size(rng)}


FIRE_CONFIGS = [fire_config(random.Random(seed), variant) for seed in range(12)
                for variant in ("conv", "dsc", "shuffle", "shift")]


@pytest.mark.parametrize("c", FIRE_CONFIGS, ids=lambda c: c["variant"])
def test_fire_module_costs(c):
    spec = partial(conv_spec, norm=c["norm"])
    pointwise_groups = c["groups"] if c["variant"] == "shuffle" else 1
    s, e3, k = c["s"], c["e3"], c["k"]
    expand3x3 = {"conv": [spec(s, e3, k, 1, c["groups"])],
                 "dsc": [spec(s, s, k, 1, s), spec(s, e3, 1)],
                 "shuffle": [spec(s, e3, k, 1, s)],
                 "shift": [spec(s, e3, 1)]}[c["variant"]]
    squeeze = [spec(c["cin"], s, 1, 1, pointwise_groups)]
    expected = derive([(c["size"], squeeze), (c["size"], [spec(s, c["e1"], 1, 1, pointwise_groups)]),
                       (c["size"], expand3x3)], c["bias"])
    module = FireModule(c["cin"], s, c["e1"], e3, variant=c["variant"], kernel_size=k,
                        groups=c["groups"], bias=c["bias"],
                        norm_layer=nn.BatchNorm2d if c["norm"] else None)
    assert_costs(module, (c["cin"], *c["size"]), expected)


@pytest.mark.parametrize("large_branch", ["5x5", "3x3", "3x3+3x3"])
@pytest.mark.parametrize("seed", range(8))
def test_inception_module_costs(seed, large_branch):
    rng = random.Random(seed)
    cin, size = rng.randint(2, 12), (rng.randint(5, 12),) * 2
    w = [rng.randint(1, 8) for _ in range(6)]
    naive, bias, norm = rng.random() < 0.3, rng.random() < 0.5, rng.random() < 0.5
    spec = partial(conv_spec, norm=norm)
    r3, r5 = (cin, cin) if naive else (w[3], w[4])
    large = {"5x5": [spec(r5, w[2], 5)], "3x3": [spec(r5, w[2], 3)],
             "3x3+3x3": [spec(r5, r5, 3), spec(r5, w[2], 3)]}[large_branch]
    chains = [[spec(cin, w[0], 1)], ([] if naive else [spec(cin, r3, 1)]) + [spec(r3, w[1], 3)],
              ([] if naive else [spec(cin, r5, 1)]) + large,
              [] if naive else [spec(cin, w[5], 1)]]
    params, macs, activations, moved = derive([(size, chain) for chain in chains], bias)
    pool = ar.pool2d(cin, size, 3, stride=1, padding=1)
    module = InceptionModule(cin, w[0], w[1], w[2], None if naive else w[5],
                             **({} if naive else {"ch3x3red": w[3], "ch5x5red": w[4]}),
                             large_branch=large_branch, bias=bias,
                             norm_layer=nn.BatchNorm2d if norm else None)
    assert_costs(module, (cin, *size), (params, macs + pool.macs, activations + pool.activations,
                                        moved + pool.elements_moved))


def test_inception_op_counts_from_seed_004():
    naive = cost_of(InceptionModule(256, 128, 192, 96, norm_layer=None), (256, 28, 28))
    assert naive.out_shape == (672, 28, 28)  # 28 x 28 x (128 + 192 + 96 + 256)
    seed_terms = [28 * 28 * 128 * 1 * 1 * 256, 28 * 28 * 192 * 3 * 3 * 256,
                  28 * 28 * 96 * 5 * 5 * 256]
    assert naive.macs == sum(seed_terms) == 854_196_224  # "Total: 854M ops"
    reduced = cost_of(InceptionModule(256, 128, 192, 96, 64, ch3x3red=64, ch5x5red=64,
                                      norm_layer=None), (256, 28, 28))
    seed_terms = [28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 64 * 1 * 1 * 256,
                  28 * 28 * 128 * 1 * 1 * 256, 28 * 28 * 192 * 3 * 3 * 64,
                  28 * 28 * 96 * 5 * 5 * 64, 28 * 28 * 64 * 1 * 1 * 256]
    # The seed's own terms sum to 271M; its printed "358M" total is a slip in the slide.
    assert reduced.macs == sum(seed_terms) == 271_351_808
    assert reduced.out_shape == (480, 28, 28)


# ------------------------------------------------------------------------ the seed's equations


@pytest.mark.parametrize("seed", range(20))
def test_seed_equations_equal_the_bare_modules(seed):
    """Eqs. 3.4-3.16 and 4.1-4.9 count the bare blocks (no bias, no norm) with M = N."""
    rng = random.Random(seed)
    g = rng.choice([1, 2, 4])
    M, m, N = (2 * g * rng.randint(1, 12) for _ in range(3))
    K = rng.choice([1, 3, 5])
    bare = {"norm_layer": None}

    def params(module):
        return cost_of(module, (module_in[module], 8, 8)).params

    blocks = {
        ar.params_standard_conv(M, N, K): ConvNormAct(M, N, K, **bare),
        ar.params_dsc(M, N, K): DepthwiseSeparable(M, N, K, **bare),
        ar.params_bottleneck(M, m, K): ResidualBlock(M, M, kind="bottleneck", mid_channels=m,
                                                     kernel_size=K, **bare),
        ar.params_shuffle_unit(M, m, K, g): ShuffleUnit(M, M, m, groups=g, kernel_size=K, **bare),
        ar.params_shift_module(M, m): ShiftModule(M, M, m, **bare),
        ar.params_residual(M, m, K): ResidualBlock(M, M, mid_channels=m, kernel_size=K, **bare),
        ar.params_residual_dsc(M, m, K): ResidualBlock(M, M, variant="dsc", mid_channels=m,
                                                       kernel_size=K, **bare),
        ar.params_residual_shuffle(M, m, K, g): ShuffleUnit(M, M, m, groups=g, expand_groups=2 * g,
                                                            kernel_size=K, **bare),
        ar.params_fire(M, m, N, K): FireModule(M, m, N // 2, N // 2, kernel_size=K, **bare),
        ar.params_fire_dsc(M, m, N, K): FireModule(M, m, N // 2, N // 2, variant="dsc",
                                                   kernel_size=K, **bare),
        ar.params_fire_shuffle(M, m, N, K, g): FireModule(M, m, N // 2, m, variant="shuffle",
                                                          groups=g, kernel_size=K, **bare),
        ar.params_fire_shift(M, m, N): FireModule(M, m, N // 2, N // 2, variant="shift", **bare),
    }
    module_in = {module: M for module in blocks.values()}
    for equation, module in blocks.items():
        assert params(module) == equation, type(module).__name__


def test_seed_worked_examples_hold_for_the_modules():
    """Seed 002's parameter examples (sec. 4.4.1-4.4.3): no bias, no BN, as the equations."""
    def params(module):
        return sum(p.numel() for p in module.parameters())

    bare = {"norm_layer": None}
    fires = [FireModule(96, 16, 64, 64, variant=v, **bare) for v in ("conv", "dsc", "shift")]
    fires.append(FireModule(96, 16, 64, 16, variant="shuffle", groups=2, **bare))
    assert [params(m) for m in fires] == [11_776, 3_728, 3_584, 1_424]
    assert [ar.params_fire(96, 16, 128, 3), ar.params_fire_dsc(96, 16, 128, 3),
            ar.params_fire_shift(96, 16, 128), ar.params_fire_shuffle(96, 16, 128, 3, 2)] == \
        [11_776, 3_728, 3_584, 1_424]
    residuals = [
        ResidualBlock(32, 32, mid_channels=16, **bare),
        ResidualBlock(32, 32, variant="dsc", mid_channels=16, **bare),
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
    assert {cost_of(m, (32, 32, 32)).out_shape for m in encoders} == {(32, 16, 16)}


def test_seed_savings_and_ratios_follow_the_modules():
    """Eqs. 3.3, 3.9, 3.17 and 3.18-3.21 against the five bare blocks of chapter 3."""
    M, m, K, F_, g = 128, 64, 3, 32, 2
    costs = {name: cost_of(block, (M, F_, F_))
             for name, block in same_job_blocks(M, M, m, kernel_size=K, groups=g).items()}
    conv, dsc, bottleneck = costs["conv 3x3"], costs["DSC"], costs["bottleneck"]
    shuffle, shift = costs["shuffle unit (g=2)"], costs["shift module"]
    assert math.isclose(ar.savings_dsc(M, K), dsc.macs / conv.macs)
    assert math.isclose(ar.savings_shuffle(M, m, K, g), shuffle.macs / bottleneck.macs)
    assert math.isclose(ar.savings_shift(M, m, K), shift.macs / bottleneck.macs)
    assert math.isclose(ar.ratio_conv(M, M, F_, K), conv.ratio)
    assert math.isclose(ar.ratio_dsc(M, F_, K), dsc.ratio)
    assert math.isclose(ar.ratio_bottleneck(M, m, F_, K), bottleneck.ratio)
    assert math.isclose(ar.ratio_shuffle(M, m, F_, K, g), shuffle.ratio)
    assert math.isclose(ar.ratio_shift(M, m, F_), shift.ratio)
    assert [round(c.ratio, 2) for c in (bottleneck, shuffle, shift)] == [94.41, 16.84, 40.96]


# ------------------------------------------------------------------------ composition


def test_the_layers_compose_into_the_blocks_later_notebooks_need():
    x = torch.randn(2, 16, 12, 12)
    # Pre-activation bottleneck with InstanceNorm and LeakyReLU (pix2pix's norms, He's order).
    preact = ResidualBlock(16, 32, 2, kind="bottleneck", ordering="preact",
                           norm_layer=nn.InstanceNorm2d, act_layer=partial(nn.LeakyReLU, 0.2))
    assert preact(x).shape == (2, 32, 6, 6)
    assert isinstance(preact.residual.reduce.norm, nn.InstanceNorm2d)
    assert list(dict(preact.residual.reduce.named_children())) == ["norm", "act", "conv"]
    # Inception v3's factorised 7x7: a 1x7 then a 7x1 convolution, the map size kept.
    factorised = nn.Sequential(ConvNormAct(16, 24, (1, 7)), ConvNormAct(24, 24, (7, 1)))
    assert factorised(x).shape == (2, 24, 12, 12)
    assert cost_of(factorised, (16, 12, 12)).params == 16 * 24 * 7 + 24 * 24 * 7 + 4 * 24
    # A shift block with He et al.'s zero-padding shortcut (option A): no extra parameters.
    shift = ShiftModule(16, 32, 32, stride=2, shortcut="zero_pad", norm_layer=None)
    assert shift(x).shape == (2, 32, 6, 6)
    assert cost_of(shift, (16, 12, 12)).params == 16 * 32 + 32 * 32
    # A width-0.35 shuffle block: every width scaled and rounded to the group count.
    g = 2
    width = partial(make_divisible, divisor=g)
    cin, mid, cout = width(16 * 0.35), width(64 * 0.35), width(64 * 0.35)
    assert (cin, mid, cout) == (4, 22, 22)
    thin = ShuffleUnit(cin, cout, mid, groups=g)
    assert thin(torch.randn(2, cin, 8, 8)).shape == (2, cout, 8, 8)


def test_make_divisible_rounds_down_or_to_the_nearest():
    assert make_divisible(16 / 0.35, 1) == 45  # int(w / r), the dissertation's rule
    assert make_divisible(22.4, 2) == 22
    assert make_divisible(0.5, 4) == 4  # never below one divisor
    assert make_divisible(32 * 0.75, 8, rounding="nearest") == 24
    assert make_divisible(10, 8, rounding="nearest") == 16  # 8 would lose over 10%
    with pytest.raises(ValueError, match="rounding"):
        make_divisible(10, 8, rounding="up")


def test_variants_resolve_by_name_or_object():
    assert resolve_variant("shift").name == "shift"
    plain = DSCVariant(depthwise_norm=False, depthwise_act=False)
    block = ResidualBlock(8, 8, variant=plain)
    depthwise = block.residual.spatial1.depthwise
    assert list(dict(depthwise.named_children())) == ["conv"]  # the dissertation's ResNet-DSC
    assert cost_of(block, (8, 6, 6)).params == ar.params_residual_dsc(8, 8, 3) + 2 * (8 + 8)


# ------------------------------------------------------------------------ shuffle


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
    assert isinstance(layer, nn.ChannelShuffle)
    assert torch.equal(layer(x), shuffled)
    assert cost_of(layer, (channels, 3, 4)).elements_moved == 0  # free: a permutation


# ------------------------------------------------------------------------ bad configurations


BAD_CONFIGS = [
    (partial(ResidualBlock, 6, 6, groups=4), ValueError, "groups=4 must divide"),
    (partial(ResidualBlock, 8, 8, kind="bottleneck", variant="shuffle", mid_channels=6,
             groups=4), ValueError, "groups=4 must divide"),
    (partial(ResidualBlock, 8, 8, kind="bottleneck", variant="shuffle", mid_channels=8,
             groups=2, expand_groups=3), ValueError, "groups=3 must divide"),
    (partial(ResidualBlock, 8, 8, variant="dsc", groups=2), ValueError, "nothing to group"),
    (partial(ResidualBlock, 8, 8, variant="dsc", expand_groups=2), ValueError,
     "expand_groups applies to variant 'shuffle' only"),
    (partial(ResidualBlock, 8, 8, variant="shift"), ValueError, "use kind='bottleneck'"),
    (partial(ResidualBlock, 8, 8, variant="pool"), ValueError, "variant must be one of"),
    (partial(ResidualBlock, 8, 8, kind="wide"), ValueError, "kind must be one of"),
    (partial(ResidualBlock, 8, 8, ordering="post"), ValueError, "ordering must be one of"),
    (partial(ResidualBlock, 8, 16, shortcut="identity"), ValueError, "shortcut='zero_pad'"),
    (partial(ResidualBlock, 16, 8, shortcut="zero_pad"), ValueError, "cannot drop channels"),
    (partial(ResidualBlock, 8, 8, shortcut="skip"), ValueError, "shortcut must be one of"),
    (partial(ResidualBlock, 8, 8, stride=0), ValueError, "stride must be >= 1"),
    (partial(ResidualBlock, 8, 8, mid_channels=2.5), TypeError, "mid_channels must be an int"),
    (partial(ResidualBlock, 8, 8, kind="bottleneck", variant="shift", kernel_size=4), ValueError,
     "kernel_size must be odd"),
    (partial(FireModule, 8, 4, 4, 4, kernel_size=4), ValueError, "kernel_size=4 must be odd"),
    (partial(FireModule, 8, 4, 4, 6, variant="shuffle", groups=2), ValueError,
     "groups=4 must divide out_channels=6"),
    (partial(FireModule, 9, 4, 4, 4, variant="shuffle", groups=2), ValueError,
     "groups=2 must divide in_channels=9"),
    (partial(FireModule, 8, 4, 4, 4, variant="dsc", groups=2), ValueError, "nothing to group"),
    (partial(InceptionModule, 8, 4, 4, 4, large_branch="7x7"), ValueError, "large_branch"),
    (partial(ConvNormAct, 6, 4, 3, groups=4), ValueError, "groups=4 must divide in_channels=6"),
    (partial(ConvUnit, 6, 4, 3, order=("conv", "act")), ValueError, "order must list"),
    (partial(ConvNormAct, 6, 4, (3, 3, 3)), ValueError, "kernel_size"),
    (partial(ChannelShuffle, 0), ValueError, "groups must be >= 1"),
    (partial(ChannelShuffle, 2.0), TypeError, "groups must be an int"),
    (partial(channel_shuffle, torch.zeros(1, 6, 2, 2), 4), ValueError, r"x.shape\[1\]"),
    (partial(channel_shuffle, torch.zeros(6, 2), 2), ValueError, "at least 3 dimensions"),
    (partial(make_divisible, -1, 2), ValueError, "channels must be a positive number"),
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


@pytest.mark.parametrize("bias,affine,groups", [(False, True, 1), (True, True, 2), (False, False, 4)])
def test_folding_batch_norm_into_its_conv_changes_no_output(bias, affine, groups):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=groups, bias=bias)
    norm = nn.BatchNorm2d(12, affine=affine)
    with torch.no_grad():  # statistics and affine parameters far from their defaults
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        if affine:
            norm.weight.uniform_(0.5, 2)
            norm.bias.uniform_(-1, 1)
    x = torch.randn(2, 8, 9, 9)
    expected = norm.eval()(conv(x))
    folded = fold_batch_norm(conv, norm)
    torch.testing.assert_close(folded(x), expected, rtol=1e-5, atol=1e-5)
    assert folded.groups == groups and folded.stride == (2, 2)
    torch.testing.assert_close(norm(conv(x)), expected)  # conv and norm are left as they were


def test_folding_refuses_what_is_no_fixed_affine_map():
    with pytest.raises(ValueError, match="channels"):
        fold_batch_norm(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(5))
    with pytest.raises(ValueError, match="running statistics"):
        fold_batch_norm(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(TypeError, match="BatchNorm2d"):
        fold_batch_norm(nn.Conv2d(3, 4, 1), nn.LayerNorm(4))
