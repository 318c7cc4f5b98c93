"""Exercises, their checks and their scores.

Each exercise is declared once, in ``cnnlab/exercises/nbNN.py``: its points, cnnlab's reference
implementation, visible cases (shown by :func:`check` in the notebook) and hidden cases (used by the
grader, ``python -m cnnlab.grade``). The notebook calls ``check("01.conv_output_size",
conv_output_size)`` and sees, per case, what was given, what was expected and a hint. In the
student edition of cnnlab (see :mod:`cnnlab.grading.edition`) an exercise has no reference and no
hidden cases: its visible cases carry their expected values as data.

While an exercise is unsolved, the cells below it still run (:func:`solution_or_reference`): on
a library object that does the same job (``fallback``, by default the reference when that is
cnnlab's own, e.g. ``cnnlab.layers.ResidualBlock``), or else on the answers to the calls the
notebook's own cells make (``uses``), stored as data. Neither comes from ``cnnlab/exercises``, so
the student edition runs the notebooks unchanged.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnlab.grading import probes
from cnnlab.grading.probes import PROBES, Unsupported

NO_VALUE = object()  # a Case whose expected value is computed from the reference


@dataclass(frozen=True)
class Case:
    """One set of arguments for the probe (for ``module_output``: ctor args, ctor kwargs, input)."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    why: str = ""  # what this case is about, shown when it fails
    expected: Any = NO_VALUE  # stored only in the student edition, which has no reference
    slips: dict = field(default_factory=dict)  # likewise: each named slip's answer, as data


