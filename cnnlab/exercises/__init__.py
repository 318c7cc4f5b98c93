"""The course's exercises, one module per notebook (``nbNN.py``, each with a list ``EXERCISES``).

Points, reference, cases and hints are declared here once; notebooks only name the exercise id.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil


@functools.cache
def load_all() -> dict:
    exercises = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("nb"):
            continue
        for exercise in importlib.import_module(f"{__name__}.{info.name}").EXERCISES:
            if exercise.id in exercises:
                raise ValueError(f"exercise {exercise.id} is declared twice")
            exercises[exercise.id] = exercise
    return exercises
