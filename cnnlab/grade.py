"""Grade a class: ``python -m cnnlab.grade PATH... [--jobs N] [--json FILE] [--csv FILE]``.

Each notebook (``NN_name.ipynb``: its exercises are those of notebook ``NN``) runs in a sandbox of
its own (see :mod:`cnnlab.grading.sandbox`) that sees the student edition of cnnlab only: no
reference, no hidden expected value, no solution, no other submission, no gradebook, no network.
There a kernel runs its cells (a time limit per cell), then every exercise's visible and hidden
cases on the learner's definitions; the answers come out as plain data and are compared here,
against cnnlab's reference. Nothing the notebook printed or wrote is trusted.

Every notebook has a hard deadline, after which everything it started is killed. A notebook that
cannot be read, a crash, a time-out, a missing definition or an answer that cannot be compared
scores 0 for what it affects, with the reason, and grading goes on. The JSON gradebook is rewritten
(atomically) after each notebook; the CSV (a row per learner, a column per exercise) and a
per-exercise summary come at the end. Without bubblewrap, or with ``--no-sandbox``, every report
says that the notebook was not sandboxed.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnlab import grading
from cnnlab.config import data_dir
from cnnlab.grading import Exercise, Score, edition, probes, sandbox

_NOTEBOOK_NUMBER = re.compile(r"^(\d\d)_")
NOT_SANDBOXED = "NOT SANDBOXED: the notebook could read and write whatever the grader's user can"


@dataclass
class Report:
    notebook: str
    scores: list[Score]
    problems: list[str] = field(default_factory=list)
    sandboxed: bool = True
    learner: str = ""

    @property
    def points(self) -> float:
        return round(sum(s.points for s in self.scores), 2)

    @property
    def max_points(self) -> float:
        return round(sum(s.max_points for s in self.scores), 2)

    def as_dict(self) -> dict:
        return {"learner": self.learner, "notebook": self.notebook, "sandboxed": self.sandboxed,
                "points": self.points, "max_points": self.max_points, "problems": self.problems,
                "exercises": [asdict(s) for s in self.scores]}


def exercises_of(path: Path) -> list[Exercise]:
    match = _NOTEBOOK_NUMBER.match(path.name)
    if not match:
        raise ValueError(f"{path}: notebook names start with their number, like 01_counting.ipynb")
    return grading.for_notebook(match.group(1))


@functools.cache
def student_edition() -> Path:
    """The student edition of cnnlab, built once per grading run."""
    folder = Path(tempfile.mkdtemp(prefix="cnnlab-edition-"))
    folder.chmod(0o755)  # the sandbox's own user reads it
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    return edition.build(folder)


def _exercises_or_none(path: Path) -> list[Exercise]:
    try:
        return exercises_of(path)
    except ValueError:
        return []


def _zero_all(exercises: list[Exercise], reason: str) -> list[Score]:
    return [Score(e.id, 0.0, e.points, 0, len(e.cases(True)), reason) for e in exercises]


def _job(text: str, exercises: list[Exercise], timeout: float, case_timeout: float) -> dict:
    return {"notebook": text, "cell_timeout": timeout, "case_timeout": case_timeout,
            "exercises": [{"id": e.id, "name": e.name, "probe": e.probe, "timeout": timeout,
                           "cases": [[probes.to_data(c.args), probes.to_data(c.kwargs)]
                                     for c in e.cases(hidden=True)]} for e in exercises]}


def _text(value, limit: int = 300) -> str:
    return str(value)[:limit]


def _known(exercise_id, counts: dict) -> bool:
    return isinstance(exercise_id, str) and exercise_id in counts


def _results(events: list[dict], exercises: list[Exercise], ended: str) -> tuple[list[str], dict]:
    """Problems and, per exercise id, what :func:`grading.score` takes, from the runner's events.

    The events come from the learner's sandbox: each is checked and anything odd is ignored."""
    problems, status, outcomes, unfinished = [], {}, {e.id: {} for e in exercises}, {}
    counts = {e.id: len(e.cases(True)) for e in exercises}
    for event in events:
        answer = event.get("answer")
        if "cell" in event and "problem" in event:
            problems.append(f"cell {_text(event['cell'], 12)}: {_text(event['problem'])}")
        elif _known(event.get("exercise"), counts) and "problem" in event:
            unfinished[event["exercise"]] = _text(event["problem"])
        elif "problem" in event:
            problems.append(_text(event["problem"]))
        elif isinstance(answer, dict) and _known(answer.get("exercise"), counts):
            eid, case = answer["exercise"], answer.get("case")
            if answer.get("status") in ("missing", "borrowed"):
                status.setdefault(eid, {"status": answer["status"],
                                        "module": _text(answer.get("module"), 80)})
            elif (isinstance(case, int) and 0 <= case < counts[eid]
                  and answer.get("kind") in ("ok", "error")):
                outcomes[eid].setdefault(case, (answer["kind"], answer.get("value")))
    results = {}
    for eid, count in counts.items():
        why = unfinished.get(eid) or ended or "no answer came back"
        if eid in status:
            results[eid] = status[eid]
        elif outcomes[eid]:
            results[eid] = {"status": "answered", "unfinished": why,
                            "outcomes": [outcomes[eid].get(i, ("error", why)) for i in range(count)]}
        else:
            results[eid] = {"status": "failed", "reason": f"no answer: {why}"}
    return problems, results


