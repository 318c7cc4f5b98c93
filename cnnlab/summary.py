"""A per-layer cost table for any ``nn.Module``, measured with forward hooks.

``summary(model, (3, 224, 224))`` runs one image through the model and records, for every leaf
module call: output shape, parameters, MACs, activation memory and the compute-to-memory ratio,
with the conventions of :mod:`cnnlab.arithmetic` (MAC = multiply-accumulate, FLOPs = 2 x MACs,
bias adds no MACs, batch norm one MAC per element, average pooling one per window element, max
pooling none). Free ops (activations, dropout, identity, views, shuffle, shift) cost no MACs and
no traffic. :func:`cost_of` gives one block's totals as a :class:`cnnlab.arithmetic.Cost`.
A model built under ``torch.device("meta")`` and summarised with ``device="meta"`` is counted
from shapes alone, without allocating or computing anything.

The MACs of each leaf type come from a rule in :data:`MAC_RULES`; a layer file registers its
own with :func:`mac_rule` or :func:`free_op`. A leaf with no rule is never counted silently:
it is warned about (:class:`UnruledLayerWarning`), marked in the table, and its MACs are
FlopCounterMode's.

Cross-checks, and what the published figures mean:

* ``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per MAC for the operators in its
  ``flop_registry``: convolutions (and their backward), ``mm``/``addmm``/``bmm``/``baddbmm``
  (so ``nn.Linear``) and attention kernels. It counts nothing for batch norm, activations,
  pooling or element-wise arithmetic, so it matches our Conv/Linear rows, not our total.
  We fall back on it for leaf modules that have no rule (their FLOPs / 2).
* torchvision's weight metadata ``meta["_ops"]`` (shown as "GFLOPS" in its docs) is in fact
  GMACs: the convolution and matmul MACs of one 224x224 image (FlopCounter's FLOPs / 2),
  rounded to three decimals. See :func:`published_gmacs`.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.arithmetic import Cost
from cnnlab.checks import integer
from cnnlab.ops import Shift
from cnnlab.tables import Table

__all__ = ["FREE", "MAC_RULES", "Summary", "UncountedStateWarning", "UnruledLayerWarning", "cost_of",
           "free_op", "mac_rule", "published_gmacs", "storage", "summary"]


class UnruledLayerWarning(UserWarning):
    """A leaf module had no cost rule; its MACs came from FlopCounterMode."""

Rule = Callable[[nn.Module, list[torch.Tensor], list[torch.Tensor]], int]
# type -> MACs of one call; the first type in the method resolution order with a rule wins.
MAC_RULES: dict[type, Rule] = {}
# Types that cost nothing: no MACs, no traffic, no new memory (in place, fused into the
# neighbouring convolution's reads, or a view), as the dissertation assumes in eqs. 3.20-3.21.
FREE: set[type] = set()


def mac_rule(*types: type) -> Callable[[Rule], Rule]:
    """Decorator filing ``rule(module, inputs, outputs) -> MACs`` for ``types``.

    A layer file registers its own leaves (fvcore's op handles and thop's custom ops work the
    same way): ``@mac_rule(Subsampling)`` beside the class.
    """

    def decorator(rule: Rule) -> Rule:
        for kind in types:
            MAC_RULES[kind] = rule
        return rule

    return decorator


def free_op(*types: type) -> None:
    """Declare ``types`` free: counted as no MACs and no traffic (activations, shuffles, views)."""
    FREE.update(types)


def _rule_for(module: nn.Module) -> Rule | None:
    return next((MAC_RULES[kind] for kind in type(module).__mro__ if kind in MAC_RULES), None)


def _is_free(module: nn.Module) -> bool:
    return any(kind in FREE for kind in type(module).__mro__)


def _outputs(outputs: list[torch.Tensor]) -> int:
    return sum(t.numel() for t in outputs)


@mac_rule(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _conv(module, inputs, outputs) -> int:
    return _outputs(outputs) * module.in_channels // module.groups * math.prod(module.kernel_size)


@mac_rule(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def _conv_transpose(module, inputs, outputs) -> int:
    return inputs[0].numel() * module.out_channels // module.groups * math.prod(module.kernel_size)


@mac_rule(nn.Linear)
def _linear(module, inputs, outputs) -> int:
    return _outputs(outputs) * module.in_features


@mac_rule(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d,
          nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)
def _norm(module, inputs, outputs) -> int:
    """One scale-and-shift per element: batch norm's inference form. Instance, group and layer
    norm also compute their statistics at run time; those reductions are not counted."""
    return _outputs(outputs)


@mac_rule(nn.LocalResponseNorm)
def _local_response_norm(module, inputs, outputs) -> int:
    """A sum of squares over ``size`` neighbouring maps per element (AlexNet's LRN)."""
    return _outputs(outputs) * module.size


@mac_rule(nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def _avg_pool(module, inputs, outputs) -> int:
    kernel = module.kernel_size
    if not isinstance(kernel, tuple):
        kernel = (kernel,) * (outputs[0].dim() - 2)
    return _outputs(outputs) * math.prod(kernel)


@mac_rule(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
def _adaptive_avg_pool(module, inputs, outputs) -> int:
    x, y = inputs[0], outputs[0]
    dims = y.dim() - 2
    windows = math.prod(_adaptive_window_total(n_in, n_out)
                        for n_in, n_out in zip(x.shape[-dims:], y.shape[-dims:], strict=True))
    return windows * math.prod(y.shape[:-dims])


@mac_rule(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
          nn.AdaptiveMaxPool3d, nn.Upsample, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d,
          nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)
def _moves_only(module, inputs, outputs) -> int:
    """Compares or copies: no multiply-accumulate, but it reads and writes memory."""
    return 0


free_op(nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
        nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softmax,
        nn.LogSoftmax, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
        nn.Identity, nn.Flatten, nn.Unflatten, nn.ChannelShuffle, Shift)
_NUMERIC_COLUMNS = ("params", "macs", "flops", "activations", "activation_bytes",
                    "bytes_moved", "ratio")


@dataclass(frozen=True)
class Summary:
    """The table :func:`summary` returns: one plain-dict row per leaf-module call, and totals.

    A module called twice has two rows (its MACs count twice) while ``total_params`` counts
    every parameter once, as ``sum(p.numel() for p in model.parameters())`` does. Outputs that
    share memory with the layer's input (in-place ReLU, views, dropout in eval) take no new
    activation memory and count 0 activations.
    """

    rows: list[dict]
    total_params: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    dtype_bytes: int

    def _sum(self, column: str):
        return sum(row[column] for row in self.rows)

    @property
    def total_macs(self) -> int:
        return self._sum("macs")

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def total_activations(self) -> int:
        return self._sum("activations")

    @property
    def total_activation_bytes(self) -> int:
        return self._sum("activation_bytes")

    @property
    def total_bytes_moved(self) -> int:
        return self._sum("bytes_moved")

    @property
    def input_bytes(self) -> int:
        """Memory of the input image itself (not part of the activation total)."""
        return math.prod(self.input_shape) * self.dtype_bytes

    def top(self, n: int = 5, by: str = "activation_bytes") -> list[dict]:
        """The ``n`` rows largest in column ``by``: where the memory (or compute) goes."""
        if by not in _NUMERIC_COLUMNS:
            raise ValueError(f"by must be one of {', '.join(_NUMERIC_COLUMNS)}, got {by!r}.")
        n = integer("n", n)
        return sorted(self.rows, key=lambda row: row[by], reverse=True)[:n]

    def by_type(self, column: str = "macs") -> dict[str, float]:
        """Column ``column`` summed per layer type, largest first."""
        if column not in _NUMERIC_COLUMNS:
            raise ValueError(
                f"column must be one of {', '.join(_NUMERIC_COLUMNS)}, got {column!r}."
            )
        totals: dict[str, float] = {}
        for row in self.rows:
            totals[row["type"]] = totals.get(row["type"], 0) + row[column]
        return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))

    def _table(self) -> Table:
        rows = [
            {
                "Layer": row["name"] + (f" #{row['call']}" if row["call"] > 1 else ""),
                "Type": row["type"] + ("" if row["ruled"] else " *"),
                "Output shape": "x".join(map(str, row["out_shape"])),
                "Params": row["params"],
                "MACs": row["macs"],
                "Activation bytes": row["activation_bytes"],
                "Ratio": row["ratio"],
            }
            for row in self.rows
        ]
        totals = {"Layer": "Total", "Params": self.total_params, "MACs": self.total_macs,
                  "Activation bytes": self.total_activation_bytes}
        notes = (
            f"FLOPs = 2 x MACs = {self.total_flops:,}; input {self.input_bytes:,} bytes; "
            f"{self.dtype_bytes} bytes per element"
        )
        if not all(row["ruled"] for row in self.rows):
            notes += "; * no cost rule: MACs from FlopCounterMode (convolutions and matmuls only)"
        return Table(rows, formats={"Ratio": "{:.2f}"}, footer=totals, notes=notes)

    def __str__(self) -> str:
        return str(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()


def _adaptive_window_total(in_size: int, out_size: int) -> int:
    """Input elements summed over all windows of an adaptive pool along one axis."""
    return sum(
        -(-(i + 1) * in_size // out_size) - i * in_size // out_size for i in range(out_size)
    )


def _root(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor._base is None else tensor._base


def summary(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    dtype_bytes: int = 4,
    device: str | torch.device = "cpu",
) -> Summary:
    """Run one zero image of shape ``input_size`` (no batch dimension) and tabulate every leaf.

    Only leaf modules get rows (containers are skipped, names are dotted paths); work done in a
    container's own ``forward`` (residual sums, ``torch.cat``, functional calls) is not counted.
    Row ``ratio`` is the dissertation's R: MACs / (input + weights + output elements).
    The model runs in eval mode under ``no_grad`` and is left as it was found.
    """
    dtype_bytes = integer("dtype_bytes", dtype_bytes)
    if (
        isinstance(input_size, str | bytes)
        or not isinstance(input_size, Sequence)
        or not input_size
        or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in input_size)
    ):
        raise ValueError(
            f"input_size must be a non-empty sequence of positive ints such as (3, 224, 224) "
            f"(one example, no batch dimension), got {input_size!r}."
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    device = torch.device(device)
    elsewhere = {p.device for p in model.parameters() if p.device.type != device.type}
    if elsewhere:
        raise ValueError(
            f"model has parameters on {sorted(map(str, elsewhere))} but device={str(device)!r}; "
            f"pass the model's device, or move the model with model.to({str(device)!r})."
        )

    names = {module: name or "(model)" for name, module in model.named_modules()}
    leaves = [module for module in names
              if next(module.children(), None) is None or _is_quantized(module)]
    leaves = [m for m in leaves if not any(_is_quantized(o) and o is not m and m in set(o.modules())
                                           for o in leaves)]
    rows: list[dict] = []
    calls: dict[nn.Module, int] = {}
    counters: dict[nn.Module, FlopCounterMode] = {}

    def before(module: nn.Module, args: tuple) -> None:
        if not _is_free(module) and _rule_for(module) is None:
            counters[module] = FlopCounterMode(display=False)
            counters[module].__enter__()

    def after(module: nn.Module, args: tuple, output: object) -> None:
        counter = counters.pop(module, None)
        if counter is not None:
            counter.__exit__(None, None, None)
        if output is None:
            return  # the forward raised (the error is on its way up) or returned nothing
        inputs = [t for t in tree_leaves(args) if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor)]
        params = _own_params(module)
        if _is_free(module):
            macs = new_elements = moved = 0
        else:
            rule = _rule_for(module)
            macs = rule(module, inputs, outputs) if rule else counter.get_total_flops() // 2
            input_roots = {id(_root(t)) for t in inputs}
            new_elements = sum(t.numel() for t in outputs if id(_root(t)) not in input_roots)
            moved = sum(t.numel() for t in inputs) + params + sum(t.numel() for t in outputs)
        calls[module] = calls.get(module, 0) + 1
        rows.append({
            "name": names[module],
            "call": calls[module],
            "type": type(module).__name__,
            "ruled": counter is None,
            "out_shape": tuple(outputs[0].shape[1:]) if outputs else (),
            "params": params,
            "macs": macs,
            "flops": 2 * macs,
            "activations": new_elements,
            "activation_bytes": new_elements * dtype_bytes,
            "elements_moved": moved,
            "bytes_moved": moved * dtype_bytes,
            "ratio": macs / moved if moved else 0.0,
        })

    was_training = {module: module.training for module in names}
    handles = []
    try:
        for module in leaves:
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after, always_call=True))
        model.eval()
        with torch.no_grad():
            output = model(torch.zeros((1, *input_size), device=device))
    finally:
        for handle in handles:
            handle.remove()
        for counter in counters.values():
            counter.__exit__(None, None, None)
        for module, training in was_training.items():
            module.training = training
    result = Summary(
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()) + _packed_params(model),
        input_shape=tuple(input_size),
        output_shape=tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else (),
        dtype_bytes=dtype_bytes,
    )
    unruled = sorted({row["type"] for row in rows if not row["ruled"]})
    if unruled:
        warnings.warn(f"no cost rule for {', '.join(unruled)}: their MACs are FlopCounterMode's "
                      "(convolutions and matrix products only), marked * in the table; register "
                      "one with cnnlab.summary.mac_rule or free_op.", UnruledLayerWarning,
                      stacklevel=2)
    return result


