"""cnnlab.bench: single-example latency and the dissertation's cost row."""

import re
import statistics

import pytest
import torch
from torch import nn

from cnnlab import config
from cnnlab.bench import BYTES_PER_MB, Latency, cost_row, dissertation_table, latency


def tiny_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))


def images(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(n))


def test_latency_of_repeated_single_input():
    model = tiny_cnn().train()
    result = latency(model, images(1)[0], repeats=5, warmup=1, threads=2)
    assert isinstance(result, Latency)
    assert result.n == len(result.times_ms) == 5
    assert result.mean_ms > 0 and result.std_ms > 0 and result.median_ms > 0
    assert result.mean_ms == pytest.approx(statistics.fmean(result.times_ms))
    assert result.std_ms == pytest.approx(statistics.stdev(result.times_ms))
    assert (result.device, result.threads) == ("cpu", 2)
    assert torch.get_num_threads() == 1  # restored
    assert model.training  # the caller's model is untouched
    assert re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d ms \(cpu, 2 threads, n=5\)", str(result))


def test_latency_times_each_example_of_a_stack_once():
    assert latency(tiny_cnn(), images(7), warmup=0).n == 7
    assert latency(tiny_cnn(), images(3), repeats=4, warmup=0).n == 4  # cycles through


def test_latency_repeats_default_comes_from_the_profile(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
    result = latency(tiny_cnn(), images(1), warmup=0)
    assert result.n == config.profile().bench_repeats
    assert result.threads == 1  # the current count when none is asked for


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"example": [1.0, 2.0]}, TypeError, "example must be a tensor"),
        ({"example": torch.zeros(2, 1, 3, 8, 8)}, ValueError, "example must have shape"),
        ({"example": torch.zeros(0, 3, 8, 8)}, ValueError, "example must have shape"),
        ({"repeats": 1}, ValueError, "repeats must be"),
        ({"warmup": -1}, ValueError, "warmup must be"),
        ({"threads": 0}, ValueError, "threads must be"),
        ({"device": "tpu"}, ValueError, "device 'tpu' is unknown"),
    ],
)
def test_latency_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        latency(tiny_cnn(), **{"example": images(2), **kwargs})


def test_latency_rejects_a_non_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        latency(lambda x: x, images(2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_latency_on_missing_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="not available"):
        latency(tiny_cnn(), images(2), device="cuda")


def test_cost_row_fields_and_efficiency(tmp_path):
    model = tiny_cnn()
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"x" * 123_456)
    row = cost_row(model, accuracy=87.5, example=images(3), checkpoint=checkpoint)
    params = sum(p.numel() for p in model.parameters())
    assert row["params"] == params
    assert row["accuracy"] == 87.5
    assert row["E_P"] == pytest.approx(87.5 / params)
    mean, std = row["cpu_ms"]
    assert mean > 0 and std > 0
    assert row["checkpoint_mb"] == pytest.approx(123_456 / BYTES_PER_MB)
    if not torch.cuda.is_available():
        assert row["gpu_ms"] is None


def test_cost_row_measures_a_saved_state_dict_without_a_checkpoint(tmp_path):
    model = tiny_cnn()
    row = cost_row(model, accuracy=50.0, example=images(2), devices=("cpu",))
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    # Same content; the archive inside the file also records its name, a few bytes.
    assert row["checkpoint_mb"] == pytest.approx((tmp_path / "weights.pt").stat().st_size
                                                 / BYTES_PER_MB, rel=0.01)
    assert row["gpu_ms"] is None
    assert cost_row(model, accuracy=50.0, example=images(2), devices=())["cpu_ms"] is None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"accuracy": 101}, ValueError, "accuracy is a percentage"),
        ({"accuracy": -1}, ValueError, "accuracy is a percentage"),
        ({"devices": ("cpu", "gpu")}, ValueError, "devices may hold"),
        ({"checkpoint": "no/such/best.pt"}, FileNotFoundError, "no/such/best.pt"),
    ],
)
def test_cost_row_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        cost_row(tiny_cnn(), **{"accuracy": 50.0, "example": images(2), "devices": (), **kwargs})


def test_cost_row_needs_parameters():
    with pytest.raises(ValueError, match="no parameters"):
        cost_row(nn.Flatten(), accuracy=50.0, example=images(2), devices=())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_latency_and_cost_row_on_gpu():
    result = latency(tiny_cnn(), images(5), device="cuda", warmup=2)
    assert result.device.startswith("cuda") and result.n == 5 and result.mean_ms > 0
    row = cost_row(tiny_cnn(), accuracy=90.0, example=images(3))
    assert row["gpu_ms"][0] > 0 and row["cpu_ms"][0] > 0


def _row(network, params, cpu, gpu=None, accuracy=80.0):
    return {"network": network, "params": params, "accuracy": accuracy,
            "E_P": accuracy / params, "cpu_ms": cpu, "gpu_ms": gpu, "checkpoint_mb": 1.0,
            "macs": 10 * params}


def test_dissertation_table_has_the_seeds_columns_and_ratios_to_the_base():
    rows = [_row("Net", 1000, (2.0, 0.1)), _row("Net-Shift", 250, (1.5, 0.05))]
    table = dissertation_table(rows, base="Net", title="t")
    assert table.columns[:6] == ["network", "accuracy %", "parameters", "E_P (x 10^-3)",
                                 "GPU ms", "CPU ms"]
    shift = table.rows[1]
    assert shift["CPU ms"] == "1.50 ± 0.05" and shift["GPU ms"] == "n/a"
    assert shift["CPU / base"] == pytest.approx(0.75) and shift["GPU / base"] == "n/a"
    assert shift["E_P (x 10^-3)"] == pytest.approx(1e3 * 80 / 250)
    assert "1.50 ± 0.05" in str(table) and "0.75" in str(table)
    assert "CPU / base" not in dissertation_table(rows).columns


def test_dissertation_table_names_a_base_it_does_not_have():
    with pytest.raises(ValueError, match="base 'ResNet20' is not a network of the rows"):
        dissertation_table([_row("Net", 10, (1.0, 0.1))], base="ResNet20")
