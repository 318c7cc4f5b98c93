import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from cnnlab import arithmetic, bench, layers, plots
from cnnlab.exercises.nb07 import higher_ratio
from cnnlab.ops import Shift
from cnnlab.roofline import Machine

matplotlib.use("Agg")


def _layer(in_channels, out_channels, size, kernel_size, groups=1):
    return {"in_channels": in_channels, "out_channels": out_channels, "size": size,
            "kernel_size": kernel_size, "groups": groups}


def _ratio_by_hand(layer):
    """MACs over input + weights + output values, written out for a 'same' stride-1 conv."""
    m, n, f, k, g = (layer[key] for key in ("in_channels", "out_channels", "size", "kernel_size",
                                            "groups"))
    weights = n * (m // g) * k * k
    return f * f * weights / (m * f * f + weights + n * f * f)


def test_same_job_contenders_follow_the_seed_equations_and_keep_the_shape():
    contenders = bench.contenders(layers.same_job_blocks(8, 8, 4, groups=2), (8, 6, 6))
    assert [c.name for c in contenders] == ["conv 3x3", "DSC", "bottleneck",
                                            "shuffle unit (g=2)", "shift module"]
    x = torch.randn(1, 8, 6, 6)
    for contender in contenders:
        assert contender.module.eval()(x).shape == (1, *contender.cost.out_shape) == (1, 8, 6, 6)
    m, mid, f, k, g = 8, 4, 6, 3, 2  # the seed's eqs. 3.1, 3.2, 3.7, 3.8 and 2 M m F^2 (3.16)
    seed_macs = [k * k * m * m * f * f, f * f * (k * k * m + m * m),
                 f * f * (2 * m * mid + k * k * mid * mid),
                 f * f * (2 * m * mid // g + k * k * mid), 2 * m * mid * f * f]
    assert [c.cost.macs for c in contenders] == seed_macs


def test_the_shift_contender_runs_the_library_shift():
    shift_block = layers.same_job_blocks(9, 9, 9, groups=3)["shift module"]
    assert any(isinstance(m, Shift) for m in shift_block.modules())


def test_contender_holds_a_module():
    with pytest.raises(TypeError, match="module"):
        bench.Contender("conv", "conv", (4, 8, 8))


def test_same_conv2d_and_higher_ratio_follow_the_definition():
    depthwise, standard = _layer(32, 32, 16, 3, 32), _layer(8, 16, 4, 3)
    assert arithmetic.same_conv2d(**depthwise).ratio == pytest.approx(_ratio_by_hand(depthwise))
    assert arithmetic.same_conv2d(**standard).out_shape == (16, 4, 4)
    assert higher_ratio(depthwise, standard) == "second"
    assert higher_ratio(standard, depthwise) == "first"
    assert higher_ratio(standard, dict(standard)) == "first"  # a tie


def test_layer_descriptions_are_checked():
    with pytest.raises(ValueError, match="groups"):
        bench.conv_contender("conv", {"in_channels": 4, "out_channels": 4, "size": 8,
                                      "kernel_size": 3})
    with pytest.raises(TypeError, match="stride"):
        arithmetic.same_conv2d(**{**_layer(4, 4, 8, 3), "stride": 2.0})


def test_conv_contender_builds_the_described_convolution():
    contender = bench.conv_contender("depthwise", _layer(6, 12, 5, 3, 6))
    assert isinstance(contender.module, nn.Conv2d) and contender.module.groups == 6
    assert contender.module(torch.zeros(1, 6, 5, 5)).shape == (1, 12, 5, 5)


def test_measure_returns_predicted_and_measured_side_by_side():
    contenders = [bench.conv_contender("3x3", _layer(4, 4, 8, 3)),
                  bench.conv_contender("1x1", _layer(4, 4, 8, 1))]
    rows = bench.measure(contenders, repeats=2, series="tiny", progress=False)
    assert [row["block"] for row in rows] == ["3x3", "1x1"]
    first, second = rows
    assert first["series"] == "tiny" and first["device"] == "cpu"
    assert first["median_ms"] > 0 and first["time_vs_first"] == 1
    assert second["macs_vs_first"] == pytest.approx(1 / 9)
    assert second["time_vs_first"] == pytest.approx(second["median_ms"] / first["median_ms"])
    assert first["gflops"] == pytest.approx(2 * first["macs"] / (first["median_ms"] * 1e6))


def test_measure_refuses_what_is_not_a_contender():
    with pytest.raises(ValueError, match="at least one"):
        bench.measure([])
    with pytest.raises(TypeError, match="Contender"):
        bench.measure([nn.Conv2d(4, 4, 3)])


def test_time_vs_cost_draws_both_views_with_labels():
    rows = [
        {"series": "a", "block": "x", "macs": 100, "median_ms": 1.0, "flop_per_byte": 2.0,
         "gflops": 0.2},
        {"series": "a", "block": "y", "macs": 10, "median_ms": 0.5, "flop_per_byte": 0.5,
         "gflops": 0.04},
    ]
    machine = Machine("toy", peak_flops=1e9, bandwidth=1e8, source="test")
    fig = plots.time_vs_cost(rows, [machine], title="toy")
    time_ax, rate_ax = fig.axes
    assert time_ax.get_xscale() == time_ax.get_yscale() == "log"
    assert "ms" in time_ax.get_ylabel() and "FLOP/s" in rate_ax.get_ylabel()
    assert any("toy" in text.get_text() for text in rate_ax.get_legend().get_texts())
    assert {"a", "x", "y"} <= {text.get_text() for text in time_ax.get_legend().get_texts()}
    plt.close(fig)
    with pytest.raises(ValueError, match="rows"):
        plots.time_vs_cost([])

