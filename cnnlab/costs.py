"""Measured against predicted cost: time blocks and layers, and set the times beside their counts.

Notebook 07 asks whether the blocks that save MACs also save time. A :class:`Contender` is a
module together with the :class:`cnnlab.arithmetic.Cost` its closed form predicts for one image;
:func:`block_contenders` builds the five blocks of seed 002's chapter 3 (standard KxK conv, DSC,
bottleneck, shuffle unit, shift module) doing the same M -> M job, and :func:`conv_contender`
one convolution from a plain layer description. :func:`measure` times them one image at a time
(:func:`cnnlab.bench.latency`) and returns table rows with the predicted MACs, bytes and ratio
next to the measured time and the FLOP/s achieved; :func:`plot_measured` draws both views.

Blocks are built without batch norm: at inference it folds into the convolution before it, and
the dissertation's equations leave it out. Activations, the shuffle, the shift and the residual
sum stay in, and cost time though the equations count them as free: that gap is the point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from cnnlab import arithmetic, blocks, config

if TYPE_CHECKING:  # cnnlab.roofline imports torch.utils.benchmark, slow and noisy (see measure)
    from cnnlab.roofline import Machine

__all__ = [
    "LAYER_KEYS",
    "Contender",
    "block_contenders",
    "conv_contender",
    "higher_ratio",
    "layer_cost",
    "measure",
    "plot_measured",
]

# What describes a convolution in this module: "same" padding, stride 1, no bias.
LAYER_KEYS = ("in_channels", "out_channels", "size", "kernel_size", "groups")


@dataclass(frozen=True)
class Contender:
    """A module to time and the cost its closed form predicts for one image.

    The module's parameter count must equal the cost's, so that a timing is never set beside
    the count of a different block (build both with the same bias and batch-norm choices).
    """

    name: str
    module: nn.Module
    cost: arithmetic.Cost

    def __post_init__(self):
        if not isinstance(self.module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(self.module).__name__}.")
        if not isinstance(self.cost, arithmetic.Cost):
            raise TypeError(f"cost must be a cnnlab.arithmetic.Cost, got "
                            f"{type(self.cost).__name__}.")
        params = sum(p.numel() for p in self.module.parameters())
        if params != self.cost.params:
            raise ValueError(f"{self.name}: the module has {params:,} parameters but its cost "
                             f"counts {self.cost.params:,}; build both with the same bias and "
                             "batch_norm choices.")


def block_contenders(
    channels: int,
    mid_channels: int,
    size: int,
    *,
    kernel_size: int = 3,
    groups: int = 2,
) -> list[Contender]:
    """The five blocks of seed 002's chapter 3, each turning M = ``channels`` maps of
    ``size`` x ``size`` into M maps: a KxK conv, a DSC, ResNet's bottleneck (m = ``mid_channels``),
    the shuffle unit (``groups``) and the shift module.

    No batch norm and no bias, so each cost is the dissertation's count (eqs. 3.1-3.21).
    The shift module runs the compiled shift kernel (built on first use, then cached).
    """
    m, mid, f, k = channels, mid_channels, size, kernel_size
    shift_module = blocks.ShiftModule(m, m, mid, kernel_size=k, batch_norm=False)
    return [
        Contender(f"conv {k}x{k}", blocks.ConvBNAct(m, m, k, norm_layer=None),
                  arithmetic.conv2d(m, m, f, k, padding=(k - 1) // 2, bias=False)),
        Contender("DSC", blocks.DepthwiseSeparable(m, m, k, batch_norm=False),
                  arithmetic.depthwise_separable_conv2d(m, m, f, k)),
        Contender("bottleneck", blocks.ResidualBlock(m, m, kind="bottleneck", mid_channels=mid,
                                                     kernel_size=k, batch_norm=False),
                  arithmetic.residual_block(m, m, f, kind="bottleneck", mid_channels=mid,
                                            kernel_size=k)),
        Contender(f"shuffle unit (g={groups})",
                  blocks.ShuffleUnit(m, m, mid, groups=groups, kernel_size=k, batch_norm=False),
                  arithmetic.shuffle_unit(m, m, f, mid, groups=groups, kernel_size=k)),
        Contender("shift module", shift_module, arithmetic.shift_module(m, m, f, mid)),
    ]


def _layer(description: object, argument: str) -> dict[str, int]:
    if not isinstance(description, Mapping):
        raise TypeError(f"{argument} must be a dict with keys {', '.join(LAYER_KEYS)}, got "
                        f"{type(description).__name__}.")
    missing = [key for key in LAYER_KEYS if key not in description]
    extra = sorted(set(description) - set(LAYER_KEYS))
    if missing or extra:
        raise ValueError(f"{argument} needs exactly the keys {', '.join(LAYER_KEYS)}; "
                         f"missing {missing}, unknown {extra}.")
    return {key: description[key] for key in LAYER_KEYS}


def layer_cost(description: Mapping[str, int]) -> arithmetic.Cost:
    """The cost of the convolution a description names: "same" padding, stride 1, no bias."""
    layer = _layer(description, "description")
    k = layer["kernel_size"]
    return arithmetic.conv2d(layer["in_channels"], layer["out_channels"], layer["size"], k,
                             padding=(k - 1) // 2, groups=layer["groups"], bias=False)


def conv_contender(name: str, description: Mapping[str, int]) -> Contender:
    """An ``nn.Conv2d`` built from a layer description, with its cost, ready to :func:`measure`."""
    layer = _layer(description, "description")
    k = layer["kernel_size"]
    conv = nn.Conv2d(layer["in_channels"], layer["out_channels"], k, padding=(k - 1) // 2,
                     groups=layer["groups"], bias=False)
    return Contender(name, conv, layer_cost(layer))


def higher_ratio(first: Mapping[str, int], second: Mapping[str, int]) -> str:
    """``"first"`` or ``"second"``: the convolution with the higher compute-to-memory ratio R
    (MACs per value read or written: input, weights, output), ``"first"`` on a tie.

    For two layers of equal MACs it is also the one that moves fewer bytes: the one the
    roofline expects to finish first.
    """
    first_cost = layer_cost(_layer(first, "first"))
    second_cost = layer_cost(_layer(second, "second"))
    return "first" if first_cost.ratio >= second_cost.ratio else "second"


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
    sizes) for :func:`plot_measured`. The output shape is checked against the cost first.
    """
    # Imported here: torch.utils.benchmark is slow to import and warns about CUDA_HOME, and the
    # exercise registry imports this module for higher_ratio alone.
    from cnnlab import bench

    if not contenders:
        raise ValueError("contenders must hold at least one Contender.")
    for contender in contenders:
        if not isinstance(contender, Contender):
            raise TypeError(f"contenders must be Contender objects, got "
                            f"{type(contender).__name__}; see block_contenders or conv_contender.")
    target = config.device(device)
    rows = []
    for contender in contenders:
        x = torch.randn(1, *contender.cost.in_shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            shape = tuple(contender.module.eval()(x).shape[1:])
        if shape != contender.cost.out_shape:
            raise ValueError(f"{contender.name}: the module gives {shape} but its cost predicts "
                             f"{contender.cost.out_shape}; describe the same layer in both.")
        timing = bench.latency(contender.module, x, device=target, repeats=repeats,
                               threads=threads, progress=progress)
        cost = contender.cost
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


def plot_measured(
    rows: Sequence[Mapping[str, object]],
    machines: Sequence[Machine] = (),
    *,
    title: str = "Predicted cost vs measured time",
):
    """Two log-log views of :func:`measure`'s rows; returns the Figure.

    Left: MACs against measured time, with a dotted line through each series' first row at
    constant MACs per millisecond: a block above its line is slower than its MACs predict.
    Colours tell the series apart, markers the blocks.
    Right: arithmetic intensity against the FLOP/s achieved, under each machine's roofline
    (``machines``, e.g. from :func:`cnnlab.roofline.measure_machine`).
    """
    if not rows:
        raise ValueError("rows must hold at least one row from measure().")
    fig, (time_ax, rate_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    markers = "osD^vP*Xh"
    colours = plt.cm.tab10.colors
    block_names = list(dict.fromkeys(row["block"] for row in rows))
    series_names = list(dict.fromkeys(row["series"] for row in rows))
    for s, series in enumerate(series_names):
        members = [row for row in rows if row["series"] == series]
        first = members[0]
        macs = np.array([row["macs"] for row in members], dtype=float)
        span = np.array([macs.min() / 2, macs.max() * 2])
        time_ax.plot(span, span * first["median_ms"] / first["macs"], ":", color="grey", lw=1)
        for row in members:
            b = block_names.index(row["block"])
            style = {"marker": markers[b % len(markers)], "color": colours[s % len(colours)],
                     "ms": 8, "linestyle": "none"}
            time_ax.plot(row["macs"], row["median_ms"], **style)
            rate_ax.plot(row["flop_per_byte"], row["gflops"] * 1e9, **style)
    intensities = [row["flop_per_byte"] for row in rows]
    x = np.logspace(np.log10(min(intensities)) - 0.5, np.log10(max(intensities)) + 0.5, 200)
    for index, machine in enumerate(machines):
        rate_ax.plot(x, np.minimum(machine.peak_flops, x * machine.bandwidth),
                     ["-", "--", "-."][index % 3], color="black", lw=1.2,
                     label=f"roof of {machine.name}")
    for s, series in enumerate(series_names):  # legend: colour = series, marker = block
        time_ax.plot([], [], "s", color=colours[s % len(colours)], label=series or "measured")
    for b, name in enumerate(block_names):
        time_ax.plot([], [], markers[b % len(markers)], color="grey", label=name)
    time_ax.set(xscale="log", yscale="log", xlabel="MACs per image (predicted)",
                ylabel="median time per image (ms, measured)",
                title="Time against MACs (dotted: time in proportion to MACs)")
    rate_ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte, float32)",
                ylabel="achieved FLOP/s (predicted FLOPs / time)",
                title="Achieved rate against intensity")
    for ax in (time_ax, rate_ax):
        ax.grid(True, which="both", alpha=0.3)
    time_ax.legend(fontsize=7, loc="upper left")
    if machines:
        rate_ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
