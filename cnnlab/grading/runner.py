"""What runs inside a submission's sandbox: ``python -m cnnlab.grading.runner < job.json``.

It executes the notebook (given on stdin with the exercises' case arguments) in a kernel started
in the current folder, then has the kernel run each exercise's cases through
:mod:`cnnlab.grading.probes`, and writes what happened to stdout, one JSON event per line:
``{"cell": i, "problem": ...}``, ``{"answer": {...}}`` per case, ``{"exercise": id, "problem": ...}``.
It holds no expected value: everything it writes is compared by the grader, outside.

A kernel that dies or ignores an interrupt is started again and the cells that ran before are run
again, so one fatal cell or case costs only what it touches (at most ``MAX_RESTARTS`` times).
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

from cnnlab.grading import probes
from cnnlab.grading.kernel import Kernel

MAX_RESTARTS = 3
WARM_UP = "import json, signal, zlib, torch"  # what the probes import, not charged to an exercise
WARM_UP_TIMEOUT = 120
MAX_ANSWER_LINE = 1 << 24
PROBE_SOURCE = inspect.getsource(probes)  # sent as text: see probes' docstring
ANSWERS = ".cnnlab-answers.jsonl"


def emit(**event) -> None:
    print(json.dumps(event), flush=True)


def code_cells(text: str) -> list[tuple[int, str]]:
    """(index, source) of each code cell; a cell whose source is not text is reported and skipped.

    Read as plain JSON (nbformat 4): the cells are all the grader needs."""
    nb = json.loads(text)
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ValueError("not an nbformat 4 notebook")
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if isinstance(source, str):
            cells.append((index, source))
        else:
            emit(cell=index, problem="its source is not text: not run")
    return cells


def probe_code(exercise: dict, out_path: Path, seconds: float) -> str:
    """The code the kernel runs for one exercise, probes sent as text into a fresh namespace."""
    return (
        "def _cnnlab_grade(source, cases, *args):\n"
        "    import json\n"
        "    space = {}\n"
        "    exec(compile(source, 'cnnlab_grader_probes', 'exec'), space)\n"
        "    space['answer_to_file'](globals(), *args[:3], json.loads(cases), *args[3:])\n"
        f"_cnnlab_grade({PROBE_SOURCE!r}, {json.dumps(exercise['cases'])!r}, {exercise['id']!r}, "
        f"{exercise['name']!r}, {exercise['probe']!r}, {str(out_path)!r}, {seconds!r})\n"
        "del _cnnlab_grade\n"
    )


class Session:
    """A kernel and the cells that have run in it, so that it can be started again."""

    def __init__(self, folder: Path, cell_timeout: float):
        self.kernel = Kernel(folder)
        self.cell_timeout = cell_timeout
        self.ran: list[str] = []
        self.restarts = 0

    def run_cell(self, source: str) -> str | None:
        error = self.kernel.run(source, self.cell_timeout)
        if self.kernel.alive:
            self.ran.append(source)
        return error

    def revive(self) -> bool:
        """Start a dead kernel again and replay the cells that ran; False when out of restarts."""
        while not self.kernel.alive:
            if self.restarts == MAX_RESTARTS:
                return False
            self.restarts += 1
            self.kernel.stop()
            self.kernel.start()
            for source, timeout in [(WARM_UP, WARM_UP_TIMEOUT)] + [(s, self.cell_timeout)
                                                                  for s in self.ran]:
                self.kernel.run(source, timeout)
                if not self.kernel.alive:
                    break
        return True


def main() -> int:
    job = json.loads(sys.stdin.read())
    folder = Path.cwd()
    try:
        cells = code_cells(job["notebook"])
    except Exception as exc:  # not JSON, not a notebook
        emit(problem=f"not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})")
        return 0
    session = Session(folder, job["cell_timeout"])
    session.kernel.start()
    try:
        for index, source in cells:
            if not session.revive():
                emit(cell=index, problem="not run: the kernel died too often")
                continue
            error = session.run_cell(source)
            if error:
                emit(cell=index, problem=error)
        out_path = folder / ANSWERS
        if session.revive():
            session.kernel.run(WARM_UP, WARM_UP_TIMEOUT)
        for exercise in job["exercises"]:
            if not session.revive():
                emit(exercise=exercise["id"], problem="not graded: the kernel died too often")
                continue
            out_path.unlink(missing_ok=True)
            error = session.kernel.run(probe_code(exercise, out_path, job["case_timeout"]),
                                       exercise["timeout"])
            _forward_answers(out_path)
            if error:
                emit(exercise=exercise["id"], problem=error)
    finally:
        session.kernel.stop()
    emit(done=True)
    return 0


def _forward_answers(path: Path) -> None:
    if not path.exists():
        return
    with open(path, errors="replace") as answers:
        for line in answers:
            if len(line) > MAX_ANSWER_LINE:
                continue
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            emit(answer=answer)


if __name__ == "__main__":
    sys.exit(main())
