"""Exercises, their checks and their scores.

Each exercise is declared once, in ``cnnlab/exercises/nbNN.py``: its points, cnnlab's reference
implementation, visible cases (shown by :func:`check` in the notebook) and hidden cases (used by the
grader, ``python -m cnnlab.grade``). The notebook calls ``check("01.conv_output_size",
conv_output_size)`` and sees, per case, what was given, what was expected and a hint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnlab.grading.probes import PROBES, answer, plain


@dataclass(frozen=True)
class Case:
    """One set of arguments for the probe (for ``module_output``: ctor args, ctor kwargs, input)."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    why: str = ""  # what this case is about, shown when it fails


@dataclass(frozen=True)
class Exercise:
    """A graded exercise. ``id`` is ``"NN.name"``: notebook number, then the definition's name."""

    id: str
    points: float
    reference: Callable
    visible: Sequence[Case]
    hidden: Sequence[Case]
    hint: str
    probe: str = "call"
    rtol: float = 1e-5
    atol: float = 1e-6

    def __post_init__(self):
        notebook, _, name = self.id.partition(".")
        if not (notebook.isdigit() and name.isidentifier()):
            raise ValueError(f"exercise id {self.id!r} must look like 'NN.definition_name'")
        if self.probe not in PROBES:
            raise ValueError(f"exercise {self.id}: unknown probe {self.probe!r}")
        if not self.visible or not self.hidden:
            raise ValueError(f"exercise {self.id} needs visible and hidden cases")

    @property
    def notebook(self) -> str:
        return self.id.split(".")[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    def cases(self, hidden: bool) -> list[Case]:
        return list(self.visible) + (list(self.hidden) if hidden else [])

    def expected(self, case: Case) -> Any:
        return plain(PROBES[self.probe](self.reference, *case.args, **case.kwargs))


@dataclass(frozen=True)
class Score:
    """An exercise's result: points earned and, when short of full marks, the reason."""

    exercise: str
    points: float
    max_points: float
    passed: int
    total: int
    reason: str = ""


def same(expected: Any, got: Any, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Structural comparison with a tolerance on floats and tensors (tuples and lists alike)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        if expected.dtype == torch.bool or not expected.is_floating_point():
            return torch.equal(got.to(expected.dtype), expected)
        return torch.allclose(got.double(), expected.double(), rtol=rtol, atol=atol)
    if isinstance(expected, bool) or expected is None:
        return got is expected or got == expected and type(got) is type(expected)
    if isinstance(expected, int | float):
        return (isinstance(got, int | float) and not isinstance(got, bool)
                and math.isclose(got, expected, rel_tol=rtol, abs_tol=atol))
    if isinstance(expected, str):
        return isinstance(got, str) and got.strip().lower() == expected.strip().lower()
    if isinstance(expected, list | tuple):
        return (isinstance(got, list | tuple) and len(got) == len(expected)
                and all(same(e, g, rtol, atol) for e, g in zip(expected, got, strict=True)))
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == expected.keys()
                and all(same(expected[k], got[k], rtol, atol) for k in expected))
    return got == expected


def rel_error(x, y) -> float:
    """Max relative error, as CS231n prints it: around 1e-9 or less means the same in float64."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    return float(((x - y).abs() / (x.abs() + y.abs()).clamp_min(1e-8)).max())


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal bit for bit, stricter than ``torch.equal``: -0.0 differs from +0.0, NaN equals NaN.

    How a kernel is checked against its reference when both should do exactly the same thing.
    """
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    bits = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}[a.element_size()]
    return torch.equal(a.contiguous().view(bits), b.contiguous().view(bits))


def score(exercise: Exercise, result: dict, hidden: bool = True) -> Score:
    """Score what :func:`cnnlab.grading.probes.answer` returned for ``exercise``."""
    cases = exercise.cases(hidden)
    zero = Score(exercise.id, 0.0, exercise.points, 0, len(cases))
    status = result.get("status")
    if status == "missing":
        return _with(zero, f"`{exercise.name}` is not defined")
    if status == "borrowed":
        return _with(zero, f"`{exercise.name}` is cnnlab's own ({result['module']}), not an answer")
    if status != "answered":
        return _with(zero, result.get("reason", "no answer"))
    passed, first_failure = 0, ""
    for case, (kind, value) in zip(cases, result["outcomes"], strict=True):
        if kind == "ok" and same(exercise.expected(case), value, exercise.rtol, exercise.atol):
            passed += 1
        elif not first_failure:
            first_failure = value if kind == "error" else f"wrong on {_call(exercise, case)}"
    points = round(exercise.points * passed / len(cases), 2)
    return Score(exercise.id, points, exercise.points, passed, len(cases), first_failure)