@dataclass(frozen=True)
class Exercise:
    """A graded exercise. ``id`` is ``"NN.name"``: notebook number, then the definition's name.

    ``reference`` is None only in the student edition, where ``hidden`` is empty too."""

    id: str
    points: float
    reference: Callable | None
    visible: Sequence[Case]
    hidden: Sequence[Case]
    # One hint, or tiers: the first failed check shows the first (a nudge), each further failure in
    # the same kernel the next (the last one may give the formula away).
    hint: str | Sequence[str]
    probe: str = "call"
    rtol: float = 1e-5
    atol: float = 1e-6
    # What later cells use while the exercise is unsolved: a library object ("module:name" in the
    # student edition), or the notebook's own calls (``uses``) answered from stored data.
    fallback: Callable | str | None = None
    uses: Sequence[Case] | Callable[[], Sequence[Case]] = ()
    # Common mistakes by name, each a function with the reference's signature that makes it: when a
    # learner's answer to a visible case equals one, check() names the mistake.
    slips: dict[str, Callable] = field(default_factory=dict)

    def __post_init__(self):
        notebook, _, name = self.id.partition(".")
        if not (notebook.isdigit() and name.isidentifier()):
            raise ValueError(f"exercise id {self.id!r} must look like 'NN.definition_name'")
        if self.probe not in PROBES:
            raise ValueError(f"exercise {self.id}: unknown probe {self.probe!r}")
        if not self.visible or not (self.hidden or self.reference is None):
            raise ValueError(f"exercise {self.id} needs visible and hidden cases")
        if self.reference is None and any(c.expected is NO_VALUE for c in self.visible):
            raise ValueError(f"exercise {self.id} has neither a reference nor expected values")
        if callable(self.fallback) and _from_exercises(self.fallback):
            raise ValueError(f"exercise {self.id}: a fallback comes from the library, not from "
                             f"cnnlab.exercises; declare the notebook's calls as `uses` instead")
        if self.uses and self.probe != "call":
            raise ValueError(f"exercise {self.id}: stored answers (`uses`) need the 'call' probe")

    @property
    def notebook(self) -> str:
        return self.id.split(".")[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    def cases(self, hidden: bool) -> list[Case]:
        return list(self.visible) + (list(self.hidden) if hidden else [])

    @property
    def library_fallback(self) -> Callable | str | None:
        """The library object later cells use while this exercise is unsolved, if there is one."""
        if self.fallback is not None:
            return self.fallback
        if self.reference is not None and not _from_exercises(self.reference):
            return self.reference
        return None

    @property
    def hints(self) -> tuple[str, ...]:
        return (self.hint,) if isinstance(self.hint, str) else tuple(self.hint)

    def slip_answers(self, case: Case) -> dict[str, Any]:
        """What each named slip answers on ``case``, after the learner's transport."""
        if self.reference is None:
            return {name: probes.from_data(data) for name, data in case.slips.items()}
        return {name: transported(PROBES[self.probe](slip, *transported(case.args),
                                                     **transported(case.kwargs)))
                for name, slip in self.slips.items()}

    def use_cases(self) -> list[Case]:
        """The calls the notebook's cells make with this exercise's definition."""
        return list(self.uses() if callable(self.uses) else self.uses)

    def expected(self, case: Case) -> Any:
        """The reference's answer, after the same transport as the learner's (see ``probes``)."""
        if case.expected is not NO_VALUE:
            return case.expected
        value = PROBES[self.probe](self.reference, *transported(case.args), **transported(case.kwargs))
        return transported(value)


def _from_exercises(obj: Any) -> bool:
    return getattr(obj, "__module__", "").startswith("cnnlab.exercises")


def dotted_name(obj: Any) -> str:
    """``"module:qualname"`` of a library object, as the student edition stores a fallback."""
    return f"{obj.__module__}:{obj.__qualname__}"


def _resolve(name: str) -> Any:
    module, _, qualname = name.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def unanswered(*args, **kwargs) -> str:
    """Stands in for an unsolved prediction exercise: the notebook shows that no answer is given."""
    return "(not answered yet)"


class NotSolvedError(RuntimeError):
    """A cell called an unsolved exercise in a way the course has no stored answer for."""


class StoredAnswers:
    """Stands in for an unsolved function exercise: answers the calls the notebook's own cells
    make (the exercise's ``uses``) from data, and says plainly when a call is not among them."""

    def __init__(self, exercise: Exercise, answers: Sequence[Case]):
        self.exercise = exercise
        self._answers = {self._key(c.args, c.kwargs): c.expected for c in answers}

    @staticmethod
    def _key(args: tuple, kwargs: dict) -> str:
        return json.dumps(probes.to_data([list(args), kwargs]), sort_keys=True)

    def __call__(self, *args, **kwargs):
        try:
            key = self._key(args, kwargs)
        except Unsupported:
            key = None
        if key not in self._answers:
            shown = ", ".join([*map(_short, args), *(f"{k}={_short(v)}" for k, v in kwargs.items())])
            raise NotSolvedError(
                f"{self.exercise.id} is not solved yet, and the course stores no answer for "
                f"{self.exercise.name}({shown}). Solve the exercise above (check() says what is "
                f"missing), then run this cell again.")
        return probes.from_data(json.loads(self._answers[key]))

    def __repr__(self) -> str:
        return f"<stored answers for {self.exercise.id}>"


def stored_answers(exercise: Exercise) -> list[Case]:
    """``exercise.uses`` with their answers (JSON text), computed here from the reference."""
    return [Case(c.args, c.kwargs, c.why, expected=json.dumps(probes.to_data(
        probes.call(exercise.reference, *c.args, **c.kwargs)))) for c in exercise.use_cases()]


def transported(value: Any) -> Any:
    """``value`` after the trip out of the learner's kernel: to JSON and back."""
    return probes.from_data(json.loads(json.dumps(probes.to_data(value))))


def received(kind: str, data: Any) -> tuple[str, Any]:
    """A case's outcome as it arrived: ``("ok", value)`` or ``("error", why)``, never raising."""
    if kind == "ok":
        try:
            return "ok", probes.from_data(data)
        except Unsupported as error:
            return "error", str(error)
        except Exception as error:  # forged data of any kind
            return "error", f"malformed answer ({type(error).__name__})"
    return "error", data if isinstance(data, str) else "no answer"


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
    """True when ``got`` is right: see :func:`compare`."""
    return not compare(expected, got, rtol, atol)


def compare(expected: Any, got: Any, rtol: float = 1e-5, atol: float = 1e-6) -> str:
    """Why ``got`` differs from ``expected`` ("" when it is right); never raises.

    Integers are compared exactly (a float is not an integer answer), floats with ``rtol`` and
    ``atol`` (an int is a fine float answer), tensors by shape then values (exactly unless
    floating point), tuples and lists alike, strings without case or surrounding spaces. A 0-d
    tensor counts as the number it holds.
    """
    try:
        return _compare(expected, got, rtol, atol)
    except Exception as error:  # a value we cannot compare is wrong, with the reason
        return f"could not be compared ({type(error).__name__})"


def _number(value: Any) -> Any:
    """A 0-d tensor as the Python number it holds; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return value.item()
    return value


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return {bool: "a bool", int: "an integer", float: "a float", str: "a string", list: "a list",
            tuple: "a tuple", dict: "a dict", type(None): "None"}.get(type(value), "something else")


def _where_tensors_differ(expected: torch.Tensor, got: torch.Tensor, wrong: torch.Tensor) -> str:
    """"" when nothing is ``wrong``; else how many values, the first index, the largest difference,
    and the pattern, when it is a common slip."""
    count = int(wrong.sum())
    if not count:
        return ""
    first = tuple(int(i) for i in wrong.nonzero()[0])
    difference = (got - expected).abs()[wrong]
    finite = difference[torch.isfinite(difference)]
    text = (f"{count} of {wrong.numel()} values differ, the first at index {first} "
            f"(got {_short(got[first].item())}, expected {_short(expected[first].item())})")
    if finite.numel():
        text += f", largest difference {_short(finite.max().item())}"
    pattern = _slip(expected, got, wrong)
    return text + (f"; {pattern}" if pattern else "")


def _slip(expected: torch.Tensor, got: torch.Tensor, wrong: torch.Tensor) -> str:
    """The common slip a wrong tensor shows, if any (names what to look at, not the fix)."""
    def same(candidate: torch.Tensor) -> bool:
        return candidate.shape == got.shape and bool(torch.isclose(
            got.double(), candidate.double(), rtol=1e-5, atol=1e-6, equal_nan=True).all())

    if expected.dim() >= 2 and same(expected.transpose(-1, -2)):
        return "it is the answer transposed: rows and columns are swapped"
    if same(-expected):
        return "it is the answer with the sign flipped"
    if expected.dim() >= 2 and (same(expected.flip(-1)) or same(expected.flip(-2))):
        return "it is the answer mirrored: check the direction (the sign) of each offset"
    factor = _constant_factor(expected, got)
    if factor is not None:
        return f"it is the answer times {_short(factor)}: look for a missing or extra constant factor"
    if expected.dim() >= 2 and min(expected.shape[-2:]) > 2:
        inner = wrong[..., 1:-1, 1:-1]
        if not inner.any():
            return "only values on the border are wrong: check the edges (off by one, padding)"
    if expected.dim() >= 2 and (move := _offset(expected, got)):
        return (f"it is the answer moved by {move}: "
                "check the direction (the sign) of each shift")
    if expected.dim() >= 3 and expected.shape[1] > 1:
        channels = [expected[:, c] for c in range(expected.shape[1])]
        if all(any(torch.equal(got[:, c], e) for e in channels) for c in range(got.shape[1])):
            return "every channel is right but in another place: check the channel order"
    return ""


def _constant_factor(expected: torch.Tensor, got: torch.Tensor) -> float | None:
    """``k`` when ``got`` is ``k * expected`` for one constant ``k`` other than 0, 1 and -1."""
    nonzero = expected != 0
    if not nonzero.any() or bool((got[~nonzero] != 0).any()):
        return None
    ratios = got[nonzero].double() / expected[nonzero].double()
    factor = ratios[0].item()
    if not math.isfinite(factor) or min(abs(factor), abs(abs(factor) - 1)) < 1e-6:
        return None
    return factor if bool(torch.isclose(ratios, ratios[0], rtol=1e-5, atol=1e-9).all()) else None


def _offset(expected: torch.Tensor, got: torch.Tensor) -> str:
    """Which spatial move (1 or 2 places along the last two axes) turns ``expected`` into ``got``
    where both are defined, the slip of shifting the wrong way; "" when none does."""
    for axis, name in ((-1, "columns"), (-2, "rows")):
        size = expected.shape[axis]
        for step in (1, -1, 2, -2):
            if abs(step) >= size - 1:
                continue
            moved = got.narrow(axis, max(step, 0), size - abs(step))
            source = expected.narrow(axis, max(-step, 0), size - abs(step))
            if source.abs().sum() > 0 and bool(torch.isclose(
                    moved.double(), source.double(), rtol=1e-5, atol=1e-6).all()):
                return f"{abs(step)} {name} {'forward' if step > 0 else 'back'}"
    return ""


def _compare(expected: Any, got: Any, rtol: float, atol: float) -> str:
    if isinstance(expected, torch.Tensor) and expected.dim() > 0:
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor of shape {tuple(expected.shape)}, got {_kind(got)}"
        if got.shape != expected.shape:
            return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        if expected.is_floating_point():
            if got.dtype == torch.bool:
                return "expected numbers, got a bool tensor"
            wrong = ~torch.isclose(got.double(), expected.double(), rtol=rtol, atol=atol, equal_nan=True)
            return _where_tensors_differ(expected.double(), got.double(), wrong)
        if got.is_floating_point():
            return f"expected a tensor of {expected.dtype}, got {got.dtype}"
        return _where_tensors_differ(expected.long(), got.long(), got.long() != expected.long())
    expected, got = _number(expected), _number(got)
    if isinstance(expected, bool) or expected is None:
        return "" if got is expected else f"expected {expected!r}, got {_kind(got)}"
    if isinstance(expected, int):
        if isinstance(got, bool) or not isinstance(got, int):
            return f"expected an integer, got {_kind(got)}"
        if got == expected:
            return ""
        return "off by one" if abs(got - expected) == 1 else "a different integer"
    if isinstance(expected, float):
        if isinstance(got, bool) or not isinstance(got, int | float):
            return f"expected a number, got {_kind(got)}"
        if math.isnan(expected):
            return "" if isinstance(got, float) and math.isnan(got) else "expected nan"
        try:
            got = float(got)
        except OverflowError:
            return "a number too large to be right"
        return "" if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) else "a different number"
    if isinstance(expected, str):
        if not isinstance(got, str):
            return f"expected a string, got {_kind(got)}"
        return "" if got.strip().lower() == expected.strip().lower() else "a different string"
    if isinstance(expected, list | tuple):
        if not isinstance(got, list | tuple):
            return f"expected a sequence of {len(expected)}, got {_kind(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for index, (e, g) in enumerate(zip(expected, got, strict=True)):
            why = _compare(e, g, rtol, atol)
            if why:
                return f"item {index}: {why}"
        return ""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got {_kind(got)}"
        if got.keys() != expected.keys():
            return f"expected keys {sorted(expected)}, got {sorted(map(str, got))}"
        for key in expected:
            why = _compare(expected[key], got[key], rtol, atol)
            if why:
                return f"{key}: {why}"
        return ""
    return f"cnnlab cannot compare {type(expected).__name__} answers"


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


def answer(exercise: Exercise, definition: Any, cases: Sequence[Case]) -> dict:
    """In this process, the measurement the grader makes in the learner's kernel: the same probe,
    the same transport both ways."""
    status = probes.definition_status({exercise.name: definition}, exercise.name)
    if status:
        return status
    outcomes = []
    for case in cases:
        kind, data = probes.run_case(definition, exercise.probe, transported(case.args),
                                     transported(case.kwargs))
        outcomes.append(json.loads(json.dumps([kind, data])))
    return {"status": "answered", "outcomes": outcomes}


def score(exercise: Exercise, result: dict, hidden: bool = True) -> Score:
    """Score an :func:`answer` (or the grader's equivalent) for ``exercise``; never raises.

    ``result["outcomes"]`` may stop short (the kernel hung or died): the cases left score 0 with
    ``result["unfinished"]`` as the reason."""
    cases = exercise.cases(hidden)
    zero = Score(exercise.id, 0.0, exercise.points, 0, len(cases))
    status = result.get("status")
    if status == "missing":
        return _with(zero, f"`{exercise.name}` is not defined")
    if status == "borrowed":
        return _with(zero, f"`{exercise.name}` is cnnlab's own ({result['module']}), not an answer")
    if status != "answered":
        return _with(zero, result.get("reason", "no answer"))
    outcomes = list(result["outcomes"])[: len(cases)]
    outcomes += [("error", result.get("unfinished", "no answer"))] * (len(cases) - len(outcomes))
    passed, first_failure = 0, ""
    hidden_cases = {id(c) for c in exercise.hidden}
    for case, outcome in zip(cases, outcomes, strict=True):
        well_formed = isinstance(outcome, list | tuple) and len(outcome) == 2
        kind, value = received(*outcome) if well_formed else ("error", "malformed answer")
        why = compare(exercise.expected(case), value, exercise.rtol, exercise.atol) \
            if kind == "ok" else value
        if not why:
            passed += 1
        elif not first_failure and id(case) in hidden_cases:  # what it is about, never its values
            about = case.why or "one the visible cases do not cover"
            # an error's message can quote the hidden input (a shape, a size): name only its type
            first_failure = (f"a hidden case ({about}) {_failed_without_values(value)}"
                             if kind == "error" else f"wrong on a hidden case: {about}")
        elif not first_failure:
            first_failure = why if kind == "error" else f"wrong on {_call(exercise, case)}: {why}"
    points = round(exercise.points * passed / len(cases), 2)
    return Score(exercise.id, points, exercise.points, passed, len(cases), first_failure)


def _with(s: Score, reason: str) -> Score:
    return Score(s.exercise, s.points, s.max_points, s.passed, s.total, reason)


def _failed_without_values(error: str) -> str:
    """How a hidden case failed, without the error's message: it can quote the hidden input."""
    return error if error.startswith("timed out") else f"raised {error.split(':')[0]}"


def grade_definition(exercise_id: str, definition: Any, hidden: bool = True) -> Score:
    """Score a definition in this process (tests and wrong-answer checks use this)."""
    exercise = get(exercise_id)
    return score(exercise, answer(exercise, definition, exercise.cases(hidden)), hidden)


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
        if len(inner) > _LONGEST_VALUE:  # a table of rows, say: its size, not its contents
            kinds = sorted({type(v).__name__ for v in value})
            return f"{type(value).__name__} of {len(value)} {'/'.join(kinds)}s"
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


_LONGEST_VALUE = 80  # characters of one argument or answer in a feedback line
_WIDTH = 100  # feedback lines wrap here, between words, so JupyterLab never breaks one mid-word


def _wrapped(text: str, indent: str) -> str:
    return textwrap.fill(text, _WIDTH, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


class CheckResult:
    """What :func:`check` returns: true when every visible case is right.

    It shows nothing in a notebook (``_ipython_display_``), so a check cell ends with its feedback
    and no ``Out: True`` echo below it.
    """

    def __init__(self, ok: bool):
        self.ok = ok

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"CheckResult(ok={self.ok})"

    def _ipython_display_(self) -> None:
        pass


def _call(exercise: Exercise, case: Case) -> str:
    if exercise.probe == "module_output":
        ctor_args, ctor_kwargs, x = case.args
        parts = [_short(a) for a in ctor_args] + [f"{k}={_short(v)}" for k, v in ctor_kwargs.items()]
        return f"{exercise.name}({', '.join(parts)}) on input of shape {tuple(x.shape)}"
    parts = [_short(a) for a in case.args] + [f"{k}={_short(v)}" for k, v in case.kwargs.items()]
    return f"{exercise.name}({', '.join(parts)})"


def check(exercise_id: str, definition: Any) -> CheckResult:
    """Run an exercise's visible cases and print given vs expected; never raises for the learner.

    Under nbgrader (``NBGRADER_EXECUTION`` is set) a check that fails raises ``AssertionError``, so
    that nbgrader's validate and autograde see the failure."""
    exercise = get(exercise_id)
    cases = list(exercise.visible)
    result = answer(exercise, definition, cases)
    if result["status"] != "answered":
        print(f"{exercise.id}: {score(exercise, result, hidden=False).reason}")
        return _checked(exercise, False)
    lines, passed = [], 0
    for case, (kind, data) in zip(cases, result["outcomes"], strict=True):
        kind, value = received(kind, data)
        expected = exercise.expected(case)
        why = compare(expected, value, exercise.rtol, exercise.atol) if kind == "ok" else ""
        if kind == "error" and value.startswith("NotImplementedError"):
            lines.append(f"  ✗ {_call(exercise, case)}: not solved yet (raises NotImplementedError)")
        elif kind == "error":
            lines.append(f"  ✗ {_call(exercise, case)} raised {value}")
        elif not why:
            passed += 1
            lines.append(f"  ✓ {_call(exercise, case)} = {_short(value)}")
        else:
            slip = next((name for name, wrong in exercise.slip_answers(case).items()
                         if same(wrong, value, exercise.rtol, exercise.atol)), None)
            shown = f"gave {_short(value)}, expected {_short(expected)}"
            if _short(value) == _short(expected):  # tensors of one shape: the difference says it
                shown = f"gave a different {_short(value)}"
            lines.append(f"  ✗ {_call(exercise, case)} {shown}: {why}"
                         + (f"; that is what you get if {slip}" if slip else "")
                         + (f"  ({case.why})" if case.why else ""))
    ok = passed == len(cases)
    print(f"{exercise.id}: {passed}/{len(cases)} visible cases right"
          + (" — well done." if ok else "\n" + _wrapped(f"  hint: {_next_hint(exercise)}", "        ")))
    print("\n".join(_wrapped(line, "      ") for line in lines))
    return _checked(exercise, ok)


_FAILED_CHECKS: dict[str, int] = {}  # failed check() calls per exercise in this kernel


def _next_hint(exercise: Exercise) -> str:
    """The hint for this failure: tier n on the n-th failed check, the last tier from then on."""
    failures = _FAILED_CHECKS[exercise.id] = _FAILED_CHECKS.get(exercise.id, 0) + 1
    hints = exercise.hints
    hint = hints[min(failures, len(hints)) - 1]
    return hint + (" (Check again after your next try for a more direct hint.)"
                   if failures < len(hints) else "")


def _checked(exercise: Exercise, ok: bool) -> CheckResult:
    if not ok and os.environ.get("NBGRADER_EXECUTION"):
        raise AssertionError(f"{exercise.id} is not solved yet")
    return CheckResult(ok)


def passes(exercise_id: str, definition: Any, hidden: bool = True) -> bool:
    """True when every case (visible and, by default, hidden) is right: for ``assert`` cells."""
    s = grade_definition(exercise_id, definition, hidden)
    return s.passed == s.total


def solution_or_reference(exercise_id: str, definition: Any) -> Any:
    """The learner's definition once it passes its visible cases, otherwise what stands in for it.

    Lets later cells of an unsolved notebook run, and says so: the stand-in is a library object
    that does the same job, or the stored answers to the calls the notebook's cells make (see the
    module docstring). Never the exercise's reference, so the student edition behaves the same.
    """
    exercise = get(exercise_id)
    s = score(exercise, answer(exercise, definition, exercise.visible), hidden=False)
    if s.passed == s.total:
        return definition
    fallback = exercise.library_fallback
    if fallback is not None:
        obj = _resolve(fallback) if isinstance(fallback, str) else fallback
        print(f"({exercise.id} is not solved yet: the cells below use cnnlab's "
              f"`{dotted_name(obj).replace(':', '.')}` instead.)")
        return obj
    if exercise.uses:
        answers = exercise.uses if exercise.reference is None else stored_answers(exercise)
        print(f"({exercise.id} is not solved yet: the cells below use the course's stored answers "
              f"for the calls they make.)")
        return StoredAnswers(exercise, answers)
    print(f"({exercise.id} is not solved yet: the cells below that use it may fail.)")
    return definition


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


__all__ = ["Case", "Exercise", "Score", "answer", "check", "compare", "for_notebook", "get",
           "grade_definition", "passes", "received", "registry", "rel_error", "same", "same_bits",
           "score", "solution_or_reference", "transported"]
