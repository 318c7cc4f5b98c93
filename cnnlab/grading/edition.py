"""The student edition of cnnlab: the library without any exercise's reference or hidden case.

``build(folder)`` copies the installed package to ``folder/cnnlab`` but replaces each
``exercises/nbNN.py`` by ``nbNN.json``: ids, points, hints and the visible cases with their
expected values, as the plain data of :mod:`cnnlab.grading.probes`, and what stands in for an
unsolved exercise: the name of its library fallback, or the answers to the notebook's own calls.
The course's ``benchmarks/`` scripts come along, where notebooks expect them
(``config.REPO_ROOT / "benchmarks"``). ``check()`` and ``solution_or_reference`` work on it
unchanged. Submissions are graded against this edition, and ``python -m cnnlab.release --bundle``
hands it out, so a learner's kernel has no reference or hidden case to copy an answer from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cnnlab
from cnnlab import exercises, grading
from cnnlab.config import REPO_ROOT
from cnnlab.grading import Case, Exercise, dotted_name, probes, stored_answers


def _fallback_name(exercise: Exercise) -> str | None:
    fallback = exercise.library_fallback
    return fallback if fallback is None or isinstance(fallback, str) else dotted_name(fallback)


def _exercise_data(exercise: Exercise) -> dict:
    return {
        "id": exercise.id, "points": exercise.points, "hint": list(exercise.hints),
        "probe": exercise.probe, "rtol": exercise.rtol, "atol": exercise.atol,
        "visible": [{"args": probes.to_data(c.args), "kwargs": probes.to_data(c.kwargs),
                     "why": c.why, "expected": probes.to_data(exercise.expected(c)),
                     "slips": {name: probes.to_data(value)
                               for name, value in exercise.slip_answers(c).items()}}
                    for c in exercise.visible],
        "fallback": _fallback_name(exercise),
        "uses": [{"args": probes.to_data(c.args), "kwargs": probes.to_data(c.kwargs),
                  "answer": c.expected} for c in stored_answers(exercise)],
    }


def build(folder: Path) -> Path:
    """Write the student edition into ``folder`` (which must not hold one yet); ``folder``."""
    source = Path(cnnlab.__file__).resolve().parent
    exercise_folder = Path(exercises.__file__).resolve().parent

    def ignore(directory: str, names: list[str]) -> set[str]:
        left_out = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if Path(directory).resolve() == exercise_folder:
            left_out |= {n for n in names if n.startswith("nb") and n.endswith((".py", ".json"))}
        return left_out

    shutil.copytree(source, folder / "cnnlab", ignore=ignore)
    if (REPO_ROOT / "benchmarks").is_dir():
        shutil.copytree(REPO_ROOT / "benchmarks", folder / "benchmarks", ignore=ignore)
    for number in exercises.numbers():
        data = [_exercise_data(e) for e in grading.for_notebook(number)]
        (folder / "cnnlab" / "exercises" / f"nb{number}.json").write_text(json.dumps(data))
    return folder


def load(path: Path) -> list[Exercise]:
    """The exercises of one ``nbNN.json`` of the student edition."""
    return [
        Exercise(id=d["id"], points=d["points"], reference=None, hidden=(), hint=tuple(d["hint"]),
                 probe=d["probe"], rtol=d["rtol"], atol=d["atol"],
                 visible=[Case(probes.from_data(c["args"]), probes.from_data(c["kwargs"]), c["why"],
                               expected=probes.from_data(c["expected"]), slips=c["slips"])
                          for c in d["visible"]],
                 fallback=d["fallback"],
                 uses=[Case(probes.from_data(c["args"]), probes.from_data(c["kwargs"]),
                            expected=c["answer"]) for c in d["uses"]])
        for d in json.loads(path.read_text())
    ]
