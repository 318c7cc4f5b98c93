"""Closed forms in cnnlab.arithmetic: against the seeds' equations and worked examples, and against
what cost_of measures on the equivalent torch layers over many seeded random configurations."""

import math
import random

import pytest
import torch
import torchvision
from torch import nn

from cnnlab import arithmetic as ar
from cnnlab.summary import cost_of


def compare(module, in_shape, cost):
    """Closed form vs the module's own count (cnnlab.summary.cost_of): every figure."""
    measured = cost_of(module, in_shape)
    assert cost.in_shape == measured.in_shape == tuple(in_shape)
    assert cost.out_shape == measured.out_shape
    assert cost.params == measured.params == sum(p.numel() for p in module.parameters())
    assert cost.macs == measured.macs
    assert cost.activations == measured.activations
    assert cost.elements_moved == measured.elements_moved


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
    measured = cost_of(vgg, (3, 224, 224))
    assert features.out_shape == (512, 7, 7)
    # The adaptive pool before the classifier passes a 7x7 map through: one MAC per element.
    passthrough = ar.pool2d(512, 7, 1, mode="avg")
    for figure in ("params", "macs", "activations", "elements_moved"):
        assert getattr(measured, figure) == sum(
            getattr(part, figure) for part in (features, passthrough, classifier))
    # Seed 004: "138M" parameters, not counting the biases.
    assert round(sum(part.params for part in vgg16_cost(bias=False)) / 1e6) == 138


def test_alexnet_first_layers_from_seed_004():
    conv1 = ar.conv2d(3, 96, 227, 11, stride=4, bias=False)
    pool1 = ar.pool2d(96, conv1.out_shape[1:], 3, stride=2)
    assert conv1.out_shape == (96, 55, 55)  # "(227-11)/4+1 = 55"
    assert round(conv1.params, -3) == 35_000  # "(11 x 11 x 3) x 96 = 35K"
    assert pool1.out_shape == (96, 27, 27) and pool1.params == 0  # "(55-3)/2+1 = 27", 0 params


# ---------------------------------------------------------------------------- the dissertation


def test_dissertation_worked_examples():
    # Section 4.4.3: pix2pix encoder layer, D_K=4, stride 2 (its blocks: tests/test_layers.py).
    assert ar.conv2d(32, 32, 32, 4, stride=2, padding=1, bias=False).params == 16_384
    dsc = ar.depthwise_separable_conv2d(32, 32, 32, 4, stride=2)
    assert (dsc.params, dsc.out_shape) == (1_536, (32, 16, 16))
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
    conv = ar.same_conv2d(M, N, F, K)
    assert (conv.params, conv.macs) == (K * K * M * N, K * K * M * N * F * F)  # 3.4, 3.1
    assert conv.params == ar.params_standard_conv(M, N, K)
    dsc_cost = ar.depthwise_separable_conv2d(M, N, F, K)
    assert dsc_cost.params == K * K * M + M * N == ar.params_dsc(M, N, K)  # 3.5
    assert dsc_cost.macs == K * K * M * F * F + M * N * F * F  # 3.2
    assert ar.params_bottleneck(M, m, K) == 2 * M * m + K**2 * m**2  # 3.10, 4.7
    assert ar.params_shuffle_unit(M, m, K, g) * g == 2 * M * m + K**2 * m * g  # 3.11
    assert ar.params_shift_module(M, m) == 2 * M * m  # 3.16, 4.9
    assert ar.params_residual_shuffle(M, m, K, g) * 2 * g == 2 * M * m + K**2 * m * 2 * g + m * M
    assert ar.params_residual(M, m, K) == 2 * K**2 * m * M  # 4.5
    assert ar.params_residual_dsc(M, m, K) == K**2 * (M + m) + 2 * m * M  # 4.6
    assert ar.params_fire(M, m, N, K) == M * m + m * N // 2 + K * K * m * N // 2  # 4.1
    assert ar.params_fire_dsc(M, m, N, K) == M * m + m * N + K * K * m  # 4.2
    assert ar.params_fire_shuffle(M, m, N, K, g) * 2 * g == 2 * M * m + m * N + 2 * g * m * K * K
    assert ar.params_fire_shift(M, m, N) == M * m + m * N  # 4.4

    # Savings (3.3, 3.6, 3.9, 3.12, 3.17) are ratios of the block counts.
    assert math.isclose(ar.savings_dsc(N, K), dsc_cost.params / conv.params)
    assert math.isclose(ar.savings_dsc(N, K), dsc_cost.macs / conv.macs)
    assert math.isclose(ar.savings_shuffle(M, m, K, g),
                        ar.params_shuffle_unit(M, m, K, g) / ar.params_bottleneck(M, m, K))
    assert math.isclose(ar.savings_shift(M, m, K),
                        ar.params_shift_module(M, m) / ar.params_bottleneck(M, m, K))

    # Ratios (3.13, 3.14, 3.18) are Cost.ratio of the bare layers; the blocks' ratios
    # (3.19-3.21) are checked against their modules in tests/test_layers.py.
    assert math.isclose(ar.ratio_conv(M, N, F, K), conv.ratio)
    depthwise = ar.depthwise_conv2d(M, F, K, padding=K // 2, bias=False)
    assert math.isclose(ar.ratio_depthwise(M, F, K), depthwise.ratio)
    assert math.isclose(ar.ratio_dsc(M, F, K), ar.depthwise_separable_conv2d(M, M, F, K).ratio)


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
        (lambda: ar.params_fire(8, 0, 8, 3), ValueError, "squeeze_channels"),
        (lambda: ar.params_shuffle_unit(8, 4, 3, True), TypeError, "groups"),
        (lambda: ar.conv2d(3, 8, (10, 4), (3, 5)), ValueError, "kernel_size"),
        (lambda: ar.savings_dsc(0, 3), ValueError, "out_channels"),
        (lambda: ar.ratio_shuffle(8, 4, 8, 3, 0), ValueError, "groups"),
        (lambda: ar.conv_output_size(5, 3, ceil_mode=True, stride=-2), ValueError, "stride"),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error, match=names):
        call()
