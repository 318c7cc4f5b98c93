"""The roofline model: how fast a layer *can* run, given how much it computes per byte it moves.

A machine has two ceilings: its peak arithmetic rate (FLOP/s) and its memory bandwidth (bytes/s).
A layer that does ``I`` FLOPs per byte moved (its arithmetic intensity,
:attr:`cnnlab.arithmetic.Cost.flop_per_byte`) can reach at most ``min(peak, I * bandwidth)``.
Below the *ridge point* ``peak / bandwidth`` the layer waits on memory; above it, on arithmetic.

This module measures both ceilings of the machine in front of you with two quick
``torch.utils.benchmark`` micro-benchmarks (a matrix product and a memory copy), keeps a GPU or two
from their spec sheets for comparison, and draws the chart with layers placed on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils import benchmark

from cnnlab import arithmetic, config
from cnnlab.checks import integer

__all__ = [
    "GPU_SPEC_SHEETS",
    "Machine",
    "measure_bandwidth",
    "measure_machine",
    "measure_peak_flops",
    "roofline_plot",
]


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be positive and finite, got {value}.")


@dataclass(frozen=True)
class Machine:
    """A roofline's two ceilings and where they come from ("measured ..." or "spec sheet ...")."""

    name: str
    peak_flops: float  # FLOP/s
    bandwidth: float  # bytes/s
    source: str

    def __post_init__(self):
        _positive("peak_flops", self.peak_flops)
        _positive("bandwidth", self.bandwidth)

    @property
    def ridge_point(self) -> float:
        """FLOP per byte where the roof bends: below it a layer is memory-bound."""
        return self.peak_flops / self.bandwidth

    def attainable(self, flop_per_byte: float) -> float:
        """The most FLOP/s a layer of this intensity can reach on this machine."""
        return arithmetic.attainable_flops(flop_per_byte, self.peak_flops, self.bandwidth)

    def __str__(self) -> str:
        return (f"{self.name}: peak {self.peak_flops / 1e9:,.1f} GFLOP/s, "
                f"bandwidth {self.bandwidth / 1e9:,.1f} GB/s, "
                f"ridge at {self.ridge_point:.1f} FLOP/byte ({self.source})")


# FP32 on the ordinary CUDA cores (no tensor cores, no sparsity) and HBM bandwidth, as NVIDIA's
# data sheets print them. These are ceilings nobody reaches; measured figures sit below.
# PyTorch runs float32 convolutions on cuDNN with TF32 tensor cores by default
# (torch.backends.cudnn.allow_tf32): for them the TF32 roof is the one that applies, with the
# same float32 bytes in memory. Dense (not 2:4 sparse) tensor-core figures.
GPU_SPEC_SHEETS: dict[str, Machine] = {
    "H100 SXM": Machine("NVIDIA H100 SXM (FP32)", 67e12, 3.35e12,
                        "spec sheet: 67 TFLOP/s FP32, 3.35 TB/s HBM3"),
    "H100 SXM TF32": Machine("NVIDIA H100 SXM (TF32 tensor cores)", 494.7e12, 3.35e12,
                             "spec sheet: 494.7 TFLOP/s TF32 dense, 3.35 TB/s HBM3"),
    "A100 SXM 80GB": Machine("NVIDIA A100 SXM 80GB (FP32)", 19.5e12, 2.039e12,
                             "spec sheet: 19.5 TFLOP/s FP32, 2,039 GB/s HBM2e"),
}