def cost_of(module: nn.Module, input_shape: Sequence[int], *, dtype_bytes: int = 4) -> Cost:
    """What ``module`` costs for one input of ``input_shape`` (no batch dimension), as a
    :class:`cnnlab.arithmetic.Cost`, measured from the module itself.

    The conventions are :mod:`cnnlab.arithmetic`'s: free ops (activations, identity, dropout,
    shift, shuffle, and the sums and concatenations a block's own ``forward`` does) cost no
    MACs and no traffic; every other leaf reads its input and weights and writes its output.
    A module on the CPU is copied to the meta device first, so nothing is computed (and no
    kernel is compiled) to count it.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}.")
    devices = {p.device.type for p in module.parameters()} | {"cpu"}
    if devices <= {"cpu", "meta"}:
        module, device = copy.deepcopy(module).to("meta"), "meta"
    else:
        device = next(p.device for p in module.parameters())
    table = summary(module, input_shape, dtype_bytes=dtype_bytes, device=device)
    return Cost(
        in_shape=tuple(input_shape),
        out_shape=table.output_shape,
        params=table.total_params,
        macs=table.total_macs,
        activations=table.total_activations,
        elements_moved=sum(row["elements_moved"] for row in table.rows),
        dtype_bytes=dtype_bytes,
    )


def published_gmacs(name: str) -> float:
    """torchvision's published cost of a classification model, in GMACs.

    ``get_model_weights(name).DEFAULT.meta["_ops"]`` is labelled GFLOPS but counts one
    multiply-add as one operation: it equals FlopCounterMode's FLOPs / 2 (convolutions and
    matmuls only) for one 224x224 image, rounded to 3 decimals, so compare within 0.0005.
    """
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name)
    except ValueError as error:
        raise ValueError(
            f"{name!r} is not a torchvision model with weights; see "
            "torchvision.models.list_models()."
        ) from error
    return weights.DEFAULT.meta["_ops"]


# ---------------------------------------------------------------- quantized and pruned layers
# int8 modules (torch.ao.nn.quantized and its dynamic and fused forms) keep their weights packed
# for the int8 kernels, not as parameters: counted through weight() here, so that a quantized
# network's layers are neither skipped nor counted as 0. A pruned layer keeps weight_orig as its
# parameter (the dense count) and a mask; :func:`storage` shows what either really stores.

import torch.ao.nn.quantized as nnq  # noqa: E402


class UncountedStateWarning(UserWarning):
    """A leaf holds state :func:`storage` cannot size (not a tensor): reported, not counted."""


def _is_quantized(module: nn.Module) -> bool:
    return isinstance(module, nnq.Linear | nnq.Conv1d | nnq.Conv2d | nnq.Conv3d)


def _own_params(module: nn.Module) -> int:
    """Weights a leaf owns: its parameters, or an int8 module's packed weight and bias."""
    if _is_quantized(module):
        bias = module.bias()
        return module.weight().numel() + (bias.numel() if bias is not None else 0)
    return sum(p.numel() for p in module.parameters(recurse=False))


