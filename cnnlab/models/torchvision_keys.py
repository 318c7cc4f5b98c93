"""torchvision's state_dicts in the course's own blocks: the same tensors under our names.

ResNet and SqueezeNet are built from :mod:`cnnlab.layers`' blocks, whose module names
(``residual.spatial1.conv``, ``squeeze.conv``) are not torchvision's (``conv1``, ``squeeze``).
A model that can take torchvision's weights says how the names correspond with a method
``torchvision_names()`` (torchvision's module path -> ours); :func:`load_torchvision_state_dict`
renames every key by it and loads strictly, so a weight is never changed, only renamed, and a
state_dict that is partial, has extra keys or other shapes is refused, naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["load_torchvision_state_dict", "rename_torchvision_keys"]

_SHOWN = 5  # key names quoted in an error message


def rename_torchvision_keys(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> dict:
    """``state_dict`` (torchvision's) with every key renamed to ``model``'s; tensors unchanged.

    ValueError naming the keys whose module torchvision's model of this layout does not have.
    """
    if not callable(getattr(model, "torchvision_names", None)):
        raise TypeError(f"{type(model).__name__} has no torchvision_names(): its layout is "
                        "torchvision's own (load with model.load_state_dict) or has no "
                        "torchvision twin.")
    names = model.torchvision_names()
    renamed, unknown = {}, []
    for key, tensor in state_dict.items():
        module, _, leaf = key.rpartition(".")
        if module in names:
            renamed[f"{names[module]}.{leaf}"] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"{_listed(unknown)} name no layer that this {type(model).__name__} "
                         "has in torchvision's layout: is it the state_dict of another model, "
                         "depth or version?")
    return renamed


def load_torchvision_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                                **options) -> nn.Module:
    """Load torchvision's ``state_dict`` into ``model`` (renamed, strict); returns ``model``.

    ``options`` go to :meth:`nn.Module.load_state_dict` (e.g. ``assign=True`` for a model built
    on the meta device). ValueError, naming torchvision's keys, for a missing or extra key and
    for a tensor whose shape differs from the model's.
    """
    renamed = rename_torchvision_keys(model, state_dict)
    theirs = {ours: theirs for theirs, ours in model.torchvision_names().items()}

    def torchvision_key(key: str) -> str:
        module, _, leaf = key.rpartition(".")
        return f"{theirs.get(module, module)}.{leaf}"

    expected = model.state_dict()
    missing = [torchvision_key(key) for key in expected if key not in renamed]
    if missing:
        raise ValueError(f"the state_dict lacks {_listed(missing)}: it is partial, or from a "
                         f"smaller torchvision {type(model).__name__}.")
    extra = [torchvision_key(key) for key in renamed if key not in expected]
    if extra:
        raise ValueError(f"the state_dict has {_listed(extra)} that the model does not.")
    wrong = [f"{torchvision_key(key)} {tuple(tensor.shape)} (expected "
             f"{tuple(expected[key].shape)})" for key, tensor in renamed.items()
             if tensor.shape != expected[key].shape]
    if wrong:
        raise ValueError(f"shapes differ for {_listed(wrong)}: another width or num_classes?")
    model.load_state_dict(renamed, strict=True, **options)
    return model


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)} key(s) ({shown}{more})"
