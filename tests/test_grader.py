"""The grading command on well-behaved and badly-behaved notebooks (each runs a real kernel)."""

import json

import pytest

from cnnlab import grade
from tests.notebook_factory import CHECK_ACCURACY, RIGHT_ACCURACY, write_notebook

STUB = "def accuracy(logits, labels):\n    raise NotImplementedError()"


def _grade(path, timeout=20):
    report = grade.grade_notebook(path, timeout=timeout)
    (score,) = report.scores
    return report, score


def test_a_right_answer_gets_full_marks_and_json(tmp_path, capsys):
    path = write_notebook(tmp_path / "00_right.ipynb", RIGHT_ACCURACY, CHECK_ACCURACY)
    assert grade.main([str(path), "--json", str(tmp_path / "scores.json")]) == 0
    assert "00_right.ipynb: 1 / 1 points" in capsys.readouterr().out
    (entry,) = json.loads((tmp_path / "scores.json").read_text())
    assert entry["points"] == 1 and entry["exercises"][0]["passed"] == 6


def test_printing_passed_or_redefining_check_gains_nothing(tmp_path):
    path = write_notebook(
        tmp_path / "00_liar.ipynb", STUB,
        "def check(*args):\n    print('00.accuracy: 3/3 visible cases right — well done.')\n    return True",
        "check('00.accuracy', accuracy)\nprint('passed')",
    )
    _, score = _grade(path)
    assert score.points == 0


def test_monkeypatching_cnnlab_grading_in_the_kernel_gains_nothing(tmp_path):
    path = write_notebook(
        tmp_path / "00_patch.ipynb", STUB,
        "import cnnlab.grading, cnnlab.grading.probes as p\n"
        "cnnlab.grading.same = lambda *a, **k: True\n"
        "p.answer = lambda *a, **k: {'status': 'answered', 'outcomes': [('ok', 1.0)] * 6}\n"
        "p.call = lambda d, *a, **k: 1.0",
    )
    _, score = _grade(path)
    assert score.points == 0 and "NotImplementedError" in score.reason


def test_an_infinite_loop_times_out_and_grading_goes_on(tmp_path):
    path = write_notebook(
        tmp_path / "00_loop.ipynb", "while True:\n    pass",
        "def accuracy(logits, labels):\n    while True:\n        pass",
    )
    report, score = _grade(path, timeout=3)
    assert report.problems == ["cell 0: timed out: ran longer than 3 s and was interrupted"]
    assert score.points == 0 and "timed out" in score.reason


def test_a_notebook_that_raises_still_gets_its_other_answers_graded(tmp_path):
    path = write_notebook(tmp_path / "00_raises.ipynb", "1 / 0", "def broken(:", RIGHT_ACCURACY)
    report, score = _grade(path)
    assert score.points == 1
    assert [p.split(":")[1].strip() for p in report.problems] == ["ZeroDivisionError", "SyntaxError"]


def test_a_missing_definition_scores_zero_with_the_reason(tmp_path):
    _, score = _grade(write_notebook(tmp_path / "00_empty.ipynb", "x = 1"))
    assert score.points == 0 and "not defined" in score.reason


def test_a_kernel_crash_scores_zero_with_the_reason(tmp_path):
    path = write_notebook(tmp_path / "00_crash.ipynb", RIGHT_ACCURACY, "import os\nos._exit(1)")
    report, score = _grade(path)
    assert score.points == 0 and "died" in score.reason


def test_invalid_json_and_other_notebooks_still_graded(tmp_path, capsys):
    broken = tmp_path / "00_broken.ipynb"
    broken.write_text("{ this is not json")
    right = write_notebook(tmp_path / "00_right.ipynb", RIGHT_ACCURACY)
    assert grade.main([str(broken), str(right)]) == 0
    out = capsys.readouterr().out
    assert "00_broken.ipynb: 0 / 1 points" in out and "not a readable notebook" in out
    assert "00_right.ipynb: 1 / 1 points" in out


def test_bad_paths_and_names_are_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path / "nope.ipynb")])
    assert "no such notebook" in capsys.readouterr().err
    report = grade.grade_notebook(write_notebook(tmp_path / "unnumbered.ipynb", "x = 1"))
    assert report.scores == [] and "start with their number" in report.problems[0]
