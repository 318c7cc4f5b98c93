"""How long does grading a class take? 30 submissions of notebook 00, sandboxed, and the sandbox's cost.

    python benchmarks/bench_grading.py [--count 30] [--jobs 2] [--keep DIR]

The class mixes solved copies (the solution), unsolved ones (the student copy), broken ones (a
solved copy plus a retry loop that swallows interrupts, a syntax error or a cell that kills the
kernel: each costs only itself; and a file that is not JSON) and cheats on the student copy
(wrapping the reference, patching torch.save, reading solutions/: each earns 0). It is graded once with
``python -m cnnlab.grade --jobs N`` and every score is checked against what that submission
earns. Then two solved copies are graded one at a time with and without the sandbox: the
difference is the sandbox's overhead per submission.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nbformat

from cnnlab import grade
from cnnlab.config import REPO_ROOT
from cnnlab.grading import sandbox

NAME = "00_start_here.ipynb"
SOLVED, UNSOLVED = REPO_ROOT / "solutions" / NAME, REPO_ROOT / "notebooks" / NAME
RETRY = "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except:\n        print('retrying')"
BROKEN = {"retry": RETRY, "syntax": "def broken(:", "dies": "import os\nos._exit(1)"}
CHEATS = {
    "wrap": "from cnnlab.exercises.nb00 import accuracy as ref\n"
            "def accuracy(*a, **k):\n    return ref(*a, **k)",
    "save": "import torch\nfrom cnnlab import grading\ne = grading.get('00.accuracy')\n"
            "answers = [e.expected(c) for c in e.cases(True)]\n"
            "torch.save = lambda obj, f, *a, **k: open(f, 'w').write(repr(answers))",
    "read": f"import json\nnb = json.load(open({str(SOLVED)!r}))\n"
            "exec(next(''.join(c['source']) for c in nb['cells'] if 'def accuracy' in ''.join(c['source'])))",
}


def _with_cell(source: Path, extra: str) -> str:
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(extra))
    return nbformat.writes(nb)


def make_class(folder: Path, count: int) -> dict[Path, float]:
    """Write ``count`` submissions, one folder per learner; the points each one earns."""
    kinds: list[tuple[str, str, float]] = []
    for name, cell in BROKEN.items():
        kinds.append((f"broken-{name}", _with_cell(SOLVED, cell), 1.0))
    kinds.append(("broken-notjson", "{ not a notebook", 0.0))
    for name, cell in CHEATS.items():
        kinds.append((f"cheat-{name}", _with_cell(UNSOLVED, cell), 0.0))
    solved, unsolved = SOLVED.read_text(), UNSOLVED.read_text()
    while len(kinds) < count:
        kinds.append(("solved", solved, 1.0) if len(kinds) % 3 else ("unsolved", unsolved, 0.0))
    earned = {}
    for index, (kind, text, points) in enumerate(kinds[:count]):
        path = folder / f"learner{index:02d}-{kind}" / NAME
        path.parent.mkdir(parents=True)
        path.write_text(text)
        earned[path] = points
    return earned


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    grade.main(args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the class and gradebooks here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        earned = make_class(folder / "class", args.count)
        gradebook = folder / "gradebook.json"
        wall = _timed([*map(str, earned), "--jobs", str(args.jobs), "--timeout", "30",
                       "--json", str(gradebook), "--csv", str(folder / "gradebook.csv")])
        got = {e["learner"]: e["points"] for e in json.loads(gradebook.read_text())}
        wrong = [p.parent.name for p, points in earned.items() if got.get(p.parent.name) != points]
        solved = [str(p) for p in earned if p.parent.name.endswith("-solved")][:2]
        with_sandbox = _timed(solved) / len(solved) if sandbox.available() else float("nan")
        without = _timed([*solved, "--no-sandbox"]) / len(solved)
    print(f"\n{args.count} submissions, --jobs {args.jobs}, sandboxed: {sandbox.available()}")
    print(f"  wall time                       {wall:8.1f} s  ({wall / args.count:.1f} s per submission)")
    print(f"  one solved copy, sandboxed      {with_sandbox:8.1f} s")
    print(f"  one solved copy, not sandboxed  {without:8.1f} s")
    print(f"  sandbox overhead per submission {with_sandbox - without:8.1f} s")
    print("  every score as earned: " + ("PASS" if not wrong else f"FAIL ({', '.join(wrong)})"))


if __name__ == "__main__":
    main()
