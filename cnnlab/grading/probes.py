"""How an answer becomes a value that can be compared with cnnlab's reference.

A *probe* takes the learner's definition and one case's arguments and returns plain data (numbers,
strings, tensors, lists, dicts). The same probe runs on the reference, so learner and reference are
always measured the same way.

The grader sends this file's *source text* into the learner's kernel and runs it there in a fresh
namespace, so nothing the learner patched in ``cnnlab`` changes what is measured. Keep it
self-contained: it may import only the standard library and torch.
"""

import zlib

import torch


def call(definition, *args, **kwargs):
    """A function exercise: its return value."""
    return definition(*args, **kwargs)


def module_output(definition, ctor_args, ctor_kwargs, x):
    """A module exercise: parameter count and output on ``x``.

    Every parameter is filled with values fixed by its shape alone, so two modules with the same
    structure give the same output whatever they name their layers or in which order they create them.
    """
    module = definition(*ctor_args, **ctor_kwargs)
    with torch.no_grad():
        for p in module.parameters():
            seed = zlib.crc32(repr(tuple(p.shape)).encode())
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 0.5)
        out = module.eval()(x)
    return {"params": sum(p.numel() for p in module.parameters()), "out": out}


PROBES = {"call": call, "module_output": module_output}


def plain(value):
    """Convert an answer to data ``torch.load(weights_only=True)`` accepts (and we can compare)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value] if isinstance(value, list) else tuple(plain(v) for v in value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # NumPy scalars
        return value.item()
    if hasattr(value, "__array__"):  # NumPy arrays
        return torch.as_tensor(value.__array__()).clone()
    return f"<a {type(value).__name__} object>"


def answer(namespace, name, probe, cases):
    """Run every case on ``namespace[name]``; one ``("ok", value)`` or ``("error", why)`` per case."""
    definition = namespace.get(name)
    if definition is None:
        return {"status": "missing"}
    if str(getattr(definition, "__module__", "")).startswith("cnnlab"):
        return {"status": "borrowed", "module": definition.__module__}
    outcomes = []
    for args, kwargs in cases:
        try:
            outcomes.append(("ok", plain(PROBES[probe](definition, *args, **kwargs))))
        except Exception as error:  # the learner's error is feedback, not a grader crash
            outcomes.append(("error", f"{type(error).__name__}: {error}"[:300]))
    return {"status": "answered", "outcomes": outcomes}


def answer_to_file(namespace, name, probe, cases_path, out_path):
    """Kernel-side entry point: read cases from ``cases_path``, write outcomes to ``out_path``."""
    cases = torch.load(cases_path, weights_only=True)
    torch.save(answer(namespace, name, probe, cases), out_path)
