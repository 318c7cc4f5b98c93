"""Inference latency as the dissertation measures it, and the cost row its tables are made of.

Seed 002 (§4.3.1) times a trained network on one test example at a time, over the examples it
scored for accuracy, on a GPU and on a CPU, and reports the mean and standard deviation of those
times. :func:`latency` does the same on top of ``torch.utils.benchmark.Timer`` (which synchronises
the GPU around each measurement). :func:`cost_row` gathers one line of the dissertation's tables:
parameters, efficiency E_P, GPU and CPU latency, and checkpoint size. :func:`measure` sets the
time of each :class:`Contender` beside the cost :func:`cnnlab.summary.cost_of` predicts for it.
:func:`dissertation_table` lays cost rows out as the seed's tables print them.
"""

from __future__ import annotations

import copy
import io
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils import benchmark

from cnnlab import config
from cnnlab.arithmetic import Cost
from cnnlab.checks import is_int
from cnnlab.progress import progress_bar
from cnnlab.summary import cost_of
from cnnlab.tables import Table

BYTES_PER_MB = 10**6


@dataclass(frozen=True)
class Latency:
    """Single-example inference times in milliseconds (``std_ms`` is the sample std)."""

    mean_ms: float
    std_ms: float
    median_ms: float
    n: int
    device: str
    threads: int
    times_ms: tuple[float, ...] = field(repr=False)

    def __str__(self) -> str:
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        return (f"{self.mean_ms:.2f} ± {self.std_ms:.2f} ms "
                f"({self.device}, {threads}, n={self.n})")


def latency(
    model: nn.Module,
    example: torch.Tensor,
    *,
    device: str | torch.device = "cpu",
    repeats: int | None = None,
    warmup: int = 5,
    threads: int | None = None,
    progress: bool = False,
) -> Latency:
    """Time ``model`` on one example at a time, in eval mode under ``torch.inference_mode``.

    ``example`` is either a stack ``(N, C, H, W)`` of examples, each timed alone as a batch of one
    (the dissertation's method), or a single ``(C, H, W)``/``(1, C, H, W)`` input timed over and
    over. ``repeats`` is the number of timings (default: N for a stack, else
    ``config.profile().bench_repeats``); examples are taken in turn, cycling if needed.
    ``warmup`` untimed passes come first, and ``Timer.timeit`` runs each example twice more before
    timing it, so the figures are warm-cache latencies; the copy to the device is not timed.
    ``threads`` (default: the current count) is set for the run, recorded, and restored after.
    A copy of the model is timed, so the caller's model keeps its device and mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    examples = _as_examples(example)
    if repeats is None:
        repeats = len(examples) if len(examples) > 1 else config.profile().bench_repeats
    if not is_int(repeats) or repeats < 2:
        raise ValueError(f"repeats must be a whole number >= 2 (a standard deviation needs two "
                         f"timings), got {repeats!r}.")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup!r}.")
    if threads is not None and (not is_int(threads) or threads < 1):
        raise ValueError(f"threads must be a whole number >= 1 or None, got {threads!r}.")
    target = config.device(device)
    net = copy.deepcopy(model).to(target).eval()
    previous_threads = torch.get_num_threads()
    threads = threads or previous_threads
    current = [examples[:1].to(target)]  # the Timer reads the input to time from here
    timer = benchmark.Timer("net(current[0])", globals={"net": net, "current": current},
                            num_threads=threads, description=str(target))
    measurements = []
    try:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            for _ in range(warmup):
                net(current[0])
            for i in progress_bar(range(repeats), desc=f"latency on {target}", unit="example",
                          leave=False, disable=not progress):
                current[0] = examples[i % len(examples)].unsqueeze(0).to(target)
                measurements.append(timer.timeit(1))
    finally:
        torch.set_num_threads(previous_threads)
    times_ms = tuple(1e3 * seconds for m in measurements for seconds in m.times)
    return Latency(
        mean_ms=statistics.fmean(times_ms),
        std_ms=statistics.stdev(times_ms),
        median_ms=statistics.median(times_ms),
        n=len(times_ms),
        device=str(target),
        threads=threads,
        times_ms=times_ms,
    )


def cost_row(
    model: nn.Module,
    *,
    accuracy: float,
    example: torch.Tensor,
    checkpoint: str | os.PathLike | None = None,
    devices: Sequence[str] = ("cpu", "cuda"),
    repeats: int | None = None,
) -> dict:
    """One row of the dissertation's cost tables for ``model``.

    ``accuracy`` is the test accuracy in percent (top-1; the dissertation uses top-5 for
    CIFAR-100). The row holds:

    - ``params``: number of parameters (buffers such as BatchNorm statistics not counted);
    - ``accuracy``: as given, in percent;
    - ``E_P``: accuracy per parameter, ``accuracy / params`` in percentage points per parameter,
      as seed 002 defines it. Its tables print it in units of 10^-3: SqueezeNet on CIFAR-10,
      90.11 / 746,638 = 0.12 x 10^-3;
    - ``cpu_ms`` / ``gpu_ms``: single-example latency ``(mean, std)`` in ms, from
      :func:`latency` on ``example``; None when that device is not in ``devices`` or, for
      ``"cuda"``, when there is no GPU;
    - ``checkpoint_mb``: size of ``checkpoint`` in MB (10^6 bytes), or, when none is given, of the
      model's state_dict as ``torch.save`` writes it (what ``fit`` puts in ``best.pt``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    if not 0 <= accuracy <= 100:
        raise ValueError(f"accuracy is a percentage between 0 and 100, got {accuracy!r} "
                         "(multiply a fraction by 100).")
    unknown = set(devices) - {"cpu", "cuda"}
    if unknown:
        raise ValueError(f"devices may hold 'cpu' and 'cuda' only, got {sorted(unknown)}.")
    params = sum(p.numel() for p in model.parameters())
    if params == 0:
        raise ValueError("model has no parameters, so E_P = accuracy / params is undefined.")

    def timed(kind: str) -> tuple[float, float] | None:
        if kind not in devices or (kind == "cuda" and not torch.cuda.is_available()):
            return None
        measured = latency(model, example, device=kind, repeats=repeats)
        return measured.mean_ms, measured.std_ms

    return {
        "params": params,
        "accuracy": accuracy,
        "E_P": accuracy / params,
        "cpu_ms": timed("cpu"),
        "gpu_ms": timed("cuda"),
        "checkpoint_mb": _checkpoint_bytes(model, checkpoint) / BYTES_PER_MB,
    }


