"""Calibration: whether a classifier's confidence can be read as a probability of being right.

A model is *calibrated* when, of the predictions it makes with confidence about p, a share p is
correct. :func:`reliability_bins` sorts predictions by confidence (the top softmax probability)
into equal-width bins and compares each bin's mean confidence with its accuracy; the
:func:`expected_calibration_error` (ECE, Naeini et al. 2015; Guo et al. 2017, eq. 3) is the gap
averaged over bins, weighted by how many predictions fall in each. Percentages, as the course's
accuracies. :func:`wilson_interval` says how precisely a rate counted on few examples is known.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader

from cnnlab.checks import integer

__all__ = ["Bin", "expected_calibration_error", "mean_confidence", "probabilities",
           "reliability_bins", "wilson_interval"]


class Bin(NamedTuple):
    """Predictions whose confidence lies in ``(low, high]`` (percent): how many, their mean
    confidence and their accuracy (None for an empty bin)."""

    low: float
    high: float
    count: int
    confidence: float | None
    accuracy: float | None


def _checked(probs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probs, labels = torch.as_tensor(probs), torch.as_tensor(labels)
    if probs.dim() != 2 or labels.shape != probs.shape[:1] or len(labels) == 0:
        raise ValueError("probabilities must be (examples, classes) and labels (examples,), got "
                         f"{tuple(probs.shape)} and {tuple(labels.shape)}.")
    sums = probs.double().sum(1)
    if (probs < 0).any() or not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
        raise ValueError("probabilities must be non-negative rows that sum to 1: pass "
                         "logits.softmax(1), not the logits.")
    return probs.double(), labels.long()


def reliability_bins(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> list[Bin]:
    """The reliability diagram's data: ``bins`` equal-width confidence bins over (0, 100]."""
    probs, labels = _checked(probs, labels)
    bins = integer("bins", bins)
    confidence, predicted = probs.max(1)
    correct = (predicted == labels).double()
    # A confidence c falls in bin ceil(c * bins) - 1: (0, 1/bins] is bin 0, as Guo et al. bin.
    index = (confidence * bins).ceil().long().clamp(1, bins) - 1
    found = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        found.append(Bin(100 * b / bins, 100 * (b + 1) / bins, count,
                         100 * confidence[inside].mean().item() if count else None,
                         100 * correct[inside].mean().item() if count else None))
    return found


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10
                               ) -> float:
    """ECE in percentage points: sum over bins of (share of predictions) x |accuracy - confidence|."""
    found = reliability_bins(probs, labels, bins)
    total = sum(b.count for b in found)
    return sum(b.count / total * abs(b.accuracy - b.confidence) for b in found if b.count)


def mean_confidence(probs: torch.Tensor) -> float:
    """The mean top probability, in percent: above the accuracy means overconfident."""
    return 100 * torch.as_tensor(probs).double().max(1).values.mean().item()


def probabilities(model: nn.Module, loader: DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax outputs and labels of ``model`` (in eval mode, on its own device) over ``loader``;
    the model's mode is restored afterwards."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs, labels = [], []
    try:
        with torch.inference_mode():
            for inputs, targets in loader:
                probs.append(model(inputs.to(device)).float().softmax(1).cpu())
                labels.append(targets)
    finally:
        model.train(was_training)
    return torch.cat(probs), torch.cat(labels)


def wilson_interval(hits: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (percent) for a rate of ``hits`` in ``trials``: z = 1.96 for 95%.

    Unlike the normal approximation it stays inside [0, 100] and holds for small counts, such
    as an error rate measured on a few dozen photos.
    """
    trials = integer("trials", trials)
    hits = integer("hits", hits, minimum=0)
    if hits > trials:
        raise ValueError(f"hits ({hits}) cannot exceed trials ({trials}).")
    if not z > 0:
        raise ValueError(f"z must be > 0, got {z!r}.")
    rate = hits / trials
    centre = (rate + z**2 / (2 * trials)) / (1 + z**2 / trials)
    spread = z / (1 + z**2 / trials) * (rate * (1 - rate) / trials
                                        + z**2 / (4 * trials**2)) ** 0.5
    return max(0.0, 100 * (centre - spread)), min(100.0, 100 * (centre + spread))