def _packed_params(model: nn.Module) -> int:
    return sum(_own_params(m) for m in model.modules() if _is_quantized(m))


@mac_rule(nnq.Conv1d, nnq.Conv2d, nnq.Conv3d)
def _quantized_conv(module, inputs, outputs) -> int:
    return _conv(module, inputs, outputs)


@mac_rule(nnq.Linear)
def _quantized_linear(module, inputs, outputs) -> int:
    return _linear(module, inputs, outputs)


mac_rule(nnq.Quantize, nnq.DeQuantize)(_moves_only)  # a cast: reads float32, writes int8 (or back)


def storage(model: nn.Module) -> Table:
    """What each leaf stores, as a checkpoint holds it: weight elements, nonzero weights, the
    weight's dtype and the bytes of its whole state (masks, scales and zero points included).

    A pruned layer shows its zeros (nonzero < weights) and the mask it carries beside the dense
    weight; an int8 layer shows 1 byte per weight. A leaf whose state is not made of tensors is
    reported in the table as "not counted" and warned about, never added as 0 bytes.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    rows, uncounted = [], []
    for name, module in model.named_modules():
        inside_quantized = any(_is_quantized(m) and m is not module and module in set(m.modules())
                               for m in model.modules())
        if inside_quantized or (next(module.children(), None) is not None
                                and not _is_quantized(module)):
            continue
        state = module.state_dict()
        if not state:
            continue
        values = tree_leaves(list(state.values()))
        weight = module.weight() if _is_quantized(module) else getattr(module, "weight", None)
        row = {"name": name or "(model)", "type": type(module).__name__,
               "dtype": str(weight.dtype).removeprefix("torch.") if weight is not None else "",
               "weights": weight.numel() if weight is not None else 0,
               "nonzero": int((weight.dequantize() if weight.is_quantized else weight).count_nonzero())
               if weight is not None else 0}
        if any(not isinstance(v, torch.Tensor | int | float | torch.dtype) for v in values):
            row["bytes"] = "not counted"
            uncounted.append(f"{row['name']} ({row['type']})")
        else:
            row["bytes"] = sum(v.numel() * v.element_size() for v in values
                               if isinstance(v, torch.Tensor))
        rows.append(row)
    if not rows:
        raise ValueError("the model stores no state: nothing to count.")
    if uncounted:
        warnings.warn(f"state that is not a tensor in {', '.join(uncounted)}: shown as 'not "
                      "counted', not as 0 bytes.", UncountedStateWarning, stacklevel=2)
    counted = [r["bytes"] for r in rows if isinstance(r["bytes"], int)]
    footer = {"name": "total", "weights": sum(r["weights"] for r in rows),
              "nonzero": sum(r["nonzero"] for r in rows),
              "bytes": sum(counted) if not uncounted else f"{sum(counted):,} + not counted"}
    return Table(rows, title="stored state per layer", footer=footer)
