"""Write the student notebooks from the instructor's: ``python -m cnnlab.release [--check]``.

``solutions/NN_name.ipynb`` is the single source. In the student copy ``notebooks/NN_name.ipynb``:
code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` +
``raise NotImplementedError()`` (a markdown answer becomes ``YOUR ANSWER HERE``), lines between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed, outputs are cleared and
metadata is reduced to what Jupyter needs. A student copy that has been run (it holds
outputs) is renamed aside, ``NN_name.<time>.ipynb.bak``, before it is replaced: a learner's
answers are never overwritten. Every solution cell and every check cell carries nbgrader metadata
(``grade_id``, and ``points`` from the exercise's declaration), written into solutions/ too so that
``nbgrader generate_assignment`` accepts them. ``--check`` writes nothing and fails, listing the
files, when notebooks/ or the nbgrader metadata is out of date or a stub is missing.
``--execute PATH...`` re-runs solution notebooks in place so their stored outputs are fresh
(run it in the smoke profile: ``make outputs``). ``--bundle DIR`` writes what an instructor hands
out: the student notebooks on the student edition of cnnlab (:mod:`cnnlab.grading.edition`: no
exercise's reference, no hidden case, no solution), with what installs it.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from cnnlab import grading
from cnnlab.config import REPO_ROOT

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
KEPT_CELL_METADATA = ("tags", "nbgrader")


def _strip_regions(source: str, begin: str, end: str, stub: tuple[str, ...] | None) -> str:
    """Replace each begin..end region (markers included) by ``stub`` lines at the marker's indent."""
    out, inside = [], False
    for number, line in enumerate(source.split("\n"), 1):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise ValueError(f"line {number}: {begin} inside another {begin}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in stub or ()]
        elif marker == end:
            if not inside:
                raise ValueError(f"line {number}: {end} without {begin}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin} is never closed by {end}")
    return "\n".join(out)


NBGRADER_SCHEMA = 3
_DEFINED = re.compile(r"^(?:def|class) (\w+)", re.M)
_CHECKED = re.compile(r"\bcheck\(\s*['\"](\d\d\.\w+)['\"]")


def nbgrader_metadata(solution: nbformat.NotebookNode, number: str) -> list[dict | None]:
    """What ``metadata.nbgrader`` each cell should carry: a solution cell is an autograded answer
    named after what it defines, a code cell that runs ``check("NN.x", ...)`` is a locked test
    worth the exercise's points; other cells carry none."""
    points = {e.id: e.points for e in grading.for_notebook(number)}
    wanted, used = [], set()
    for index, cell in enumerate(solution.cells):
        checked = _CHECKED.search(cell.source) if cell.cell_type == "code" else None
        if BEGIN_SOLUTION in cell.source:
            defined = _DEFINED.search(cell.source)
            grade_id, meta = defined.group(1) if defined else f"answer_{index}", {
                "grade": False, "locked": False, "solution": True}
        elif checked and checked.group(1) in points:
            grade_id, meta = f"check_{checked.group(1).split('.', 1)[1]}", {
                "grade": True, "locked": True, "points": points[checked.group(1)], "solution": False}
        else:
            wanted.append(None)
            continue
        if grade_id in used:
            grade_id = f"{grade_id}_{index}"
        used.add(grade_id)
        wanted.append({**meta, "grade_id": grade_id, "schema_version": NBGRADER_SCHEMA})
    return wanted


def with_nbgrader_metadata(solution: nbformat.NotebookNode, number: str) -> bool:
    """Set every cell's nbgrader metadata as :func:`nbgrader_metadata` says; True if any changed."""
    changed = False
    for cell, wanted in zip(solution.cells, nbgrader_metadata(solution, number), strict=True):
        if cell.metadata.get("nbgrader") != wanted:
            changed = True
            if wanted is None:
                del cell.metadata["nbgrader"]
            else:
                cell.metadata["nbgrader"] = wanted
    return changed


def kernel_metadata() -> dict:
    """The notebook metadata JupyterLab writes when it opens a notebook on the course's kernel.

    Stored as JupyterLab would write it, an untouched notebook does not open as modified. Only
    ``language_info.version`` depends on the machine (the Python that releases); ``--check``
    ignores it.
    """
    return {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"codemirror_mode": {"name": "ipython", "version": 3},
                          "file_extension": ".py", "mimetype": "text/x-python", "name": "python",
                          "nbconvert_exporter": "python", "pygments_lexer": "ipython3",
                          "version": platform.python_version()},
    }


def _without_python_version(text: str) -> str:
    return re.sub(r'("version": )"3\.\d+\.\d+\w*"', r'\1"3.x"', text)


def student_copy(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner's version of a solution notebook."""
    cells = []
    for index, cell in enumerate(solution.cells):
        try:
            stub = CODE_STUB if cell.cell_type == "code" else (MARKDOWN_STUB,)
            source = _strip_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)
            source = _strip_regions(source, BEGIN_HIDDEN, END_HIDDEN, None).strip("\n")
        except ValueError as exc:
            raise ValueError(f"cell {index}: {exc}") from None
        if not source.strip() and cell.source.strip():
            continue  # a cell that held only hidden tests
        metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source, metadata=metadata)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source, metadata=metadata)
        else:
            new = nbformat.v4.new_raw_cell(source, metadata=metadata)
        cells.append(new)
    student = nbformat.v4.new_notebook(cells=cells)
    student.metadata = kernel_metadata()
    for cell in student.cells:  # stable ids so regenerating gives byte-identical files
        cell.pop("id", None)
    student.nbformat_minor = 4
    return student