def _as_examples(example: torch.Tensor) -> torch.Tensor:
    """``example`` as a stack ``(N, C, H, W)``."""
    if not isinstance(example, torch.Tensor):
        raise TypeError("example must be a tensor: one input (C, H, W) or a stack of examples "
                        f"(N, C, H, W), not {type(example).__name__}.")
    if example.dim() == 3:
        example = example.unsqueeze(0)
    if example.dim() != 4 or len(example) == 0:
        raise ValueError("example must have shape (C, H, W) or (N, C, H, W) with N >= 1, "
                         f"got {tuple(example.shape)}.")
    return example


def _checkpoint_bytes(model: nn.Module, checkpoint: str | os.PathLike | None) -> int:
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist; pass the best.pt that "
                                    "fit wrote, or None to measure a freshly saved state_dict.")
        return path.stat().st_size
    buffer = io.BytesIO()  # the bytes a file would hold, without touching the disk
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


# ---------------------------------------------------------------- predicted cost beside measured time


@dataclass(frozen=True)
class Contender:
    """A module to time on one input of ``in_shape``; its cost is measured from the module."""

    name: str
    module: nn.Module
    in_shape: tuple[int, ...]

    def __post_init__(self):
        if not isinstance(self.module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(self.module).__name__}.")

    @property
    def cost(self) -> Cost:
        return cost_of(self.module, self.in_shape)


def contenders(blocks: Mapping[str, nn.Module], in_shape: Sequence[int]) -> list[Contender]:
    """One :class:`Contender` per named block (e.g. :func:`cnnlab.layers.same_job_blocks`)."""
    return [Contender(name, module, tuple(in_shape)) for name, module in blocks.items()]


def conv_contender(name: str, description: Mapping[str, int]) -> Contender:
    """The convolution a description names (``in_channels``, ``out_channels``, ``size``,
    ``kernel_size``, ``groups``): "same" padding, stride 1, no bias, as
    :func:`cnnlab.arithmetic.same_conv2d` counts it."""
    missing = sorted({"in_channels", "out_channels", "size", "kernel_size", "groups"}
                     - set(description))
    if missing:
        raise ValueError(f"description lacks {', '.join(missing)}.")
    d, k = description, description["kernel_size"]
    conv = nn.Conv2d(d["in_channels"], d["out_channels"], k, padding=(k - 1) // 2,
                     groups=d["groups"], bias=False)
    return Contender(name, conv, (d["in_channels"], d["size"], d["size"]))


