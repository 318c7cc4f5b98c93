"""Every exercise can pass (its reference scores full marks) and can fail (wrong answers kept in
tests/wrong_answers score below full marks)."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
import torch

import cnnlab.exercises
import tests.wrong_answers as wrong_answers
from cnnlab import grading


def _wrong_answers() -> dict:
    found = {}
    for info in pkgutil.iter_modules(wrong_answers.__path__):
        found.update(importlib.import_module(f"tests.wrong_answers.{info.name}").WRONG)
    return found


WRONG = _wrong_answers()
EXERCISES = sorted(grading.registry())


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_a_copy_of_the_reference_scores_full_marks(exercise_id):
    reference = grading.get(exercise_id).reference

    def learners_copy(*args, **kwargs):  # defined outside cnnlab, as a learner's would be
        return reference(*args, **kwargs)

    if isinstance(reference, type):
        learners_copy = type(reference.__name__, (reference,), {"__module__": "__main__"})
    score = grading.grade_definition(exercise_id, learners_copy)
    assert score.points == score.max_points, score.reason


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_plausible_wrong_answers_score_below_full_marks(exercise_id):
    wrong = WRONG.get(exercise_id, [])
    assert len(wrong) >= 2, f"keep at least two wrong answers for {exercise_id} in tests/wrong_answers"
    for definition in wrong:
        score = grading.grade_definition(exercise_id, definition)
        assert score.points < score.max_points, f"{definition.__name__} got full marks"


def _floated(value):
    """``value`` with every integer (and integer tensor) made a float: the float-for-int slip."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() or value.dtype == torch.bool else value.double()
    if isinstance(value, list | tuple):
        return type(value)(_floated(v) for v in value)
    if isinstance(value, dict):
        return {k: _floated(v) for k, v in value.items()}
    return value


def _transposed(value):
    """``value`` with its last two axes swapped where it is a non-square tensor of 2-D or more."""
    if isinstance(value, torch.Tensor) and value.dim() >= 2 and value.shape[-1] != value.shape[-2]:
        return value.transpose(-1, -2)
    if isinstance(value, list | tuple):
        return type(value)(_transposed(v) for v in value)
    if isinstance(value, dict):
        return {k: _transposed(v) for k, v in value.items()}
    return value


def _is_same(a, b) -> bool:
    return not grading.compare(a, b) and type(a) is type(b)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_a_float_for_an_int_or_a_transposed_tensor_scores_below_full_marks(exercise_id):
    """Slips derived from the reference itself, wherever they change its first visible answer."""
    exercise = grading.get(exercise_id)
    reference = exercise.reference
    if exercise.probe != "call" or isinstance(reference, type) or not exercise.visible:
        pytest.skip("not a function exercise with a visible case to derive a slip from")
    right = exercise.expected(exercise.visible[0])
    for slip in (_floated, _transposed):
        if _is_same(slip(right), right):
            continue

        def slipped(*args, _slip=slip, **kwargs):
            return _slip(reference(*args, **kwargs))

        score = grading.grade_definition(exercise_id, slipped)
        assert score.points < score.max_points, f"{slip.__name__} answer got full marks"


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_reference_itself_is_not_accepted_as_an_answer(exercise_id):
    exercise = grading.get(exercise_id)
    score = grading.grade_definition(exercise_id, exercise.reference)
    assert score.points == 0 and "cnnlab's own" in score.reason


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_exercise_is_declared_sensibly(exercise_id):
    exercise = grading.get(exercise_id)
    assert exercise.points > 0
    assert len(exercise.hints) >= 2, "a nudge first, the more direct hint after a second failure"
    assert all(len(hint) > 40 for hint in exercise.hints), "a hint should teach something"
    assert all(c.why for c in exercise.hidden), "a failed hidden case is reported by its why"
    # hidden cases must add something the visible ones do not show
    visible = {repr(c.args) + repr(c.kwargs) for c in exercise.visible}
    assert any(repr(c.args) + repr(c.kwargs) not in visible for c in exercise.hidden)


@pytest.mark.parametrize("path", sorted(Path(cnnlab.exercises.__path__[0]).glob("nb*.py")),
                         ids=lambda path: path.name)
def test_exercise_modules_import_no_other_notebooks_exercises(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.update([node.module] + [f"{node.module}.{alias.name}" for alias in node.names])
    assert not {name for name in imported if name.startswith("cnnlab.exercises")}
