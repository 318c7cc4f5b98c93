"""The course with the real nbgrader, one notebook at a time: generate_assignment accepts it, with
the points of cnnlab/exercises, and autograde gives the released copy 0 and a solved copy full marks."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from cnnlab import grading
from cnnlab.config import REPO_ROOT

SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _nbgrader(course: Path, *args: str) -> None:
    bin_dir = Path(sys.executable).parent  # nbgrader runs alembic from the environment
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CNNLAB_PROFILE": "smoke"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_nbgrader_generates_and_autogrades_the_notebook(path, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(tmp_path)!r}\n"
        "c.CourseDirectory.course_id = 'cnnlab'\nc.ExecutePreprocessor.timeout = 300\n")
    source = tmp_path / "source" / "cnnlab"
    source.mkdir(parents=True)
    shutil.copy(path, source)
    _nbgrader(tmp_path, "generate_assignment", "cnnlab", "--create", "--force")
    released = tmp_path / "release" / "cnnlab" / path.name
    assert released.is_file()

    for learner, copy in (("unsolved", released), ("solved", source / path.name)):
        (tmp_path / "submitted" / learner / "cnnlab").mkdir(parents=True)
        shutil.copy(copy, tmp_path / "submitted" / learner / "cnnlab")
        _nbgrader(tmp_path, "db", "student", "add", learner)
    _nbgrader(tmp_path, "autograde", "cnnlab", "--force")

    declared = sum(e.points for e in grading.for_notebook(path.name[:2]))
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        assert gradebook.find_notebook(path.stem, "cnnlab").max_score == declared
        unsolved = gradebook.find_submission_notebook(path.stem, "cnnlab", "unsolved")
        solved = gradebook.find_submission_notebook(path.stem, "cnnlab", "solved")
        assert unsolved.score == 0 and solved.score == solved.max_score == declared
