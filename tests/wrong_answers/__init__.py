"""Plausible wrong answers per exercise (off-by-one, wrong formula, wrong shape), one module per
notebook, each with a dict ``WRONG = {exercise_id: [definition, ...]}``. Every exercise needs two
or more: tests/test_exercises.py shows each graded below full marks."""
