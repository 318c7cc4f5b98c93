"""The course's exercises, one module per notebook (``nbNN.py``, each with a list ``EXERCISES``).

Points, reference, cases and hints are declared here once; notebooks only name the exercise id.
A notebook's ``check`` imports only its own module, so one notebook never pays for another's.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil


@functools.cache
def load_notebook(number: str) -> dict:
    """The exercises of notebook ``NN`` by id (empty if the notebook has none)."""
    name = f"nb{number}"
    if not any(info.name == name for info in pkgutil.iter_modules(__path__)):
        return {}
    exercises = {}
    for exercise in importlib.import_module(f"{__name__}.{name}").EXERCISES:
        if exercise.id in exercises:
            raise ValueError(f"exercise {exercise.id} is declared twice")
        if exercise.notebook != number:
            raise ValueError(f"exercise {exercise.id} is declared in {name}.py, not nb{exercise.notebook}.py")
        exercises[exercise.id] = exercise
    return exercises


def load_all() -> dict:
    """Every exercise of every notebook, by id."""
    numbers = sorted(info.name[2:] for info in pkgutil.iter_modules(__path__) if info.name.startswith("nb"))
    return {eid: e for number in numbers for eid, e in load_notebook(number).items()}