def stub_problems(student: nbformat.NotebookNode, number: str) -> list[str]:
    """Every exercise of notebook ``number`` must be checked in the copy and stubbed out in it."""
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    problems = []
    for exercise in grading.for_notebook(number):
        if not re.search(rf"check\(\s*['\"]{re.escape(exercise.id)}['\"]", code):
            problems.append(f"exercise {exercise.id} is never check()-ed")
        definition = re.search(rf"^(def|class) {exercise.name}\b.*?(?=^\S|\Z)", code, re.M | re.S)
        if not definition or CODE_STUB[0] not in definition.group(0):
            problems.append(f"exercise {exercise.id}: `{exercise.name}` is not stubbed out")
    return problems


def _keep_learner_work(target: Path) -> None:
    """A student copy someone has run (it holds outputs) is renamed aside, never overwritten."""
    try:
        ran = any(cell.get("outputs") or cell.get("execution_count")
                  for cell in nbformat.read(target, as_version=4).cells)
    except FileNotFoundError:
        return
    except Exception:  # unreadable: keep it too, it may still be someone's work
        ran = True
    if ran:
        kept = target.with_name(f"{target.stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb.bak")
        target.rename(kept)
        print(f"{target.name} held someone's work (it had been run): kept as {kept.name}",
              file=sys.stderr)


def release(solutions: Path, notebooks: Path, check: bool) -> list[str]:
    """Write (or with ``check``, compare) every student copy; the list of problems found."""
    problems = []
    sources = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    for path in sources:
        solution = nbformat.read(path, as_version=4)
        stale_metadata = with_nbgrader_metadata(solution, path.name[:2])
        if _without_python_version(json.dumps(solution.metadata, sort_keys=True)) != \
                _without_python_version(json.dumps(kernel_metadata(), sort_keys=True)):
            solution.metadata = kernel_metadata()
            stale_metadata = True
        if stale_metadata:
            if check:
                problems.append(f"{path}: nbgrader or kernel metadata is out of date")
            else:
                nbformat.write(solution, path)
        student = student_copy(solution)
        problems += [f"{path.name}: {p}" for p in stub_problems(student, path.name[:2])]
        text = nbformat.writes(student) + "\n"
        target = notebooks / path.name
        if check:
            if not target.exists() or (_without_python_version(target.read_text())
                                       != _without_python_version(text)):
                problems.append(f"{target} is out of date")
        elif not target.exists() or target.read_text() != text:
            _keep_learner_work(target)
            target.write_text(text)
    expected = {p.name for p in sources}
    problems += [f"{p} has no source in {solutions}" for p in sorted(notebooks.glob("*.ipynb"))
                 if p.name not in expected]
    return problems


BUNDLE_README = """# cnnlab: the course notebooks

Install once (Python 3.11), then open the notebooks:

    python3.11 -m venv .venv
    .venv/bin/python -m pip install -r requirements.txt
    .venv/bin/python -m pip install --no-deps -e .
    .venv/bin/jupyter lab notebooks

Every notebook runs offline on a laptop CPU. `check(...)` under each exercise says at once
whether your answer is right, and where it is not; an exercise you have not solved yet does not
stop the cells below it. Datasets and weights go in `data/` (see `data/README.md`).
"""


def bundle(folder: Path) -> Path:
    """Write the hand-out into ``folder`` (new or empty: nothing already there is overwritten)."""
    from cnnlab.grading import edition

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} already holds files: give --bundle a new or empty folder "
                              f"(nothing in an existing one is overwritten)")
    stale = release(REPO_ROOT / "solutions", REPO_ROOT / "notebooks", check=True)
    if stale:
        raise ValueError("the solutions are not released: run `make release` first\n" + "\n".join(stale))
    folder.mkdir(parents=True, exist_ok=True)
    edition.build(folder)
    shutil.copytree(REPO_ROOT / "notebooks", folder / "notebooks",
                    ignore=shutil.ignore_patterns("*.bak", ".ipynb_checkpoints"))
    for name in ("pyproject.toml", "requirements.txt", "data/README.md"):
        (folder / name).parent.mkdir(exist_ok=True)
        shutil.copy2(REPO_ROOT / name, folder / name)
    (folder / "README.md").write_text(BUNDLE_README)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlab.release",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail if notebooks/ is out of date")
    parser.add_argument("--execute", nargs="+", type=Path, metavar="PATH",
                        help="re-run these solution notebooks in place (stores fresh outputs)")
    parser.add_argument("--bundle", type=Path, metavar="DIR",
                        help="write the hand-out (student notebooks + student edition) into DIR")
    args = parser.parse_args(argv)
    if args.bundle:
        try:
            print(f"hand-out written to {bundle(args.bundle)}")
        except (FileExistsError, ValueError) as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    if args.execute:
        from cnnlab.grading.kernel import execute_in_place

        for path in args.execute:
            print(f"executing {path}", flush=True)
            execute_in_place(path)
        return 0
    problems = release(REPO_ROOT / "solutions", REPO_ROOT / "notebooks", args.check)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and args.check:
        print("notebooks/ does not match solutions/: run `make release` (python -m cnnlab.release)",
              file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