def _with(s: Score, reason: str) -> Score:
    return Score(s.exercise, s.points, s.max_points, s.passed, s.total, reason)


def grade_definition(exercise_id: str, definition: Any, hidden: bool = True) -> Score:
    """Score a definition in this process (tests and wrong-answer checks use this)."""
    exercise = get(exercise_id)
    cases = [(c.args, c.kwargs) for c in exercise.cases(hidden)]
    return score(exercise, answer({exercise.name: definition}, exercise.name, exercise.probe, cases),
                 hidden)


def _short(value: Any) -> str:
    """A value as a learner wants to read it: short floats, shapes for big tensors."""
    if isinstance(value, torch.Tensor):
        return _short(value.tolist()) if value.numel() <= 6 else f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, float):  # four digits: the ones every CPU and BLAS agree on
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(_short(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


def _call(exercise: Exercise, case: Case) -> str:
    if exercise.probe == "module_output":
        ctor_args, ctor_kwargs, x = case.args
        parts = [_short(a) for a in ctor_args] + [f"{k}={_short(v)}" for k, v in ctor_kwargs.items()]
        return f"{exercise.name}({', '.join(parts)}) on input of shape {tuple(x.shape)}"
    parts = [_short(a) for a in case.args] + [f"{k}={_short(v)}" for k, v in case.kwargs.items()]
    return f"{exercise.name}({', '.join(parts)})"


def check(exercise_id: str, definition: Any) -> bool:
    """Run an exercise's visible cases and print given vs expected; never raises."""
    exercise = get(exercise_id)
    cases = list(exercise.visible)
    result = answer({exercise.name: definition}, exercise.name, exercise.probe,
                    [(c.args, c.kwargs) for c in cases])
    if result["status"] != "answered":
        print(f"{exercise.id}: {score(exercise, result, hidden=False).reason}")
        return False
    lines, passed = [], 0
    for case, (kind, value) in zip(cases, result["outcomes"], strict=True):
        expected = exercise.expected(case)
        if kind == "error" and value.startswith("NotImplementedError"):
            lines.append(f"  ✗ {_call(exercise, case)}: not solved yet (raises NotImplementedError)")
        elif kind == "error":
            lines.append(f"  ✗ {_call(exercise, case)} raised {value}")
        elif same(expected, value, exercise.rtol, exercise.atol):
            passed += 1
            lines.append(f"  ✓ {_call(exercise, case)} = {_short(value)}")
        else:
            lines.append(f"  ✗ {_call(exercise, case)} gave {_short(value)}, "
                         f"expected {_short(expected)}" + (f"  ({case.why})" if case.why else ""))
    ok = passed == len(cases)
    print(f"{exercise.id}: {passed}/{len(cases)} visible cases right"
          + (" — well done." if ok else f"\n  hint: {exercise.hint}"))
    print("\n".join(lines))
    return ok


def passes(exercise_id: str, definition: Any, hidden: bool = True) -> bool:
    """True when every case (visible and, by default, hidden) is right: for ``assert`` cells."""
    s = grade_definition(exercise_id, definition, hidden)
    return s.passed == s.total


def solution_or_reference(exercise_id: str, definition: Any) -> Any:
    """The learner's definition once it passes its visible cases, otherwise cnnlab's reference.

    Lets later cells of an unsolved notebook run, and says so.
    """
    exercise = get(exercise_id)
    result = answer({exercise.name: definition}, exercise.name, exercise.probe,
                    [(c.args, c.kwargs) for c in exercise.visible])
    s = score(exercise, result, hidden=False)
    if s.passed == s.total:
        return definition
    print(f"({exercise.id} is not solved yet: the cells below use cnnlab's reference "
          f"`{exercise.reference.__module__}.{exercise.reference.__qualname__}` instead.)")
    return exercise.reference


def registry() -> dict[str, Exercise]:
    """All exercises, by id, from ``cnnlab/exercises/nb*.py``."""
    from cnnlab.exercises import load_all

    return load_all()


def get(exercise_id: str) -> Exercise:
    from cnnlab.exercises import load_notebook

    exercise = load_notebook(exercise_id.partition(".")[0]).get(exercise_id)
    if exercise is None:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(registry()))}")
    return exercise


def for_notebook(number: str) -> list[Exercise]:
    """The exercises of notebook ``NN`` in declaration order."""
    from cnnlab.exercises import load_notebook

    return list(load_notebook(number).values())


__all__ = ["Case", "Exercise", "Score", "check", "for_notebook", "get", "grade_definition",
           "passes", "registry", "rel_error", "same", "same_bits", "score",
           "solution_or_reference"]