def _median_seconds(stmt: str, tensors: dict, min_run_time: float) -> float:
    """Median time of ``stmt``. ``Timer`` warms up while sizing its blocks and synchronises the
    GPU around each block, so asynchronous CUDA launches are timed to completion."""
    timer = benchmark.Timer(stmt=stmt, globals=tensors, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def measure_peak_flops(
    device: str | torch.device = "cpu", *, size: int = 1024, min_run_time: float = 0.3
) -> float:
    """FLOP/s of a ``size x size`` float32 matrix product (``2 size^3`` FLOPs), the best-tuned
    kernel a library has: a practical peak, a little under the spec sheet's.

    On a GPU this is FP32 only while TF32 stays off (PyTorch's default); with
    ``torch.backends.cuda.matmul.allow_tf32 = True`` the tensor cores answer instead.
    """
    integer("size", size)
    _positive("min_run_time", min_run_time)
    device = config.device(device)
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device) for _ in range(2))
    seconds = _median_seconds("torch.mm(a, b, out=c)", {"a": a, "b": b, "c": torch.empty_like(a)},
                              min_run_time)
    return 2 * size**3 / seconds


def measure_bandwidth(
    device: str | torch.device = "cpu", *, megabytes: int = 64, min_run_time: float = 0.3
) -> float:
    """Bytes/s of copying a ``megabytes`` float32 buffer into another, counted as STREAM's copy
    does (each byte read once and written once); pick a buffer larger than the caches."""
    integer("megabytes", megabytes)
    _positive("min_run_time", min_run_time)
    device = config.device(device)
    elements = megabytes * 2**20 // 4
    source = torch.ones(elements, device=device)
    target = torch.empty_like(source)
    seconds = _median_seconds("target.copy_(source)", {"source": source, "target": target},
                              min_run_time)
    return 2 * source.nbytes / seconds


def measure_machine(
    device: str | torch.device = "cpu",
    *,
    size: int = 1024,
    megabytes: int = 64,
    min_run_time: float = 0.3,
) -> Machine:
    """Both ceilings of ``device`` measured now (about ``2 * min_run_time`` seconds and more)."""
    device = config.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"this {device.type.upper()} ({torch.get_num_threads()} threads)"
    return Machine(
        name,
        measure_peak_flops(device, size=size, min_run_time=min_run_time),
        measure_bandwidth(device, megabytes=megabytes, min_run_time=min_run_time),
        f"measured: {size}x{size} matmul, {megabytes} MB copy",
    )


def roofline_plot(
    machines: Sequence[Machine],
    layers: Mapping[str, float],
    *,
    title: str = "Roofline: attainable FLOP/s vs arithmetic intensity",
):
    """Each machine's roof and each layer (name -> FLOP per byte) on it, log-log; returns the Figure.

    A layer's marker sits on a roof at the best rate that machine allows for its intensity.
    """
    if not machines:
        raise ValueError("machines must hold at least one Machine (see measure_machine).")
    if not layers:
        raise ValueError("layers must map at least one name to its FLOP per byte.")
    for name, intensity in layers.items():
        _positive(f"layers[{name!r}]", intensity)
    intensities = list(layers.values()) + [m.ridge_point for m in machines]
    x = np.logspace(math.log10(min(intensities)) - 1, math.log10(max(intensities)) + 1, 200)
    fig, ax = plt.subplots(figsize=(12, 5.5))
    styles = ["-", "--", "-.", ":"]
    markers = "osD^vP*Xh"
    colours = plt.cm.tab10.colors
    for index, machine in enumerate(machines):
        style = styles[index % len(styles)]
        roof = np.minimum(machine.peak_flops, x * machine.bandwidth)
        ax.plot(x, roof, style, color="black", lw=1.5, label=f"{machine.name}\n({machine.source})")
        ax.plot([machine.ridge_point], [machine.peak_flops], "|", color="black", ms=14)
        for number, (name, intensity) in enumerate(layers.items()):
            ax.plot([intensity], [machine.attainable(intensity)], markers[number % len(markers)],
                    color=colours[number % len(colours)], ms=8,
                    label=f"{name}: {intensity:.3g} FLOP/byte" if index == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="arithmetic intensity (FLOP per byte moved, float32)",
           ylabel="attainable performance (FLOP/s)", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.tight_layout()
    return fig
