"""The course's recurring pictures: image grids, training curves, running training error,
confusion matrices, bar charts, and measured time against predicted cost.

Every function returns the matplotlib Figure and leaves showing it to the caller
(notebooks end plotting cells with ``plt.show()``), titles and labels included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

if TYPE_CHECKING:  # cnnlab.roofline imports torch.utils.benchmark, slow to import
    from cnnlab.roofline import Machine


def _to_hwc(image, mean=None, std=None) -> np.ndarray:
    """A CHW tensor (maybe normalised), HWC array or PIL image as an HWC float array in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().float()
        if mean is not None and std is not None:
            image = image * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)
        array = image.permute(1, 2, 0).numpy()
    else:
        array = np.asarray(image, dtype=np.float32)
        if array.max() > 1.0:
            array = array / 255.0
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    return np.clip(array, 0.0, 1.0)


def image_grid(images: Sequence, titles: Sequence[str] | None = None, *, ncols: int = 8,
               title: str | None = None, mean=None, std=None, size: float = 1.4):
    """Images in a grid with optional per-image titles (class names, predictions)."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    ncols = min(ncols, n) or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < n:
            ax.imshow(_to_hwc(images[index], mean, std), cmap="gray")
            if titles is not None:
                ax.set_title(str(titles[index]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def training_curves(histories: Mapping[str, object] | object, title: str = "Training"):
    """Loss and accuracy (in %, as :class:`cnnlab.train.History` keeps it) per epoch, for one
    History or a {label: History} mapping."""
    if not isinstance(histories, Mapping):
        histories = {"": histories}
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    for label, h in histories.items():
        epochs = range(1, len(h.train_loss) + 1)
        prefix = f"{label} " if label else ""
        loss_ax.plot(epochs, h.train_loss, marker="o", label=f"{prefix}train")
        acc_ax.plot(epochs, h.train_acc, marker="o", label=f"{prefix}train")
        if getattr(h, "val_loss", None):
            loss_ax.plot(epochs, h.val_loss, marker="s", linestyle="--", label=f"{prefix}validation")
            acc_ax.plot(epochs, h.val_acc, marker="s", linestyle="--", label=f"{prefix}validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title=f"{title}: loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def running_error(
    runs: Mapping[str, object],
    *,
    window: int,
    target_error: float | None = None,
    title: str = "Training error",
):
    """Running training error against iterations, one line per :class:`cnnlab.train.Run`;
    the target as a line."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, run in runs.items():
        ax.plot(range(1, len(run.errors) + 1), run.running_error(window), label=label)
    if target_error is not None:
        ax.axhline(target_error, color="grey", linestyle="--", label=f"{target_error:g}% target")
    ax.set(xlabel="iteration (one batch each)",
           ylabel=f"training error, mean of last {window} batches (%)", title=title,
           ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(matrix, classes: Sequence[str], title: str = "Confusion matrix"):
    """Rows are true classes, columns predictions; each row normalised to fractions."""
    counts = torch.as_tensor(matrix, dtype=torch.float64)
    fractions = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    fig, ax = plt.subplots(figsize=(0.45 * len(classes) + 2.5, 0.45 * len(classes) + 2))
    shown = ax.imshow(fractions.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(shown, ax=ax, label="fraction of the true class")
    fig.tight_layout()
    return fig


def bars(values: Mapping[str, float], *, ylabel: str, title: str, log: bool = False,
         annotate: bool = True):
    """One bar per named value, e.g. parameters or MACs of alternative blocks."""
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(values)), 3.5))
    names, heights = list(values), list(values.values())
    drawn = ax.bar(names, heights, color=plt.cm.tab10.colors[: len(names)])
    if annotate:
        ax.bar_label(drawn, labels=[f"{v:,.3g}" for v in heights], fontsize=8)
    ax.set(ylabel=ylabel, title=title)
    if log:
        ax.set_yscale("log")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


def time_vs_cost(
    rows: Sequence[Mapping[str, object]],
    machines: Sequence[Machine] = (),
    *,
    title: str = "Predicted cost vs measured time",
):
    """Two log-log views of :func:`cnnlab.bench.measure`'s rows; returns the Figure.

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


def _compact(value: float) -> str:
    """147456 -> '147k', 150994944 -> '151M': bar labels short enough to read."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def block_chart(rows: Sequence[Mapping[str, object]], title: str = "Same job, five blocks"):
    """Bar charts of :func:`cnnlab.widgets.compare_blocks` rows: parameters, MACs (log scales)
    and ratio R."""
    names = [str(row["block"]) for row in rows]
    colours = plt.cm.tab10.colors[: len(names)]
    panels = [("params", "parameters (count, log scale)", True),
              ("MACs", "MACs per image (log scale)", True),
              ("R", "R = MACs per element moved", False)]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3.8))
    for ax, (column, label, log) in zip(axes, panels, strict=True):
        values = [float(row[column]) for row in rows]
        drawn = ax.bar(names, values, color=colours)
        ax.bar_label(drawn, labels=[_compact(v) for v in values], fontsize=8)
        if log:  # plain "10k" labels: no mathtext to parse each time a widget redraws the chart
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _compact(value)))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set(ylabel=label, title=column)
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reliability_diagram(bins_by_name: Mapping[str, Sequence], title: str = "Reliability diagram"):
    """Accuracy against confidence per bin, one panel per model, from
    :func:`cnnlab.metrics.reliability_bins`; the diagonal is perfect calibration. Bars below it
    are overconfident bins, above it underconfident; empty bins are left out."""
    fig, axes = plt.subplots(1, len(bins_by_name), figsize=(3.6 * len(bins_by_name), 3.6),
                             squeeze=False)
    for ax, (name, bins) in zip(axes[0], bins_by_name.items(), strict=True):
        full = [b for b in bins if b.count]
        width = full[0].high - full[0].low if full else 10
        ax.bar([b.low for b in full], [b.accuracy for b in full], width=width, align="edge",
               color="#9ecae1", edgecolor="black", lw=0.6, label="accuracy")
        ax.bar([b.low for b in full], [b.confidence - b.accuracy for b in full],
               bottom=[b.accuracy for b in full], width=width, align="edge", color="none",
               edgecolor="#cb181d", hatch="//", lw=0.6, label="gap to confidence")
        ax.plot([0, 100], [0, 100], "--", color="grey", lw=0.8)
        ax.set(xlim=(0, 100), ylim=(0, 100), xlabel="confidence (%)", ylabel="accuracy (%)",
               title=name)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