def _score(exercise: Exercise, result: dict) -> Score:
    try:
        return grading.score(exercise, result)
    except Exception as exc:  # a bug here must cost one exercise, not the class
        return _zero_all([exercise], f"could not be scored ({type(exc).__name__}: {exc})"[:300])[0]


def grade_notebook(path: Path, timeout: float = 120, deadline: float = 900,
                   sandboxed: bool | None = None, slot: int = 0, case_timeout: float = 30,
                   learner: str = "") -> Report:
    """Run one notebook in its sandbox and score its exercises; never raises for the notebook.

    ``timeout`` limits each cell and each exercise's cases together, ``case_timeout`` each case,
    ``deadline`` the whole notebook. ``sandboxed=None`` uses bubblewrap when it is available."""
    can_sandbox = sandbox.available()
    sandboxed = can_sandbox if sandboxed is None else sandboxed and can_sandbox
    report = Report(path.name, [], [], sandboxed, learner or path.stem)
    if not sandboxed:
        report.problems.append(NOT_SANDBOXED + ("" if can_sandbox else " (bwrap is not installed)"))
    try:
        exercises = exercises_of(path)
    except ValueError as exc:
        report.problems.insert(0, str(exc))
        return report
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})"
        report.scores, report.problems = _zero_all(exercises, reason), [reason, *report.problems]
        return report
    outcome = sandbox.run(_job(text, exercises, timeout, min(case_timeout, timeout)),
                          student_edition(), deadline, sandboxed, slot, data_dir())
    problems, results = _results(outcome.events, exercises, outcome.killed)
    report.problems = problems + ([outcome.killed] if outcome.killed else []) + report.problems
    report.scores = [_score(e, results[e.id]) for e in exercises]
    unreadable = [p for p in problems if p.startswith("not a readable notebook")]
    if unreadable:
        report.scores = _zero_all(exercises, unreadable[0])
    return report


def format_report(report: Report) -> str:
    lines = [f"{report.notebook}: {report.points:g} / {report.max_points:g} points"
             + (f" ({report.learner})" if report.learner != Path(report.notebook).stem else "")]
    for s in report.scores:
        lines.append(f"  {s.exercise:<32} {s.points:>6g} / {s.max_points:<4g} "
                     f"{s.passed}/{s.total} cases" + (f"  — {s.reason}" if s.reason else ""))
    lines += [f"  note: {p}" for p in report.problems]
    return "\n".join(lines)


