"""Instructor checks: every solution notebook grades 100%; every student copy grades 0 on every
exercise — so each check is shown able to pass and able to fail — and runs top to bottom, with no
cell failing, on the student edition the grader uses (and ``release --bundle`` hands out)."""

import pytest

from cnnlab import grade, grading
from cnnlab.config import REPO_ROOT

SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
STUDENT = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(autouse=True)
def _smoke_and_private_checkpoints(monkeypatch, tmp_path):
    """Solution and student copy run at once on two workers: each trains into its own folder."""
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
    monkeypatch.setenv("CNNLAB_CHECKPOINTS", str(tmp_path))


def test_every_exercise_lives_in_a_notebook():
    numbers = {p.name[:2] for p in SOLUTIONS}
    assert numbers == {p.name[:2] for p in STUDENT}
    orphans = [e for e in grading.registry().values() if e.notebook not in numbers]
    assert not orphans, f"exercises without a notebook: {orphans}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: f"solutions/{p.name}")
def test_solution_grades_full_marks(path):
    report = grade.grade_notebook(path, timeout=300)
    assert report.problems == []
    assert report.scores, "every notebook has at least one exercise"
    assert report.points == report.max_points, grade.format_report(report)


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: f"notebooks/{p.name}")
def test_student_copy_grades_zero(path):
    report = grade.grade_notebook(path, timeout=300)
    assert report.scores and all(s.points == 0 for s in report.scores), grade.format_report(report)
    assert [p for p in report.problems if not p.startswith(grade.NOT_SANDBOXED)] == [], report.problems
