"""How an answer becomes plain data that can be compared with cnnlab's reference.

A *probe* takes the learner's definition and one case's arguments and returns a value (numbers,
strings, tensors, lists, dicts). The same probe runs on the reference, so learner and reference are
always measured the same way. :func:`to_data` turns a value into JSON-ready data and
:func:`from_data` turns it back, checking every field: this is the only way answers leave the
learner's kernel, and ``check()`` in the notebook uses the same round trip, so the two never disagree.

The grader sends this file's *source text* into the learner's kernel and runs it there in a fresh
namespace, so nothing the learner patched in ``cnnlab`` changes how answers are measured. Keep it
self-contained: it may import only the standard library and torch.
"""

import json
import signal
import zlib

import torch

MAX_ELEMENTS = 1 << 20  # a bigger tensor is not an answer to any exercise here
MAX_DEPTH = 16
DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.float16, torch.bfloat16, torch.float32, torch.float64)}


class Unsupported(ValueError):
    """An answer that cannot travel as plain data; it costs only the case that gave it."""


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


def to_data(value, depth=0):
    """``value`` as JSON-ready data: None, bools, ints, floats and strings as they are; tensors
    (strided, real dtypes), lists, tuples and dicts tagged. NumPy scalars and arrays become Python
    numbers and tensors. Anything else raises :class:`Unsupported`."""
    if depth > MAX_DEPTH:
        raise Unsupported(f"unsupported answer type: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if value.bit_length() > 256:
            raise Unsupported("unsupported answer: an integer with more than 256 bits")
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.is_quantized or value.is_nested:
            raise Unsupported(f"unsupported answer type: a tensor with layout {value.layout}")
        name = str(value.dtype).removeprefix("torch.")
        if name not in DTYPES:
            raise Unsupported(f"unsupported answer type: a tensor of dtype {name}")
        if value.numel() > MAX_ELEMENTS:
            raise Unsupported(f"unsupported answer: a tensor of {value.numel()} elements")
        flat = value.detach().cpu().reshape(-1)
        return {"tensor": name, "shape": list(value.shape), "data": flat.tolist()}
    if isinstance(value, list | tuple):
        return {"list" if isinstance(value, list) else "tuple": [to_data(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise Unsupported("unsupported answer type: a dict whose keys are not all strings")
        return {"dict": {k: to_data(v, depth + 1) for k, v in value.items()}}
    module = type(value).__module__
    if module == "numpy" and getattr(value, "ndim", None) == 0:  # NumPy scalars
        return to_data(value.item(), depth + 1)
    if module == "numpy" and hasattr(value, "__array__"):  # NumPy arrays
        try:
            tensor = torch.from_numpy(value.__array__())
        except TypeError as error:
            raise Unsupported(f"unsupported answer type: {error}") from None
        return to_data(tensor, depth + 1)
    raise Unsupported(f"unsupported answer type: {type(value).__name__}")


def from_data(data, depth=0):
    """The value :func:`to_data` described; :class:`Unsupported` for anything malformed."""
    if depth > MAX_DEPTH:
        raise Unsupported("malformed answer: nested too deep")
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 3):
        raise Unsupported(f"malformed answer: {type(data).__name__}")
    if len(data) == 3:
        return _tensor_from_data(data)
    ((tag, inner),) = data.items()
    if tag in ("list", "tuple") and isinstance(inner, list):
        items = [from_data(v, depth + 1) for v in inner]
        return items if tag == "list" else tuple(items)
    if tag == "dict" and isinstance(inner, dict):
        return {str(k): from_data(v, depth + 1) for k, v in inner.items()}
    raise Unsupported(f"malformed answer: tag {str(tag)[:20]!r}")


def _tensor_from_data(data):
    dtype, shape, flat = data.get("tensor"), data.get("shape"), data.get("data")
    if dtype not in DTYPES or not isinstance(shape, list) or not isinstance(flat, list):
        raise Unsupported("malformed answer: not a tensor")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_ELEMENTS
               for n in shape) or len(shape) > MAX_DEPTH:
        raise Unsupported("malformed answer: a tensor's shape")
    count = 1
    for n in shape:
        count *= n
    if count != len(flat) or not all(isinstance(v, int | float) for v in flat):
        raise Unsupported("malformed answer: a tensor's shape does not match its data")
    try:
        return torch.tensor(flat, dtype=DTYPES[dtype]).reshape(shape)
    except (OverflowError, RuntimeError, TypeError) as error:
        raise Unsupported(f"malformed answer: {error}"[:200]) from None


class CaseTimeout(BaseException):
    """Raised in the learner's code when one case runs too long (BaseException: ``except
    Exception`` in their code does not swallow it)."""


def _on_alarm(signum, frame):
    raise CaseTimeout()


def run_case(definition, probe, args, kwargs, seconds=0):
    """One case: ``("ok", data)`` or ``("error", why)``; never raises for the learner's faults."""
    if seconds:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return "ok", to_data(PROBES[probe](definition, *args, **kwargs))
    except CaseTimeout:
        return "error", f"timed out: this case ran longer than {seconds:g} s"
    except Unsupported as error:
        return "error", str(error)
    except Exception as error:  # the learner's error is feedback, not a grader crash
        try:
            return "error", f"{type(error).__name__}: {error}"[:300]
        except Exception:  # an exception whose message itself raises
            return "error", type(error).__name__
    finally:
        if seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def definition_status(namespace, name):
    """Why ``namespace[name]`` cannot be graded, or None when it can."""
    definition = namespace.get(name)
    if definition is None:
        return {"status": "missing"}
    if str(getattr(definition, "__module__", "")).startswith("cnnlab"):
        return {"status": "borrowed", "module": str(definition.__module__)}
    return None


def answer_to_file(namespace, exercise_id, name, probe, cases, out_path, seconds):
    """Kernel-side entry point: run every case on ``namespace[name]``, one JSON line per case
    appended to ``out_path`` as soon as it is known (so a later hang costs only later cases)."""
    with open(out_path, "a") as out:
        status = definition_status(namespace, name)
        if status:
            out.write(json.dumps({"exercise": exercise_id, **status}) + "\n")
            return
        for index, (args, kwargs) in enumerate(cases):
            kind, value = run_case(namespace[name], probe, from_data(args), from_data(kwargs), seconds)
            try:
                line = json.dumps({"exercise": exercise_id, "case": index, "kind": kind, "value": value})
            except ValueError as error:  # e.g. an integer json cannot write
                line = json.dumps({"exercise": exercise_id, "case": index, "kind": "error",
                                   "value": f"unsupported answer: {error}"[:300]})
            out.write(line + "\n")
            out.flush()
