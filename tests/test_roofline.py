"""The roofline: its two ceilings, the micro-benchmarks' counting conventions and the chart."""

import math

import matplotlib
import pytest
import torch

from cnnlab import arithmetic, roofline

matplotlib.use("Agg")


def test_machine_roof_bends_at_the_ridge_point():
    machine = roofline.Machine("toy", peak_flops=1e11, bandwidth=2e10, source="made up")
    ridge = machine.peak_flops / machine.bandwidth
    assert machine.ridge_point == pytest.approx(ridge)
    below, above = ridge / 4, ridge * 4
    assert machine.attainable(below) == pytest.approx(below * machine.bandwidth)
    assert machine.attainable(above) == pytest.approx(machine.peak_flops)
    assert machine.attainable(ridge) == pytest.approx(machine.peak_flops)
    assert "ridge" in str(machine) and "made up" in str(machine)


@pytest.mark.parametrize(("kwargs", "error", "names"), [
    ({"peak_flops": -1.0, "bandwidth": 1e9}, ValueError, "peak_flops"),
    ({"peak_flops": 1e9, "bandwidth": 0}, ValueError, "bandwidth"),
    ({"peak_flops": "fast", "bandwidth": 1e9}, TypeError, "peak_flops"),
    ({"peak_flops": 1e9, "bandwidth": math.inf}, ValueError, "bandwidth"),
])
def test_machine_rejects_bad_ceilings(kwargs, error, names):
    with pytest.raises(error, match=names):
        roofline.Machine("bad", source="test", **kwargs)


def test_spec_sheet_gpus_are_labelled_and_memory_bound_below_their_ridge():
    assert roofline.GPU_SPEC_SHEETS
    for machine in roofline.GPU_SPEC_SHEETS.values():
        assert machine.source.startswith("spec sheet")
        # a depthwise 3x3 layer is memory-bound on any of them
        depthwise = arithmetic.depthwise_conv2d(128, 32, 3, padding=1, bias=False)
        assert depthwise.flop_per_byte < machine.ridge_point
        assert machine.attainable(depthwise.flop_per_byte) < machine.peak_flops


def test_micro_benchmarks_count_2n3_flops_and_a_read_plus_a_write(monkeypatch):
    seconds = 0.25
    monkeypatch.setattr(roofline, "_median_seconds", lambda stmt, tensors, min_run_time: seconds)
    size, megabytes = 64, 2
    assert roofline.measure_peak_flops(size=size) == pytest.approx(2 * size**3 / seconds)
    assert roofline.measure_bandwidth(megabytes=megabytes) == pytest.approx(
        2 * megabytes * 2**20 / seconds)


def test_measure_machine_on_this_cpu_gives_finite_positive_ceilings():
    machine = roofline.measure_machine("cpu", size=128, megabytes=4, min_run_time=0.02)
    assert machine.source.startswith("measured")
    for value in (machine.peak_flops, machine.bandwidth):
        assert 0 < value < math.inf


@pytest.mark.parametrize(("call", "error", "name"), [
    (lambda: roofline.measure_peak_flops(size=0), ValueError, "size"),
    (lambda: roofline.measure_peak_flops(size=64.0), TypeError, "size"),
    (lambda: roofline.measure_bandwidth(megabytes=-3), ValueError, "megabytes"),
    (lambda: roofline.measure_bandwidth(min_run_time=0), ValueError, "min_run_time"),
    (lambda: roofline.measure_peak_flops("tpu"), ValueError, "tpu"),
])
def test_measurements_reject_bad_arguments(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_plot_places_every_layer_on_every_roof():
    machines = [roofline.Machine("slow", 1e10, 1e10, "test"),
                roofline.Machine("fast", 1e13, 1e12, "test")]
    layers = {"conv": arithmetic.conv2d(64, 64, 32, 3, padding=1).flop_per_byte,
              "depthwise": arithmetic.depthwise_conv2d(64, 32, 3, padding=1).flop_per_byte}
    fig = roofline.roofline_plot(machines, layers)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "FLOP per byte" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel() and ax.get_title()
    points = {(float(line.get_xdata()[0]), float(line.get_ydata()[0]))
              for line in ax.lines if len(line.get_xdata()) == 1 and line.get_marker() != "|"}
    expected = {(intensity, machine.attainable(intensity))
                for machine in machines for intensity in layers.values()}
    assert len(points) == len(expected)
    for x, y in expected:
        assert any(math.isclose(x, px) and math.isclose(y, py) for px, py in points)


@pytest.mark.parametrize(("machines", "layers", "name"), [
    ([], {"conv": 1.0}, "machines"),
    ([roofline.GPU_SPEC_SHEETS["H100 SXM"]], {}, "layers"),
    ([roofline.GPU_SPEC_SHEETS["H100 SXM"]], {"broken": -2.0}, "broken"),
])
def test_plot_rejects_empty_or_bad_input(machines, layers, name):
    with pytest.raises(ValueError, match=name):
        roofline.roofline_plot(machines, layers)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_measure_machine_on_the_gpu_stays_under_its_spec_sheet():
    machine = roofline.measure_machine("cuda", size=4096, megabytes=512, min_run_time=0.2)
    best_spec = max(m.peak_flops for m in roofline.GPU_SPEC_SHEETS.values())
    assert 0 < machine.peak_flops < 2 * best_spec
    assert 0 < machine.bandwidth < 1e13