def learners(paths: list[Path]) -> list[str]:
    """Whose each submission is: its folder's name (``submitted/alice/01_x.ipynb`` is alice's),
    or its file name when one folder holds several copies of one notebook."""
    crowded = {(p.resolve().parent, p.name[:2]) for p in paths
               if sum(q.resolve().parent == p.resolve().parent and q.name[:2] == p.name[:2]
                      for q in paths) > 1}
    return [p.stem if (p.resolve().parent, p.name[:2]) in crowded else p.resolve().parent.name
            for p in paths]


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                     encoding="utf-8") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def gradebook_csv(reports: list[Report]) -> str:
    """A row per learner, a column per exercise (points), then the total."""
    ids = list(dict.fromkeys(s.exercise for r in reports for s in r.scores))
    rows: dict[str, dict] = {}
    for r in reports:
        row = rows.setdefault(r.learner, {"learner": r.learner})
        row.update({s.exercise: f"{s.points:g}" for s in r.scores})
    out = io.StringIO()
    writer = csv.DictWriter(out, ["learner", *ids, "total"], restval="0", lineterminator="\n")
    writer.writeheader()
    for row in rows.values():
        row["total"] = f"{round(sum(float(row.get(i, 0)) for i in ids), 2):g}"
        writer.writerow(row)
    return out.getvalue()


def summary(reports: list[Report]) -> str:
    """Per exercise: mean points out of the maximum and how many solved it (every case right)."""
    by_exercise: dict[str, list[Score]] = {}
    for r in reports:
        for s in r.scores:
            by_exercise.setdefault(s.exercise, []).append(s)
    lines = [f"{'exercise':<32} {'mean':>6} / max   solved"]
    for eid, scores in by_exercise.items():
        mean = sum(s.points for s in scores) / len(scores)
        solved = sum(s.passed == s.total for s in scores)
        lines.append(f"{eid:<32} {mean:>6.2f} / {scores[0].max_points:<4g}  {solved}/{len(scores)}")
    unsandboxed = sum(not r.sandboxed for r in reports)
    if unsandboxed:
        lines.append(f"{unsandboxed} of {len(reports)} notebooks were NOT SANDBOXED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlab.grade", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks to grade")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds allowed per cell, and per exercise's cases (default 120)")
    parser.add_argument("--deadline", type=float, default=900,
                        help="seconds allowed per notebook, everything included (default 900)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    parser.add_argument("--json", type=Path, help="write the gradebook to this JSON file")
    parser.add_argument("--csv", type=Path, help="write a row per learner to this CSV file")
    parser.add_argument("--profile", default="smoke", help="CNNLAB_PROFILE the notebooks run in")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run notebooks without bubblewrap (reports say so)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.jobs < 1 or args.timeout <= 0 or args.deadline <= 0:
        parser.error("--jobs, --timeout and --deadline must be positive")
    for out in (args.json, args.csv):
        if out is not None and out.resolve() in {p.resolve() for p in args.paths}:
            parser.error(f"{out} is one of the notebooks to grade")
    os.environ["CNNLAB_PROFILE"] = args.profile  # the sandboxes inherit it
    sandboxed = False if args.no_sandbox else None
    names = learners(args.paths)
    reports: list[Report | None] = [None] * len(args.paths)
    slots, lock = list(range(args.jobs)), threading.Lock()

    def grade_one(index: int) -> int:
        with lock:
            slot = slots.pop()
        try:
            reports[index] = grade_notebook(args.paths[index], args.timeout, args.deadline,
                                            sandboxed, slot, learner=names[index])
        except Exception as exc:  # the grader's own failure costs this notebook only
            path = args.paths[index]
            reason = f"not graded: {type(exc).__name__}: {exc}"[:300]
            reports[index] = Report(path.name, _zero_all(_exercises_or_none(path), reason), [reason],
                                    sandboxed is not False, names[index])
        finally:
            with lock:
                slots.append(slot)
        return index

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed([pool.submit(grade_one, i) for i in range(len(args.paths))]):
            report = reports[future.result()]
            print(format_report(report), flush=True)
            if args.json:
                write_atomically(args.json, json.dumps(
                    [r.as_dict() for r in reports if r is not None], indent=2))
    done = [r for r in reports if r is not None]
    if args.csv:
        write_atomically(args.csv, gradebook_csv(done))
    print("\n" + summary(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
