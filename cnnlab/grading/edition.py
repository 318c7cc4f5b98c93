"""The student edition of cnnlab: the library without any exercise's reference or hidden case.

``build(folder)`` copies the installed package to ``folder/cnnlab`` but replaces each
``exercises/nbNN.py`` by ``nbNN.json``: ids, points, hints and the visible cases with their
expected values, as the plain data of :mod:`cnnlab.grading.probes`. The course's ``benchmarks/``
scripts come along, where notebooks expect them (``config.REPO_ROOT / "benchmarks"``). ``check()`` works on it
unchanged; ``solution_or_reference`` has no reference to fall back on. Submissions are graded
against this edition, so a learner's kernel has nothing to copy an answer from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cnnlab
from cnnlab import exercises, grading
from cnnlab.config import REPO_ROOT
from cnnlab.grading import Case, Exercise, probes


def _exercise_data(exercise: Exercise) -> dict:
    return {
        "id": exercise.id, "points": exercise.points, "hint": exercise.hint,
        "probe": exercise.probe, "rtol": exercise.rtol, "atol": exercise.atol,
        "visible": [{"args": probes.to_data(c.args), "kwargs": probes.to_data(c.kwargs),
                     "why": c.why, "expected": probes.to_data(exercise.expected(c))}
                    for c in exercise.visible],
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
        Exercise(id=d["id"], points=d["points"], reference=None, hidden=(), hint=d["hint"],
                 probe=d["probe"], rtol=d["rtol"], atol=d["atol"],
                 visible=[Case(probes.from_data(c["args"]), probes.from_data(c["kwargs"]), c["why"],
                               expected=probes.from_data(c["expected"])) for c in d["visible"]])
        for d in json.loads(path.read_text())
    ]
