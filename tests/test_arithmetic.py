"""Closed forms in cnnlab.arithmetic: against the seeds' equations and worked examples, and against
the forward hooks of equivalent torch modules over many seeded random configurations."""

import math
import random

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import arithmetic as ar
from cnnlab.summary import summary

# Layers whose cost the closed forms model; shuffle, shift and activations are free by convention.
COUNTED = {"Conv2d", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "Linear"}


# ---------------------------------------------------------------------------- torch stand-ins


class Shift(nn.Module):
    """Moves each channel group one step in its own direction; data movement, no arithmetic."""

    def forward(self, x):
        offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        chunks = x.chunk(len(offsets), dim=1)
        return torch.cat(
            [c.roll(shifts=o, dims=(2, 3)) for c, o in zip(chunks, offsets, strict=False)], 1
        )


class Residual(nn.Module):
    def __init__(self, main, shortcut=None, identity=True):
        super().__init__()
        self.main, self.shortcut, self.identity = main, shortcut, identity

    def forward(self, x):
        out = self.main(x)
        if self.shortcut is not None:
            return out + self.shortcut(x)
        return out + x if self.identity else out


class Parallel(nn.Module):
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


def conv_bn(cin, cout, k, *, stride=1, groups=1, bias=False, bn=False):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=bias)]
    layers += [nn.BatchNorm2d(cout)] if bn else []
    return nn.Sequential(*layers, nn.ReLU(inplace=True))


def dsc(cin, cout, k, *, stride=1, bias=False, bn=False):
    return nn.Sequential(conv_bn(cin, cin, k, stride=stride, groups=cin, bias=bias, bn=bn),
                         conv_bn(cin, cout, 1, bias=bias, bn=bn))


def residual(main, shortcut, cin, cout, stride, bias, bn):
    """The main path plus the shortcut ``ar.residual_block`` describes for ``shortcut``."""
    if shortcut == "projection" or (shortcut == "auto" and (cin != cout or stride != 1)):
        return Residual(main, conv_bn(cin, cout, 1, stride=stride, bias=bias, bn=bn))
    return Residual(main, identity=shortcut != "none")


def compare(module, in_shape, cost):
    """Closed form vs hooks: shape, params, MACs, activations and traffic of the counted layers."""
    with torch.device("meta"):
        module = module.to("meta")
        out = module.eval()(torch.zeros(1, *in_shape))
    table = summary(module, in_shape, device="meta")
    counted = [row for row in table.rows if row["type"] in COUNTED]
    assert cost.in_shape == tuple(in_shape)
    assert cost.out_shape == tuple(out.shape[1:])
    assert cost.params == table.total_params == sum(p.numel() for p in module.parameters())
    assert cost.macs == table.total_macs == sum(row["macs"] for row in counted)
    assert cost.activations == sum(row["activations"] for row in counted)
    assert cost.bytes_moved == sum(row["bytes_moved"] for row in counted)


# ---------------------------------------------------------------------------- layers vs torch


@pytest.mark.parametrize("seed", range(25))
def test_conv2d_matches_nn_conv2d(seed):
    rng = random.Random(seed)
    groups = rng.choice([1, 1, 2, 3])
    cin, cout = groups * rng.randint(1, 6), groups * rng.randint(1, 6)
    kernel = (rng.randint(1, 5), rng.randint(1, 5))
    stride, dilation = (rng.randint(1, 3), rng.randint(1, 3)), (rng.randint(1, 2), 1)
    padding = (rng.randint(0, 2), rng.randint(0, 2))
    size = (rng.randint(11, 20), rng.randint(11, 20))
    bias = rng.random() < 0.5
    conv = nn.Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias)
    cost = ar.conv2d(cin, cout, size, kernel, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, bias=bias)
    compare(conv, (cin, *size), cost)


