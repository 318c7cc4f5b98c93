"""Grade notebooks: ``python -m cnnlab.grade PATH... [--timeout S] [--json FILE]``.

Each notebook runs in a fresh kernel with a per-cell time limit. Then, for every exercise of that
notebook (``NN`` from the file name ``NN_name.ipynb``), the kernel is asked to run the exercise's
visible and hidden cases on the learner's definition; the answers come back as data and are compared
here, against cnnlab's reference. Nothing the notebook printed, and nothing it patched in its own
kernel, is trusted. A notebook that cannot be read, a crash, a time-out or a missing definition
scores 0 for what it affects, with the reason, and grading goes on.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import torch

from cnnlab import grading
from cnnlab.grading import Exercise, Score, probes
from cnnlab.grading.kernel import KernelSession

_NOTEBOOK_NUMBER = re.compile(r"^(\d\d)_")
# Sent as text into the learner's kernel, so patches made there to cnnlab cannot change the probes.
PROBE_SOURCE = inspect.getsource(probes)


@dataclass
class Report:
    notebook: str
    scores: list[Score]
    problems: list[str] = field(default_factory=list)

    @property
    def points(self) -> float:
        return round(sum(s.points for s in self.scores), 2)

    @property
    def max_points(self) -> float:
        return round(sum(s.max_points for s in self.scores), 2)


def exercises_of(path: Path) -> list[Exercise]:
    match = _NOTEBOOK_NUMBER.match(path.name)
    if not match:
        raise ValueError(f"{path}: notebook names start with their number, like 01_counting.ipynb")
    return grading.for_notebook(match.group(1))


def _zero_all(exercises: list[Exercise], reason: str) -> list[Score]:
    return [Score(e.id, 0.0, e.points, 0, len(e.cases(True)), reason) for e in exercises]


def _ask_kernel(session: KernelSession, exercise: Exercise, workdir: Path) -> dict:
    """Have the kernel run the exercise's cases; its answers as data, or why there are none."""
    cases_path, out_path = workdir / f"{exercise.id}.cases.pt", workdir / f"{exercise.id}.out.pt"
    torch.save([(c.args, c.kwargs) for c in exercise.cases(hidden=True)], cases_path)
    source = (
        "def _cnnlab_grade(source, name, probe, cases_path, out_path):\n"
        "    space = {}\n"
        "    exec(compile(source, 'cnnlab_grader_probes', 'exec'), space)\n"
        "    space['answer_to_file'](globals(), name, probe, cases_path, out_path)\n"
        f"_cnnlab_grade({PROBE_SOURCE!r}, {exercise.name!r}, {exercise.probe!r}, "
        f"{str(cases_path)!r}, {str(out_path)!r})\n"
        "del _cnnlab_grade\n"
    )
    error = session.run_code(source)
    if error or not out_path.exists():
        return {"status": "failed", "reason": f"no answer: {error or 'nothing came back'}"}
    try:
        return torch.load(out_path, weights_only=True)
    except Exception as exc:  # a kernel that wrote something unreadable earns nothing
        return {"status": "failed", "reason": f"unreadable answer ({type(exc).__name__})"}


def grade_notebook(path: Path, timeout: float = 120) -> Report:
    """Execute one notebook and score its exercises."""
    try:
        exercises = exercises_of(path)
    except ValueError as exc:
        return Report(path.name, [], [str(exc)])
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook, unreadable file
        reason = f"not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})"
        return Report(path.name, _zero_all(exercises, reason), [reason])
    with tempfile.TemporaryDirectory(prefix="cnnlab-grade-") as tmp, \
            KernelSession(nb, path.parent.resolve(), timeout) as session:
        problems = session.run_notebook()
        scores = [grading.score(e, _ask_kernel(session, e, Path(tmp))) for e in exercises]
    return Report(path.name, scores, problems)


def format_report(report: Report) -> str:
    lines = [f"{report.notebook}: {report.points:g} / {report.max_points:g} points"]
    for s in report.scores:
        lines.append(f"  {s.exercise:<32} {s.points:>6g} / {s.max_points:<4g} "
                     f"{s.passed}/{s.total} cases" + (f"  — {s.reason}" if s.reason else ""))
    lines += [f"  note: {p}" for p in report.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlab.grade", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks to grade")
    parser.add_argument("--timeout", type=float, default=120, help="seconds allowed per cell")
    parser.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    parser.add_argument("--profile", default="smoke", help="CNNLAB_PROFILE the notebooks run in")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    os.environ["CNNLAB_PROFILE"] = args.profile  # the kernels inherit it
    reports = []
    for path in args.paths:
        report = grade_notebook(path, args.timeout)
        reports.append(report)
        print(format_report(report), flush=True)
    if args.json:
        args.json.write_text(json.dumps(
            [{"notebook": r.notebook, "points": r.points, "max_points": r.max_points,
              "problems": r.problems, "exercises": [asdict(s) for s in r.scores]} for r in reports],
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
