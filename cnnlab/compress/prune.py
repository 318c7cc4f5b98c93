"""Magnitude pruning, thin over ``torch.nn.utils.prune``.

Pruning keeps a mask beside each weight (``weight = weight_orig * weight_mask``), so the zeros
are real in every forward pass but the tensors stay dense: the checkpoint holds ``weight_orig``
and the mask, and a dense kernel multiplies the zeros like any other number. Only a sparse
format (:func:`sparse_bytes`) or a sparse kernel turns the zeros into savings.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.utils import prune

PRUNABLE = (nn.Conv2d, nn.Linear)


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every ``(module, "weight")`` of a convolution or linear layer: what pruning may zero."""
    return [(m, "weight") for m in model.modules() if isinstance(m, PRUNABLE)]


def global_magnitude(model: nn.Module, amount: float) -> nn.Module:
    """Zero the fraction ``amount`` of all conv/linear weights with the smallest ``|w|``,
    ranked across layers at once (so a layer with many small weights loses more of them).

    Repeated calls compound on what is left, as ``torch.nn.utils.prune`` does: the loop of
    seed 002's fig. 11 prunes a little, fine-tunes, and prunes again. Returns ``model``.
    """
    if not 0 <= amount < 1:
        raise ValueError(f"amount is the fraction of the remaining weights to zero, in [0, 1); "
                         f"got {amount!r}.")
    targets = prunable(model)
    if not targets:
        raise ValueError("the model has no nn.Conv2d or nn.Linear weights to prune.")
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Drop the masks: each pruned ``weight`` becomes a plain parameter holding its zeros."""
    for module, name in prunable(model):
        if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            prune.remove(module, name)
    return model


def sparsity(model: nn.Module) -> float:
    """The fraction of conv/linear weights that are exactly zero."""
    weights = [getattr(m, name) for m, name in prunable(model)]
    total = sum(w.numel() for w in weights)
    return sum(int((w == 0).sum()) for w in weights) / total if total else 0.0


def sparse_bytes(weight: torch.Tensor) -> int:
    """Bytes of ``weight`` stored in CSR form as a 2-d matrix (output channels x the rest):
    its nonzero values, one int32 column index per value and one int32 row pointer per row
    (plus one), what a sparse checkpoint of the layer would hold. int32 indices, as SciPy and
    most sparse kernels use, since no layer here has 2**31 columns."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": we only count its bytes
        warnings.simplefilter("ignore", UserWarning)
        csr = weight.detach().reshape(weight.shape[0], -1).to_sparse_csr()
        csr = torch.sparse_csr_tensor(csr.crow_indices().int(), csr.col_indices().int(),
                                      csr.values(), csr.shape, check_invariants=False)
    return sum(t.numel() * t.element_size()
               for t in (csr.values(), csr.col_indices(), csr.crow_indices()))


def prune_to(model: nn.Module, target: float) -> nn.Module:
    """Prune globally until the fraction ``target`` of all conv/linear weights is zero: one step
    of the iterated loop, whatever the earlier steps left."""
    if not 0 <= target < 1:
        raise ValueError(f"target is a sparsity in [0, 1), got {target!r}.")
    now = sparsity(model)
    if target < now:
        raise ValueError(f"the model is already {now:.0%} sparse; pruning cannot bring back weights "
                         f"to reach {target:.0%}.")
    return global_magnitude(model, 1 - (1 - target) / (1 - now))
