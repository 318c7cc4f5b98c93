"""The grading command on well-behaved, careless and dishonest notebooks (each runs a real kernel,
in the sandbox when bubblewrap is installed). Every attack is a small notebook of its own."""

import json
import os
import socket
import time
from pathlib import Path

import nbformat
import pytest

from cnnlab import grade
from cnnlab.config import REPO_ROOT
from cnnlab.grading import sandbox
from tests.notebook_factory import CHECK_ACCURACY, RIGHT_ACCURACY, write_notebook

STUB = "def accuracy(logits, labels):\n    raise NotImplementedError()"
SANDBOXED = sandbox.available()
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap (bwrap) is not installed")
CONV_PARAMS = ("def conv_params(in_channels, out_channels, kernel_size, groups=1, bias=True):\n"
               "    return out_channels * (in_channels // groups * kernel_size ** 2 + bias)")


def _grade(path, timeout=20, **kwargs):
    report = grade.grade_notebook(path, timeout=timeout, **kwargs)
    (score,) = report.scores
    return report, score


def _score(report, exercise_id):
    (score,) = [s for s in report.scores if s.exercise == exercise_id]
    return score


def _processes_with(marker: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def test_a_right_answer_gets_full_marks_and_json_and_csv(tmp_path, capsys):
    path = write_notebook(tmp_path / "00_right.ipynb", RIGHT_ACCURACY, CHECK_ACCURACY)
    gradebook, table = tmp_path / "scores.json", tmp_path / "scores.csv"
    assert grade.main([str(path), "--json", str(gradebook), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "00_right.ipynb: 1 / 1 points" in out and "00.accuracy" in out.split("solved")[1]
    (entry,) = json.loads(gradebook.read_text())
    assert entry["points"] == 1 and entry["exercises"][0]["passed"] == 6
    assert entry["sandboxed"] is SANDBOXED
    assert table.read_text().splitlines() == ["learner,00.accuracy,total", f"{tmp_path.name},1,1"]


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
        "cnnlab.grading.compare = lambda *a, **k: ''\n"
        "p.run_case = lambda *a, **k: ('ok', 1.0)\n"
        "p.call = lambda d, *a, **k: 1.0",
    )
    _, score = _grade(path)
    assert score.points == 0 and "NotImplementedError" in score.reason


@needs_sandbox
def test_the_reference_cannot_be_borrowed_patched_in_or_read_from_solutions(tmp_path):
    """The cheats of the issue: no reference, no solution and no hidden expected value exists in
    the sandbox, so wrapping, patching torch.save or reading solutions/ gives nothing."""
    wrap = write_notebook(
        tmp_path / "00_wrap.ipynb",
        "from cnnlab.exercises.nb00 import accuracy as ref\n"
        "def accuracy(*a, **k):\n    return ref(*a, **k)")
    patch = write_notebook(
        tmp_path / "00_save.ipynb", STUB,
        "import torch\nfrom cnnlab import grading\nexercise = grading.get('00.accuracy')\n"
        "answers = [exercise.expected(c) for c in exercise.cases(True)]\n"
        "torch.save = lambda obj, f, *a, **k: open(f, 'w').write(repr(answers))")
    solutions = write_notebook(
        tmp_path / "00_read.ipynb",
        f"import json\nnb = json.load(open({str(REPO_ROOT / 'solutions' / '00_start_here.ipynb')!r}))\n"
        "exec(next(''.join(c['source']) for c in nb['cells'] if 'def accuracy' in ''.join(c['source'])))")
    for path, problem in ((wrap, "ModuleNotFoundError"), (patch, ""), (solutions, "FileNotFoundError")):
        report, score = _grade(path)
        assert score.points == 0, grade.format_report(report)
        assert problem in " ".join(report.problems)


def test_an_input_transformer_that_rewrites_the_probe_only_forges_its_own_answers(tmp_path):
    """The kernel may rewrite the grader's code into anything, but the expected values are not
    there to forge: 100.0 for every case is right only where 100 is the answer (one case)."""
    forge = (
        "import json\n"
        "def forge(lines):\n"
        "    if '_cnnlab_grade' not in ''.join(lines):\n"
        "        return lines\n"
        "    rows = [json.dumps({'exercise': '00.accuracy', 'case': i, 'kind': 'ok', 'value': 100.0})\n"
        "            for i in range(6)]\n"
        "    return [f'open(\".cnnlab-answers.jsonl\", \"a\").write({chr(10).join(rows)!r} + chr(10))\\n']\n"
        "get_ipython().input_transformers_post.append(forge)")
    path = write_notebook(tmp_path / "00_transform.ipynb", STUB, forge)
    _, score = _grade(path)
    assert score.passed == 1 and score.points < 1, score


@needs_sandbox
def test_a_sandboxed_notebook_sees_nothing_of_the_grader_or_the_class(tmp_path):
    """The notebook's answer is right only if it can see something it should not: so it scores 0
    in the sandbox, and full marks without it (which shows the test can fail)."""
    other = write_notebook(tmp_path / "00_other.ipynb", RIGHT_ACCURACY)
    gradebook = tmp_path / "gradebook.json"
    gradebook.write_text("[]")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen = [str(other), str(gradebook), str(REPO_ROOT / "solutions"),
            str(REPO_ROOT / "cnnlab" / "exercises" / "nb00.py"), f"/proc/{os.getpid()}"]
    path = write_notebook(
        tmp_path / "00_peek.ipynb",
        f"import os, socket\nSEEN = [p for p in {seen!r} if os.path.exists(p)]\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        "    SEEN.append('network')\nexcept OSError:\n    pass",
        "def accuracy(logits, labels):\n    assert SEEN, 'saw nothing'\n"
        "    return 100 * (logits.argmax(dim=1) == labels).float().mean().item()")
    try:
        _, score = _grade(path)
        assert score.points == 0 and "saw nothing" in score.reason
        report, score = _grade(path, sandboxed=False)
        assert score.points == 1 and grade.NOT_SANDBOXED in report.problems[-1]
    finally:
        listener.close()


def test_no_process_outlives_grading_and_the_gradebook_stays_the_graders(tmp_path):
    marker = f"{time.time_ns() % 10**9}.5"
    gradebook, other = tmp_path / "scores.json", tmp_path / "00_other.ipynb"
    write_notebook(other, RIGHT_ACCURACY)
    before = other.read_bytes()
    detached = (
        "import os, subprocess, time\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(3)\n"
        f"    for p in ({str(gradebook)!r}, {str(other)!r}):\n"
        "        try:\n            open(p, 'w').write('forged')\n        except OSError:\n"
        "            pass\n    os._exit(0)")
    path = write_notebook(tmp_path / "00_daemon.ipynb", STUB, detached)
    args = [str(path), str(other), "--json", str(gradebook), "--timeout", "20"]
    assert grade.main(args + ([] if SANDBOXED else ["--no-sandbox"])) == 0
    time.sleep(4)
    if SANDBOXED:  # without the sandbox, a detached process outlives the grader: hence the warning
        assert _processes_with(marker) == []
        assert other.read_bytes() == before
        assert [e["points"] for e in json.loads(gradebook.read_text())] in ([0, 1], [1, 0])
    for pid in _processes_with(marker):
        os.kill(int(pid), 9)


def test_a_retry_loop_that_swallows_interrupts_is_killed_and_grading_goes_on(tmp_path):
    path = write_notebook(
        tmp_path / "00_retry.ipynb", RIGHT_ACCURACY,
        "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except:\n        print('retrying')",
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        "after = 1")
    report, score = _grade(path, timeout=3)
    assert [p.split(":", 1)[0] for p in report.problems] == ["cell 1", "cell 2"]
    assert all("the kernel was killed" in p for p in report.problems)
    assert score.points == 1, "the kernel came back with the cells that ran before"


def test_an_infinite_loop_times_out_and_grading_goes_on(tmp_path):
    path = write_notebook(
        tmp_path / "00_loop.ipynb", "while True:\n    pass",
        "def accuracy(logits, labels):\n    while True:\n        pass",
    )
    report, score = _grade(path, timeout=3)
    assert report.problems[0] == "cell 0: timed out: ran longer than 3 s and was interrupted"
    assert score.points == 0 and "timed out" in score.reason


def test_one_slow_case_costs_only_that_case(tmp_path):
    path = write_notebook(
        tmp_path / "00_slow.ipynb",
        "import time\ndef accuracy(logits, labels):\n    if logits.shape[0] == 5:\n"
        "        time.sleep(60)\n    return 100 * (logits.argmax(dim=1) == labels).float().mean().item()")
    _, score = _grade(path, timeout=20, case_timeout=2)
    assert (score.passed, score.total) == (5, 6) and "timed out" in score.reason


def test_a_hard_deadline_stops_the_whole_notebook(tmp_path):
    path = write_notebook(tmp_path / "00_slowcells.ipynb", *["import time\ntime.sleep(2.5)"] * 8,
                          RIGHT_ACCURACY)
    start = time.monotonic()
    report, score = _grade(path, timeout=5, deadline=6)
    assert time.monotonic() - start < 6 + 2 * sandbox.GRACE + 3
    assert any("deadline (6 s)" in p for p in report.problems) and score.points == 0


def test_a_kernel_that_dies_in_one_exercise_is_restarted_for_the_next(tmp_path):
    path = write_notebook(
        tmp_path / "01_die.ipynb",
        "import os\ndef conv_output_size(n, k, s=1, p=0):\n    os._exit(1)", CONV_PARAMS)
    report = grade.grade_notebook(path, timeout=20)
    assert _score(report, "01.conv_output_size").points == 0
    assert "died" in _score(report, "01.conv_output_size").reason
    conv_params = _score(report, "01.conv_params")
    assert conv_params.points == conv_params.max_points, grade.format_report(report)


def test_a_cell_that_kills_the_kernel_costs_only_that_cell(tmp_path):
    path = write_notebook(tmp_path / "00_crash.ipynb", RIGHT_ACCURACY, "import os\nos._exit(1)")
    report, score = _grade(path)
    assert "cell 1: the kernel died" in report.problems[0] and score.points == 1


def test_odd_honest_answers_are_graded_as_numbers_or_refused_per_case(tmp_path):
    """NumPy scalars and 0-d tensors are numbers; a huge integer (the typo ``out ** out``), a sparse
    tensor or an object is wrong for its case only; a float for an integer count is wrong."""
    path = write_notebook(
        tmp_path / "01_odd.ipynb",
        "import numpy as np, torch\n"
        "def conv_output_size(n, k, s=1, p=0):\n    return np.int64((n + 2 * p - k) // s + 1)",
        "def conv_params(i, o, k, groups=1, bias=True):\n"
        "    return torch.tensor(o * (i // groups * k * k + bias))",
        "def conv_macs(i, o, n, k, stride=1, padding=0, groups=1):\n    return o ** o",
        "def dsc_savings(*args):\n    return torch.ones(2).to_sparse()",
        "def compute_to_memory_ratio(*args):\n    return object()")
    report = grade.grade_notebook(path, timeout=20)
    for eid in ("01.conv_output_size", "01.conv_params"):
        assert _score(report, eid).points == _score(report, eid).max_points, grade.format_report(report)
    assert "more than 256 bits" in _score(report, "01.conv_macs").reason
    assert "unsupported answer type" in _score(report, "01.dsc_savings").reason
    assert "unsupported answer type" in _score(report, "01.compute_to_memory_ratio").reason
    float_count = write_notebook(
        tmp_path / "01_float.ipynb",
        "def conv_params(i, o, k, groups=1, bias=True):\n    return float(o * (i // groups * k * k + bias))")
    assert "expected an integer" in _score(grade.grade_notebook(float_count), "01.conv_params").reason


def test_forged_answers_and_odd_cells_cost_nothing_but_themselves(tmp_path):
    """Lines forged into the kernel's answer file, a cell whose source is not text, a
    skip-execution tag (ignored: every cell runs)."""
    forge = (
        "import json\n"
        "FORGED = ['not json', '[1, 2]', json.dumps({'exercise': '00.accuracy', 'case': 'x'}),\n"
        "          json.dumps({'exercise': ['00.accuracy'], 'case': 0, 'kind': 'ok'}),\n"
        "          json.dumps({'exercise': '00.accuracy', 'case': 1, 'kind': 'ok',\n"
        "                      'value': {'tensor': 'float32', 'shape': [99], 'data': [1]}}),\n"
        "          'x' * 100000]\n"
        "def accuracy(logits, labels):\n"
        "    if FORGED:\n"
        "        with open('.cnnlab-answers.jsonl', 'a') as out:\n"
        "            out.write('\\n'.join(FORGED) + '\\n')\n"
        "        FORGED.clear()\n"
        "    return 100 * (logits.argmax(dim=1) == labels).float().mean().item()")
    path = write_notebook(tmp_path / "00_forge.ipynb", "x = 0", forge, "x = 1")
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].metadata["tags"] = ["skip-execution"]
    raw = json.loads(nbformat.writes(nb))
    raw["cells"][2]["source"] = 42
    path.write_text(json.dumps(raw))
    report, score = _grade(path)
    assert "cell 2: its source is not text: not run" in report.problems
    assert score.passed == 5 and "malformed" in score.reason, "the forged case 1 counts, wrong"


def test_a_notebook_that_raises_still_gets_its_other_answers_graded(tmp_path):
    path = write_notebook(tmp_path / "00_raises.ipynb", "1 / 0", "def broken(:",
                          "too_much = bytearray(64 << 30)", RIGHT_ACCURACY)
    report, score = _grade(path)
    assert score.points == 1
    assert [p.split(":")[1].strip() for p in report.problems[:3]] == [
        "ZeroDivisionError", "SyntaxError", "MemoryError"], "64 GiB is past the memory limit"


@needs_sandbox
def test_the_sandbox_limits_processes(tmp_path):
    """Right only when the limit stops a burst of 700 processes (threads count too)."""
    path = write_notebook(
        tmp_path / "00_burst.ipynb",
        "import subprocess\nstarted = []\ntry:\n    for _ in range(700):\n"
        "        started.append(subprocess.Popen(['sleep', '30']))\nexcept OSError:\n    pass\n"
        "LIMITED = len(started) < 700",
        "def accuracy(logits, labels):\n    assert LIMITED, 'not limited'\n"
        "    return 100 * (logits.argmax(dim=1) == labels).float().mean().item()")
    _, score = _grade(path)
    assert score.points == 1, score.reason


def test_a_missing_definition_scores_zero_with_the_reason(tmp_path):
    _, score = _grade(write_notebook(tmp_path / "00_empty.ipynb", "x = 1"))
    assert score.points == 0 and "not defined" in score.reason


def test_invalid_json_and_other_notebooks_still_graded_in_parallel(tmp_path, capsys):
    broken = tmp_path / "00_broken.ipynb"
    broken.write_text("{ this is not json")
    binary = tmp_path / "00_binary.ipynb"
    binary.write_bytes(b"\xff\xfe\x00")
    right = write_notebook(tmp_path / "00_right.ipynb", RIGHT_ACCURACY)
    gradebook = tmp_path / "scores.json"
    assert grade.main([str(broken), str(binary), str(right), "--jobs", "2",
                       "--json", str(gradebook)]) == 0
    out = capsys.readouterr().out
    assert "00_broken.ipynb: 0 / 1 points" in out and "not a readable notebook" in out
    assert "00_binary.ipynb: 0 / 1 points" in out and "00_right.ipynb: 1 / 1 points" in out
    assert sorted(e["points"] for e in json.loads(gradebook.read_text())) == [0, 0, 1]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temp files left"


def test_bad_paths_and_names_are_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path / "nope.ipynb")])
    assert "no such notebook" in capsys.readouterr().err
    right = write_notebook(tmp_path / "00_right.ipynb", RIGHT_ACCURACY)
    with pytest.raises(SystemExit):
        grade.main([str(right), "--json", str(right)])
    assert "is one of the notebooks" in capsys.readouterr().err
    report = grade.grade_notebook(write_notebook(tmp_path / "unnumbered.ipynb", "x = 1"))
    assert report.scores == [] and "start with their number" in report.problems[0]


def test_learners_are_named_by_folder_or_by_file():
    paths = [Path("c/alice/01_x.ipynb"), Path("c/bob/01_x.ipynb"), Path("c/bob/02_y.ipynb"),
             Path("flat/01_ann.ipynb"), Path("flat/01_ben.ipynb")]
    assert grade.learners(paths) == ["alice", "bob", "bob", "01_ann", "01_ben"]


def test_odd_events_from_a_sandbox_never_break_the_grader():
    exercises = grade.exercises_of(Path("00_x.ipynb"))
    events = [{}, {"cell": [1], "problem": {"x": 1}}, {"exercise": ["00.accuracy"], "problem": 1},
              {"answer": {"exercise": {"a": 1}}}, {"answer": {"exercise": "00.accuracy", "case": 10**9}},
              {"answer": {"exercise": "00.accuracy", "status": "borrowed", "module": ["x"]}},
              {"problem": "x" * 10**6}, {"answer": "00.accuracy"}]
    problems, results = grade._results(events, exercises, "")
    score = grade._score(exercises[0], results["00.accuracy"])
    assert score.points == 0 and "cnnlab's own" in score.reason
    assert all(len(p) < 400 for p in problems)