def measure(
    contenders: Sequence[Contender],
    *,
    device: str | torch.device = "cpu",
    repeats: int | None = None,
    threads: int | None = None,
    series: str = "",
    progress: bool = True,
) -> list[dict]:
    """Time each contender on one random image and return one row per contender.

    Each row holds the prediction (``params``, ``macs``, ``bytes_moved``, ``ratio`` R,
    ``flop_per_byte``), the measurement (``median_ms``, ``std_ms`` over ``repeats`` timings from
    :func:`cnnlab.bench.latency`, default ``config.profile().bench_repeats``) and the two side by
    side: ``gflops`` achieved (the predicted FLOPs over the median time) and, relative to the
    first contender, ``macs_vs_first`` and ``time_vs_first``. ``series`` tags the rows (e.g. the
    sizes) for :func:`cnnlab.plots.time_vs_cost`.
    """
    if not contenders:
        raise ValueError("contenders must hold at least one Contender.")
    for contender in contenders:
        if not isinstance(contender, Contender):
            raise TypeError(f"contenders must be Contender objects, got "
                            f"{type(contender).__name__}; see contenders or conv_contender.")
    target = config.device(device)
    rows = []
    for contender in progress_bar(contenders, desc=f"timing on {target}", unit="block",
                                  disable=not progress):  # one bar for the lot, not one per block
        cost = contender.cost
        x = torch.randn(1, *contender.in_shape, generator=torch.Generator().manual_seed(0))
        timing = latency(contender.module, x, device=target, repeats=repeats, threads=threads)
        rows.append({
            "series": series, "block": contender.name, "params": cost.params,
            "macs": cost.macs, "bytes_moved": cost.bytes_moved, "ratio": cost.ratio,
            "flop_per_byte": cost.flop_per_byte, "median_ms": timing.median_ms,
            "std_ms": timing.std_ms, "gflops": cost.flops / (timing.median_ms * 1e6),
            "device": timing.device, "threads": timing.threads,
        })
    for row in rows:
        row["macs_vs_first"] = row["macs"] / rows[0]["macs"]
        row["time_vs_first"] = row["median_ms"] / rows[0]["median_ms"]
    return rows


# ---------------------------------------------------------------- a whole batch, and a checkpoint


def batch_latency(model: nn.Module, batch: torch.Tensor, *, min_run_time: float = 0.2,
                  threads: int | None = None) -> float:
    """Median milliseconds of one forward pass over the whole ``batch`` (N, C, H, W) on the CPU,
    from ``Timer.blocked_autorange`` (at least ``min_run_time`` seconds of timing, warm cache).
    :func:`latency` is the dissertation's one-example method; this one times a batch of 32 as
    well as of 1, where int8 kernels and dense BLAS behave differently."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    if not isinstance(batch, torch.Tensor) or batch.dim() < 2:
        raise ValueError("batch must be a tensor with a batch dimension, e.g. (32, 3, 32, 32).")
    threads = threads or torch.get_num_threads()
    net = model.eval()
    timer = benchmark.Timer("net(x)", globals={"net": net, "x": batch}, num_threads=threads)
    with torch.inference_mode():
        net(batch)
        return 1e3 * timer.blocked_autorange(min_run_time=min_run_time).median


def checkpoint_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: what a checkpoint of the model holds."""
    return _checkpoint_bytes(model, None)


# ---------------------------------------------------------------- the dissertation's table layout


def dissertation_table(rows: Sequence[Mapping], *, title: str = "", base: str | None = None,
                       notes: str = "") -> Table:
    """Rows of :func:`cost_row`, each with its ``network`` label (and ``macs`` if known), laid out
    as seed 002's tables 1-12: network, accuracy %, parameters, E_P (10^-3), GPU and CPU latency
    as "mean ± std" ms; then what the seed leaves out: MACs, checkpoint MB and, when ``base``
    names a row, each net's CPU (and GPU) mean latency over the base's, measured in the same run.
    """
    by_name = {row["network"]: row for row in rows}
    if base is not None and base not in by_name:
        raise ValueError(f"base {base!r} is not a network of the rows: {sorted(by_name)}.")

    def spread(timing: tuple[float, float] | None) -> str:
        return "n/a" if timing is None else f"{timing[0]:.2f} ± {timing[1]:.2f}"

    def over_base(row: Mapping, key: str) -> float | str:
        mine, theirs = row.get(key), by_name[base].get(key)
        return "n/a" if mine is None or theirs is None else mine[0] / theirs[0]

    formats = {"accuracy %": "{:.2f}", "E_P (x 10^-3)": "{:.3f}", "checkpoint MB": "{:.2f}"}
    if base is not None:
        formats |= {"CPU / base": "{:.2f}", "GPU / base": "{:.2f}"}
    table = []
    for row in rows:
        line = {"network": row["network"], "accuracy %": row["accuracy"],
                "parameters": row["params"], "E_P (x 10^-3)": 1e3 * row["E_P"],
                "GPU ms": spread(row["gpu_ms"]), "CPU ms": spread(row["cpu_ms"]),
                "MACs": row.get("macs", "n/a"), "checkpoint MB": row["checkpoint_mb"]}
        if base is not None:
            line["CPU / base"] = over_base(row, "cpu_ms")
            line["GPU / base"] = over_base(row, "gpu_ms")
        table.append(line)
    return Table(table, title=title, formats=formats, notes=notes)