@pytest.mark.parametrize("seed", range(15))
def test_depthwise_pointwise_batchnorm_linear_match_torch(seed):
    rng = random.Random(seed)
    channels, size, mult = rng.randint(1, 8), rng.randint(5, 16), rng.randint(1, 3)
    k, bias = rng.choice([1, 3, 5]), rng.random() < 0.5
    compare(nn.Conv2d(channels, channels * mult, k, groups=channels, bias=bias),
            (channels, size, size),
            ar.depthwise_conv2d(channels, size, k, depth_multiplier=mult, bias=bias))
    groups = rng.choice([1, 2])
    compare(nn.Conv2d(2 * channels, 4 * channels, 1, groups=groups, bias=bias),
            (2 * channels, size, size),
            ar.pointwise_conv2d(2 * channels, 4 * channels, size, groups=groups, bias=bias))
    compare(nn.BatchNorm2d(channels), (channels, size, size), ar.batch_norm2d(channels, size))
    compare(nn.Linear(size, channels, bias=bias), (size,), ar.linear(size, channels, bias=bias))


@pytest.mark.parametrize("seed", range(25))
def test_pool2d_matches_torch_pooling(seed):
    rng = random.Random(seed)
    k = rng.randint(1, 4)
    stride, padding = rng.randint(1, 3), rng.randint(0, k // 2)
    channels, size, ceil_mode = rng.randint(1, 5), rng.randint(k, 15), rng.random() < 0.5
    for mode, layer in (("max", nn.MaxPool2d), ("avg", nn.AvgPool2d)):
        pool = layer(k, stride, padding, ceil_mode=ceil_mode)
        cost = ar.pool2d(channels, size, k, stride=stride, padding=padding, mode=mode,
                         ceil_mode=ceil_mode)
        compare(pool, (channels, size, size), cost)


# ---------------------------------------------------------------------------- blocks vs torch


def random_block_config(rng):
    groups = rng.choice([1, 2, 4])
    return {
        "cin": groups * rng.randint(1, 4) * 2,
        "cout": groups * rng.randint(1, 4) * 2,
        "mid": groups * rng.randint(1, 4) * 2,
        "size": rng.randint(5, 12),
        "k": rng.choice([1, 3, 4, 5]),
        "stride": rng.choice([1, 2]),
        "groups": groups,
        "bias": rng.random() < 0.5,
        "bn": rng.random() < 0.5,
    }


@pytest.mark.parametrize("seed", range(20))
def test_depthwise_separable_matches_torch(seed):
    c = random_block_config(random.Random(seed))
    module = dsc(c["cin"], c["cout"], c["k"], stride=c["stride"], bias=c["bias"], bn=c["bn"])
    cost = ar.depthwise_separable_conv2d(c["cin"], c["cout"], c["size"], c["k"],
                                         stride=c["stride"], bias=c["bias"], batch_norm=c["bn"])
    compare(module, (c["cin"], c["size"], c["size"]), cost)


@pytest.mark.parametrize("spatial", ["conv", "dsc"])
@pytest.mark.parametrize("seed", range(15))
def test_basic_block_matches_torch(seed, spatial):
    rng = random.Random(seed)
    c = random_block_config(rng)
    c["k"] = rng.choice([1, 3, 5])  # odd kernels keep the shortcut's size equal to the main path
    shortcut = rng.choice(["auto", "projection", "none"])
    layer = {"bias": c["bias"], "bn": c["bn"]}
    if spatial == "conv":
        groups = c["groups"]
        main = nn.Sequential(
            conv_bn(c["cin"], c["mid"], c["k"], stride=c["stride"], groups=groups, **layer),
            conv_bn(c["mid"], c["cout"], c["k"], groups=groups, **layer))
    else:
        groups = 1
        main = nn.Sequential(dsc(c["cin"], c["mid"], c["k"], stride=c["stride"], **layer),
                             dsc(c["mid"], c["cout"], c["k"], **layer))
    module = residual(main, shortcut, c["cin"], c["cout"], c["stride"], **layer)
    cost = ar.residual_block(c["cin"], c["cout"], c["size"], kind="basic", spatial=spatial,
                             mid_channels=c["mid"], kernel_size=c["k"], stride=c["stride"],
                             groups=groups, bias=c["bias"], batch_norm=c["bn"],
                             shortcut=shortcut)
    compare(module, (c["cin"], c["size"], c["size"]), cost)


@pytest.mark.parametrize("spatial", ["conv", "dsc", "shuffle", "shift"])
@pytest.mark.parametrize("seed", range(15))
def test_bottleneck_forms_match_torch(seed, spatial):
    rng = random.Random(seed)
    c = random_block_config(rng)
    c["k"] = rng.choice([1, 3, 5])
    shortcut = rng.choice(["auto", "projection", "none"])
    layer = {"bias": c["bias"], "bn": c["bn"]}
    g = c["groups"] if spatial in ("conv", "shuffle") else 1
    expand_g = rng.choice([g, 2 * g]) if spatial == "shuffle" and c["mid"] % (2 * g) == 0 else g
    pw_g, last_g = (g, expand_g) if spatial == "shuffle" else (1, 1)
    middle = {
        "conv": [conv_bn(c["mid"], c["mid"], c["k"], stride=c["stride"], groups=g, **layer)],
        "dsc": [dsc(c["mid"], c["mid"], c["k"], stride=c["stride"], **layer)],
        "shuffle": [nn.ChannelShuffle(g),
                    conv_bn(c["mid"], c["mid"], c["k"], stride=c["stride"], groups=c["mid"],
                            **layer)],
        "shift": [Shift()],
    }[spatial]
    last_stride = c["stride"] if spatial == "shift" else 1
    cout = c["cout"]
    main = nn.Sequential(conv_bn(c["cin"], c["mid"], 1, groups=pw_g, **layer), *middle,
                         conv_bn(c["mid"], cout, 1, stride=last_stride, groups=last_g, **layer))
    module = residual(main, shortcut, c["cin"], cout, c["stride"], **layer)
    cost = ar.residual_block(c["cin"], cout, c["size"], kind="bottleneck", spatial=spatial,
                             mid_channels=c["mid"], kernel_size=c["k"], stride=c["stride"],
                             groups=g, expand_groups=expand_g if spatial == "shuffle" else None,
                             bias=c["bias"], batch_norm=c["bn"], shortcut=shortcut)
    compare(module, (c["cin"], c["size"], c["size"]), cost)


@pytest.mark.parametrize("spatial", ["conv", "dsc", "shuffle", "shift"])
@pytest.mark.parametrize("seed", range(15))
def test_fire_module_forms_match_torch(seed, spatial):
    rng = random.Random(seed)
    c = random_block_config(rng)
    c["k"] = rng.choice([1, 3, 5])
    squeeze, e1 = c["mid"], c["cout"]
    e3 = squeeze * rng.randint(1, 2) if spatial == "shuffle" else c["cin"]
    g = c["groups"] if spatial == "shuffle" else 1
    layer = {"bias": c["bias"], "bn": c["bn"]}
    expand3x3 = {
        "conv": lambda: conv_bn(squeeze, e3, c["k"], **layer),
        "dsc": lambda: dsc(squeeze, e3, c["k"], **layer),
        "shuffle": lambda: nn.Sequential(
            nn.ChannelShuffle(g), conv_bn(squeeze, e3, c["k"], groups=squeeze, **layer)),
        "shift": lambda: nn.Sequential(Shift(), conv_bn(squeeze, e3, 1, **layer)),
    }[spatial]()
    module = nn.Sequential(conv_bn(c["cin"], squeeze, 1, groups=g, **layer),
                           Parallel(conv_bn(squeeze, e1, 1, groups=g, **layer), expand3x3))
    cost = ar.fire_module(c["cin"], c["size"], squeeze, e1, e3, spatial=spatial,
                          kernel_size=c["k"], groups=g, bias=c["bias"], batch_norm=c["bn"])
    compare(module, (c["cin"], c["size"], c["size"]), cost)


@pytest.mark.parametrize("large_branch", ["5x5", "3x3", "3x3+3x3"])
@pytest.mark.parametrize("seed", range(10))
def test_inception_module_matches_torch(seed, large_branch):
    rng = random.Random(seed)
    cin, size = rng.randint(2, 12), rng.randint(5, 12)
    w = [rng.randint(1, 8) for _ in range(6)]
    naive = rng.random() < 0.3
    layer = {"bias": rng.random() < 0.5, "bn": rng.random() < 0.5}
    r3, r5 = (cin, cin) if naive else (w[3], w[4])
    heads3 = [] if naive else [conv_bn(cin, r3, 1, **layer)]
    heads5 = [] if naive else [conv_bn(cin, r5, 1, **layer)]
    tails5 = {
        "5x5": [conv_bn(r5, w[2], 5, **layer)],
        "3x3": [conv_bn(r5, w[2], 3, **layer)],
        "3x3+3x3": [conv_bn(r5, r5, 3, **layer), conv_bn(r5, w[2], 3, **layer)],
    }[large_branch]
    pool = [nn.MaxPool2d(3, 1, 1)] + ([] if naive else [conv_bn(cin, w[5], 1, **layer)])
    module = Parallel(conv_bn(cin, w[0], 1, **layer),
                      nn.Sequential(*heads3, conv_bn(r3, w[1], 3, **layer)),
                      nn.Sequential(*heads5, *tails5), nn.Sequential(*pool))
    reductions = {} if naive else {"ch3x3red": w[3], "ch5x5red": w[4]}
    cost = ar.inception_module(cin, size, w[0], w[1], w[2], None if naive else w[5],
                               **reductions, large_branch=large_branch, bias=layer["bias"],
                               batch_norm=layer["bn"])
    compare(module, (cin, size, size), cost)


# ---------------------------------------------------------------------------- whole networks


def vgg16_cost(bias):
    """Seed 004's VGG16 table, layer by layer, as closed forms."""
    widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"]
    layers, channels, size = [], 3, 224
    for width in widths:
        if width == "M":
            layers.append(ar.pool2d(channels, size, 2))
        else:
            layers.append(ar.conv2d(channels, width, size, 3, padding=1, bias=bias))
            channels = width
        size = layers[-1].out_shape[1]
    features = ar.chain(*layers)
    classifier = ar.chain(ar.linear(math.prod(features.out_shape), 4096, bias=bias),
                          ar.linear(4096, 4096, bias=bias), ar.linear(4096, 1000, bias=bias))
    return features, classifier


def test_vgg16_from_closed_forms_matches_torchvision():
    features, classifier = vgg16_cost(bias=True)
    with torch.device("meta"):
        vgg = torchvision.models.vgg16()
    table = summary(vgg, (3, 224, 224), device="meta")
    counted = [row for row in table.rows if row["type"] in COUNTED]
    assert features.out_shape == (512, 7, 7)
    assert features.params + classifier.params == table.total_params
    assert features.macs + classifier.macs == sum(row["macs"] for row in counted)
    assert features.activations + classifier.activations == sum(
        row["activations"] for row in counted)
    # Seed 004: "138M" parameters, not counting the biases.
    assert round(sum(part.params for part in vgg16_cost(bias=False)) / 1e6) == 138


def test_alexnet_first_layers_from_seed_004():
    conv1 = ar.conv2d(3, 96, 227, 11, stride=4, bias=False)
    pool1 = ar.pool2d(96, conv1.out_shape[1:], 3, stride=2)
    assert conv1.out_shape == (96, 55, 55)  # "(227-11)/4+1 = 55"
    assert round(conv1.params, -3) == 35_000  # "(11 x 11 x 3) x 96 = 35K"
    assert pool1.out_shape == (96, 27, 27) and pool1.params == 0  # "(55-3)/2+1 = 27", 0 params


def test_inception_op_counts_from_seed_004():
    naive = ar.inception_module(256, 28, 128, 192, 96)
    assert naive.out_shape == (672, 28, 28)  # 28 x 28 x (128 + 192 + 96 + 256)
    seed_terms = [28 * 28 * 128 * 1 * 1 * 256, 28 * 28 * 192 * 3 * 3 * 256,
                  28 * 28 * 96 * 5 * 5 * 256]
    assert naive.macs == sum(seed_terms)
    assert round(naive.macs / 1e6) == 854  # "Total: 854M ops"
    reduced = ar.inception_module(256, 28, 128, 192, 96, 64, ch3x3red=64, ch5x5red=64)
    seed_terms = [28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 64 * 1 * 1 * 256,
                  28 * 28 * 128 * 1 * 1 * 256, 28 * 28 * 192 * 3 * 3 * 64,
                  28 * 28 * 96 * 5 * 5 * 64, 28 * 28 * 64 * 1 * 1 * 256]
    # The seed's own terms sum to 271M; its printed "358M" total is a slip in the slide.
    assert reduced.macs == sum(seed_terms)
    assert reduced.out_shape == (480, 28, 28)


def test_googlenet_table_matches_paper_output_widths():
    widths = {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528, "4e": 832,
              "5a": 832, "5b": 1024}
    for name, config in ar.GOOGLENET_INCEPTION.items():
        assert ar.inception_module(**config).out_shape[0] == widths[name]


# ---------------------------------------------------------------------------- the dissertation


def test_dissertation_worked_examples():
    # Section 4.4: fire module M=96, m=16, N=128, D_K=3, g=2.
    assert [ar.fire_module(96, 32, 16, 64, 64, spatial=s).params
            for s in ("conv", "dsc", "shift")] == [11_776, 3_728, 3_584]
    assert ar.fire_module(96, 32, 16, 64, 16, spatial="shuffle", groups=2).params == 1_424
    # Section 4.4.2: residual blocks M=N=32, m=16, D_K=3, g=2 (eq. 4.8 groups the last 1x1 2g).
    blocks = [ar.residual_block(32, 32, 32, mid_channels=16),
              ar.residual_block(32, 32, 32, mid_channels=16, spatial="dsc"),
              ar.residual_block(32, 32, 32, kind="bottleneck", mid_channels=16),
              ar.shuffle_unit(32, 32, 32, 16, groups=2, expand_groups=4),
              ar.shift_module(32, 32, 32, 16)]
    assert [b.params for b in blocks] == [9_216, 1_456, 3_328, 528, 1_024]
    # Section 4.4.3: pix2pix encoder, D_K=4, stride 2, g=8, no shortcut.
    encoder = [ar.conv2d(32, 32, 32, 4, stride=2, padding=1, bias=False),
               ar.depthwise_separable_conv2d(32, 32, 32, 4, stride=2),
               ar.shuffle_unit(32, 32, 32, 16, groups=8, expand_groups=16, kernel_size=4,
                               stride=2, shortcut="none"),
               ar.shift_module(32, 32, 32, 16, stride=2, shortcut="none")]
    assert [b.params for b in encoder] == [16_384, 1_536, 352, 1_024]
    assert {b.out_shape for b in encoder} == {(32, 16, 16)}
    # Section 3.2-3.4 savings, printed as "x times fewer".
    assert round(1 / ar.savings_dsc(128, 3), 2) == 8.41
    assert round(1 / ar.savings_shift(128, 64, 3), 2) == 3.25
    # Its "6.08x" and "9.11x" for the shuffle unit are slips: eq. 3.9 gives 6.07 and 8.82.
    assert round(1 / ar.savings_shuffle(128, 64, 3, 2), 1) == 6.1
    # Ratios: 22.24 and 4.48 (M=3, N=16, F=32, K=3); 94.41, 16.84, 40.96 (M=128, m=64, g=2).
    # Its 1.04 for eq. 3.18 used F instead of F^2 in the numerator; the equation gives 33.14.
    assert round(ar.ratio_conv(3, 16, 32, 3), 2) == 22.24
    assert round(ar.ratio_depthwise(3, 32, 3), 2) == 4.48
    assert round(ar.ratio_bottleneck(128, 64, 32, 3), 2) == 94.41
    assert round(ar.ratio_shuffle(128, 64, 32, 3, 2), 2) == 16.84
    assert round(ar.ratio_shift(128, 64, 32), 2) == 40.96
    assert round(32 * (9 + 128) / (4 * 32**2 + 9 + 128), 2) == 1.04


@pytest.mark.parametrize("seed", range(20))
def test_closed_forms_follow_the_dissertation_equations(seed):
    rng = random.Random(seed)
    g = rng.choice([1, 2, 4])
    M, m, N = (g * rng.randint(1, 16) * 2 for _ in range(3))
    K, F = rng.choice([1, 3, 5, 7]), rng.randint(4, 40)
    conv = ar.conv2d(M, N, F, K, padding=K // 2, bias=False)
    assert (conv.params, conv.macs) == (K * K * M * N, K * K * M * N * F * F)  # 3.4, 3.1
    dsc_cost = ar.depthwise_separable_conv2d(M, N, F, K)
    assert dsc_cost.params == K * K * M + M * N  # 3.5
    assert dsc_cost.macs == K * K * M * F * F + M * N * F * F  # 3.2
    bottleneck = ar.residual_block(M, M, F, kind="bottleneck", mid_channels=m, kernel_size=K)
    assert bottleneck.params == 2 * M * m + K**2 * m**2 == m * (2 * M + m * K**2)  # 3.10, 4.7
    assert bottleneck.macs == F**2 * (2 * M * m + K**2 * m**2)  # 3.7
    shuffle = ar.shuffle_unit(M, M, F, m, groups=g, kernel_size=K)
    assert shuffle.params * g == 2 * M * m + K**2 * m * g  # 3.11
    assert shuffle.macs * g == F**2 * (2 * M * m + K**2 * m * g)  # 3.8
    shift = ar.shift_module(M, M, F, m)
    assert (shift.params, shift.macs) == (2 * M * m, 2 * M * m * F**2)  # 3.16, 4.9
    if m % (2 * g) == 0:
        eq48 = ar.shuffle_unit(M, M, F, m, groups=g, expand_groups=2 * g, kernel_size=K)
        assert eq48.params * 2 * g == 2 * M * m + K**2 * m * 2 * g + m * M  # 4.8
    basic = ar.residual_block(M, M, F, mid_channels=m, kernel_size=K)
    assert basic.params == 2 * K**2 * m * M  # 4.5
    basic_dsc = ar.residual_block(M, M, F, mid_channels=m, kernel_size=K, spatial="dsc")
    assert basic_dsc.params == K**2 * (M + m) + 2 * m * M  # 4.6
    half = N // 2
    assert ar.fire_module(M, F, m, half, half, kernel_size=K).params == (
        M * m + m * half + K * K * m * half)  # 4.1
    assert ar.fire_module(M, F, m, half, half, kernel_size=K, spatial="dsc").params == (
        M * m + m * N + K * K * m)  # 4.2
    if half % g == 0:
        fire_shuffle = ar.fire_module(M, F, m, half, m, kernel_size=K, spatial="shuffle",
                                      groups=g)
        assert fire_shuffle.params * 2 * g == 2 * M * m + m * N + 2 * g * m * K * K  # 4.3
    assert ar.fire_module(M, F, m, half, half, spatial="shift").params == M * m + m * N  # 4.4

    # Savings (3.3, 3.6, 3.9, 3.12, 3.17) are the ratios of the block costs, params and MACs.
    assert math.isclose(ar.savings_dsc(N, K), dsc_cost.params / conv.params)
    assert math.isclose(ar.savings_dsc(N, K), dsc_cost.macs / conv.macs)
    assert math.isclose(ar.savings_shuffle(M, m, K, g), shuffle.params / bottleneck.params)
    assert math.isclose(ar.savings_shuffle(M, m, K, g), shuffle.macs / bottleneck.macs)
    assert math.isclose(ar.savings_shift(M, m, K), shift.params / bottleneck.params)
    assert math.isclose(ar.savings_shift(M, m, K), shift.macs / bottleneck.macs)

    # Ratios (3.13, 3.14, 3.18-3.21) are Cost.ratio of the bare layer or block.
    assert math.isclose(ar.ratio_conv(M, N, F, K), conv.ratio)
    depthwise = ar.depthwise_conv2d(M, F, K, padding=K // 2, bias=False)
    assert math.isclose(ar.ratio_depthwise(M, F, K), depthwise.ratio)
    assert math.isclose(ar.ratio_dsc(M, F, K), ar.depthwise_separable_conv2d(M, M, F, K).ratio)
    assert math.isclose(ar.ratio_bottleneck(M, m, F, K), bottleneck.ratio)
    assert math.isclose(ar.ratio_shuffle(M, m, F, K, g), shuffle.ratio)
    assert math.isclose(ar.ratio_shift(M, m, F), shift.ratio)


# ---------------------------------------------------------------------------- Cost and helpers


def test_cost_derived_figures_follow_dtype_bytes():
    full = ar.conv2d(16, 32, 20, 3, padding=1)
    half = ar.conv2d(16, 32, 20, 3, padding=1, dtype_bytes=2)
    assert full.flops == 2 * full.macs
    assert full.bytes_moved == 2 * half.bytes_moved == 4 * full.elements_moved
    assert full.activation_bytes == 4 * 32 * 20 * 20
    assert full.param_bytes == 4 * (16 * 32 * 9 + 32)
    assert full.ratio == half.ratio
    assert math.isclose(half.flop_per_byte, 2 * full.flop_per_byte)
    row = full.as_dict()
    assert row["flops"] == full.flops and row["out_shape"] == (32, 20, 20)


def test_attainable_flops_is_the_roofline():
    peak, bandwidth = 1e12, 1e11
    ridge = peak / bandwidth
    assert ar.attainable_flops(ridge / 4, peak, bandwidth) == peak / 4
    assert ar.attainable_flops(ridge * 4, peak, bandwidth) == peak
    with pytest.raises(ValueError, match="bandwidth"):
        ar.attainable_flops(1.0, peak, 0.0)


def test_chain_and_concat_check_shapes():
    a = ar.conv2d(3, 8, 10, 3)
    with pytest.raises(ValueError, match="do not connect"):
        ar.chain(a, ar.conv2d(3, 8, 10, 3))
    with pytest.raises(ValueError, match="spatial"):
        ar.concat(ar.conv2d(3, 8, 10, 3), ar.conv2d(3, 8, 10, 1))
    with pytest.raises(ValueError, match="dtype_bytes"):
        ar.concat(a, ar.conv2d(3, 8, 10, 3, dtype_bytes=2))
    with pytest.raises(ValueError, match="at least one"):
        ar.chain()
    both = ar.concat(a, ar.conv2d(3, 4, 10, 3))
    assert both.out_shape == (12, 8, 8) and both.macs == a.macs * 3 // 2


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: ar.conv2d(-1, 8, 10, 3), ValueError, "in_channels"),
        (lambda: ar.conv2d(3, 8, 0, 3), ValueError, "in_size"),
        (lambda: ar.conv2d(3, 8, 10, 13), ValueError, "kernel_size"),
        (lambda: ar.conv2d(3, 8, 10, 13, padding=1), ValueError, "padded"),
        (lambda: ar.conv2d(3, 8, 10, 3, stride=0), ValueError, "stride"),
        (lambda: ar.conv2d(3, 8, 10, 3, padding=-1), ValueError, "padding"),
        (lambda: ar.conv2d(3, 8, 10, 3, groups=2), ValueError, "groups"),
        (lambda: ar.conv2d(4, 6, 10, 3, groups=4), ValueError, "out_channels"),
        (lambda: ar.conv2d(3, 8, 10.5, 3), TypeError, "in_size"),
        (lambda: ar.conv2d(3, 8, (10, 10, 10), 3), ValueError, "in_size"),
        (lambda: ar.conv2d(3, True, 10, 3), TypeError, "out_channels"),
        (lambda: ar.linear(0, 3), ValueError, "in_features"),
        (lambda: ar.pool2d(3, 10, 2, mode="mean"), ValueError, "mode"),
        (lambda: ar.pool2d(3, 2, 3), ValueError, "kernel_size"),
        (lambda: ar.conv2d(3, 8, 10, 3, dtype_bytes=0), ValueError, "dtype_bytes"),
        (lambda: ar.shuffle_unit(6, 6, 8, 4, groups=4), ValueError, "groups"),
        (lambda: ar.shuffle_unit(8, 8, 8, 4, groups=2, expand_groups=3), ValueError,
         "expand_groups"),
        (lambda: ar.residual_block(8, 16, 8, shortcut="identity"), ValueError, "projection"),
        (lambda: ar.residual_block(8, 8, 8, shortcut="sum"), ValueError, "shortcut"),
        (lambda: ar.residual_block(8, 8, 8, spatial="shift"), ValueError, "bottleneck"),
        (lambda: ar.residual_block(8, 8, 8, kind="wide"), ValueError, "kind"),
        (lambda: ar.residual_block(8, 8, 8, spatial="dsc", groups=2), ValueError, "groups"),
        (lambda: ar.fire_module(8, 8, 4, 8, 6, spatial="shuffle"), ValueError,
         "expand3x3_channels"),
        (lambda: ar.fire_module(8, 8, 4, 0, 8), ValueError, "expand1x1_channels"),
        (lambda: ar.fire_module(8, 8, 4, 8, 8, kernel_size=4), ValueError, "odd"),
        (lambda: ar.inception_module(8, 8, 4, 4, 4, large_branch="7x7"), ValueError,
         "large_branch"),
        (lambda: ar.conv2d(3, 8, (10, 4), (3, 5)), ValueError, "kernel_size"),
        (lambda: ar.savings_dsc(0, 3), ValueError, "out_channels"),
        (lambda: ar.ratio_shuffle(8, 4, 8, 3, 0), ValueError, "groups"),
        (lambda: ar.conv_output_size(5, 3, ceil_mode=True, stride=-2), ValueError, "stride"),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error, match=names):
        call()
