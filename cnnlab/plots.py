"""The course's recurring pictures: image grids, training curves, running training error,
confusion matrices, bar charts.

Every function returns the matplotlib Figure and leaves showing it to the caller
(notebooks end plotting cells with ``plt.show()``), titles and labels included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator


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
