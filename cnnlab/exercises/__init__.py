"""The course's exercises, one module per notebook (``nbNN.py``, each with a list ``EXERCISES``).

Points, reference, cases and hints are declared here once; notebooks only name the exercise id.
A notebook's ``check`` imports only its own module, so one notebook never pays for another's.
The student edition holds ``nbNN.json`` instead (see :mod:`cnnlab.grading.edition`).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from pathlib import Path

_FOLDER = Path(__file__).parent


def numbers() -> list[str]:
    """The notebooks that have exercises, as ``NN`` strings."""
    found = {info.name[2:] for info in pkgutil.iter_modules(__path__)}
    found |= {p.stem[2:] for p in _FOLDER.glob("nb*.json")}
    return sorted(n for n in found if re.fullmatch(r"\d\d", n))


@functools.cache
def load_notebook(number: str) -> dict:
    """The exercises of notebook ``NN`` by id (empty if the notebook has none)."""
    name = f"nb{number}"
    if any(info.name == name for info in pkgutil.iter_modules(__path__)):
        declared = importlib.import_module(f"{__name__}.{name}").EXERCISES
    elif (_FOLDER / f"{name}.json").is_file():
        from cnnlab.grading import edition

        declared = edition.load(_FOLDER / f"{name}.json")
    else:
        return {}
    exercises = {}
    for exercise in declared:
        if exercise.id in exercises:
            raise ValueError(f"exercise {exercise.id} is declared twice")
        if exercise.notebook != number:
            raise ValueError(f"exercise {exercise.id} is declared in {name}.py, not nb{exercise.notebook}.py")
        exercises[exercise.id] = exercise
    return exercises


def load_all() -> dict:
    """Every exercise of every notebook, by id."""
    return {eid: e for number in numbers() for eid, e in load_notebook(number).items()}
