"""The in-notebook checks and the release tool, without starting kernels."""

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from cnnlab import grade, grading, release, train
from cnnlab.grading import probes
from tests.notebook_factory import CHECK_ACCURACY, RIGHT_ACCURACY, write_notebook


def test_same_compares_structure_with_tolerance():
    assert grading.same(1.0, 1 + 1e-9)
    assert not grading.same(1.0, 1.01)
    assert grading.same((1, [2.0, "A"]), [1, (2.0, "a ")])
    assert not grading.same((1, 2), (1, 2, 3))
    assert grading.same(torch.ones(2, 3), torch.ones(2, 3) + 1e-8)
    assert not grading.same(torch.ones(2, 3), torch.ones(3, 2))
    assert not grading.same(torch.ones(2), [1.0, 1.0])
    assert not grading.same(3, True), "a bool is not a number answer"
    assert grading.same({"params": 5, "out": torch.zeros(1)}, {"params": 5, "out": torch.zeros(1)})
    assert not grading.same({"params": 5}, {"params": 6})


def test_integers_are_exact_and_a_float_is_not_an_integer_answer():
    assert grading.same(34944, 34944) and not grading.same(34944, 34945)
    assert not grading.same(105_415_200, 105_415_200 + 16_647), "a count off by 16,647 is wrong"
    assert "expected an integer, got a float" in grading.compare(34944, 34944.0)
    assert grading.same(2.5, 5 // 2 + 0.5) and grading.same(3.0, 3), "an int is a fine float answer"


def test_numpy_scalars_and_0d_tensors_count_as_the_numbers_they_hold():
    assert grading.same(34944, grading.transported(np.int64(34944)))
    assert grading.same(0.5, grading.transported(np.float64(0.5)))
    assert grading.same(0.5, grading.transported(np.float32(0.5)))
    assert grading.same(34944, grading.transported(torch.tensor(34944)))
    assert grading.same(12.5, torch.tensor(12.5))
    assert not grading.same(34944, torch.tensor(34944.0)), "a float tensor is not an integer"
    assert grading.same(torch.ones(2, 2), grading.transported(np.ones((2, 2), dtype=np.float32)))


def test_comparison_never_raises_on_odd_answers():
    odd = [10**400, float("inf"), float("nan"), torch.ones(2).to_sparse(), object(), print,
           {1: 2}, [[[]]], torch.zeros(0), torch.ones(3, dtype=torch.complex64), b"bytes", {"out": 1}]
    for expected in [1, 1.5, "a", None, True, (1, 2), {"out": torch.ones(2)}, torch.ones(2),
                     torch.ones(2, dtype=torch.int64)]:
        for got in odd:
            assert isinstance(grading.compare(expected, got), str)
    assert "too large" in grading.compare(1.5, 10**400)
    assert grading.same(float("nan"), float("nan")) and not grading.same(1.0, float("nan"))


def test_odd_answers_are_unsupported_for_that_case_only():
    def sparse_then_right(logits, labels):
        if logits.shape[0] == 2:
            return torch.tensor([100.0]).to_sparse()
        return 100 * (logits.argmax(dim=1) == labels).float().mean().item()

    score = grading.grade_definition("00.accuracy", sparse_then_right)
    assert score.passed == score.total - 1 and "unsupported answer type" in score.reason
    for odd in (object(), torch.ones(2).to_sparse(), 10**400, [1] * 3, {1: 2}):
        score = grading.grade_definition("00.accuracy", lambda logits, labels, odd=odd: odd)
        assert score.points == 0 and score.reason


def test_forged_or_malformed_answer_data_is_refused_not_raised():
    forged = [{"tensor": "float32", "shape": [99], "data": [1.0]}, {"tensor": "x"}, {"list": 3},
              {"dict": [1]}, {"a": 1, "b": 2}, [1, 2], {"tensor": "int64", "shape": [-1], "data": []},
              {"tensor": "int64", "shape": [1], "data": [2**70]}, {"tuple": [{"list": {"x": 1}}]}]
    for data in forged:
        kind, why = grading.received("ok", data)
        assert kind == "error" and "malformed" in why
    assert grading.received("error", {"not": "text"}) == ("error", "no answer")
    result = {"status": "answered", "outcomes": [["ok", {"bad": 1}], "nonsense", None]}
    assert grading.score(grading.get("00.accuracy"), result).points == 0


def test_the_transport_keeps_types_and_values():
    value = {"params": 2**60, "out": torch.randn(2, 3).to(torch.bfloat16), "pair": (1, [2.5, None]),
             "flag": True, "name": "x"}
    back = probes.from_data(json.loads(json.dumps(probes.to_data(value))))
    assert back["params"] == 2**60 and back["pair"] == (1, [2.5, None]) and back["flag"] is True
    assert back["out"].dtype == torch.bfloat16 and torch.equal(back["out"], value["out"])


def test_check_uses_the_graders_transport_and_comparison(capsys):
    assert grading.check("00.accuracy", lambda logits, labels: np.float64(
        100 * (logits.argmax(1) == labels).float().mean().item()))
    assert not grading.check("01.conv_params", lambda i, o, k, groups=1, bias=True:
                             float(o * (i // groups * k * k + bias)))
    assert "expected an integer, got a float" in capsys.readouterr().out


def test_under_nbgrader_a_failing_check_raises(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="00.accuracy"):
        grading.check("00.accuracy", lambda logits, labels: 0.0)
    assert grading.check("00.accuracy", lambda logits, labels: 100 * (
        logits.argmax(1) == labels).float().mean().item())


def test_the_student_edition_holds_no_reference_and_no_hidden_case(tmp_path):
    folder = grade.edition.build(tmp_path)
    shipped = folder / "cnnlab" / "exercises"
    assert not list(shipped.glob("nb*.py")) and len(list(shipped.glob("nb*.json"))) >= 6
    text = "".join(p.read_text() for p in shipped.glob("nb*.json"))
    shown = {json.dumps(probes.to_data(c.args)) for e in grading.registry().values() for c in e.visible}
    for exercise in grading.registry().values():
        for case in exercise.hidden:  # some exercises reuse another's visible input, never more
            args = json.dumps(probes.to_data(case.args))
            assert args in shown or args not in text, exercise.id
    (loaded,) = grade.edition.load(shipped / "nb00.json")
    assert loaded.reference is None and not loaded.hidden
    assert [loaded.expected(c) for c in loaded.visible] == [
        grading.get("00.accuracy").expected(c) for c in grading.get("00.accuracy").visible]
    assert loaded.library_fallback == "cnnlab.train:accuracy"
    conv_params = {e.id: e for e in grade.edition.load(shipped / "nb01.json")}["01.conv_params"]
    assert grading.StoredAnswers(conv_params, conv_params.uses)(3, 96, 11) == 34_944


SOLUTIONS = sorted((Path(__file__).parents[1] / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _relied_on() -> set[str]:
    """The exercises whose definitions later cells of some notebook use."""
    pattern = re.compile(r'solution_or_reference\("([\w.]+)"')
    return {m for path in SOLUTIONS for cell in nbformat.read(path, as_version=4).cells
            for m in pattern.findall(cell.source)}


def test_every_exercise_later_cells_rely_on_has_a_stand_in_outside_the_exercises():
    relied_on = _relied_on()
    assert "01.conv_params" in relied_on and "05.BasicBlock" in relied_on
    for exercise_id in relied_on:
        exercise = grading.get(exercise_id)
        fallback = exercise.library_fallback
        assert fallback is not None or exercise.uses, exercise_id
        assert not getattr(fallback, "__module__", "").startswith("cnnlab.exercises"), exercise_id


def test_stored_answers_never_give_away_a_hidden_case():
    for exercise in grading.registry().values():
        hidden = {json.dumps(probes.to_data([list(c.args), c.kwargs])) for c in exercise.hidden}
        for case in exercise.use_cases():
            assert json.dumps(probes.to_data([list(case.args), case.kwargs])) not in hidden, exercise.id


def test_an_unsolved_exercise_answers_the_notebooks_own_calls_and_no_others(capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    stand_in = grading.solution_or_reference("01.conv_params", stub)
    assert "stored answers" in capsys.readouterr().out
    assert stand_in(3, 96, 11) == 34_944 and stand_in(3, 96, 11, 1, False) == 34_848
    with pytest.raises(grading.NotSolvedError, match=r"no answer for conv_params\(3, 96, 5\)"):
        stand_in(3, 96, 5)
    assert grading.solution_or_reference("05.keeps_identity_path", stub)("preact") == "(not answered yet)"


def test_same_bits_tells_signed_zeros_apart_and_matches_nans():
    x = torch.tensor([0.0, float("nan"), 1.0])
    assert grading.same_bits(x, x.clone())
    assert not grading.same_bits(x, torch.tensor([-0.0, float("nan"), 1.0]))
    assert torch.equal(torch.tensor([0.0]), torch.tensor([-0.0]))  # what torch.equal misses
    assert not grading.same_bits(x, x.double()) and not grading.same_bits(x, x[:2])
    assert grading.same_bits(x.to(torch.bfloat16), x.to(torch.bfloat16))


def test_rel_error():
    assert grading.rel_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])) == 0
    assert grading.rel_error(1.0, 1.1) == pytest.approx(0.1 / 2.1)


def test_check_prints_given_expected_and_hint(capsys):
    def wrong(logits, labels):
        return 50.0

    assert not grading.check("00.accuracy", wrong)
    out = capsys.readouterr().out
    assert "gave 50, expected 100" in out and "hint:" in out and "0/3" in out


def test_check_shows_a_learners_exception_briefly_and_goes_on(capsys):
    def broken(logits, labels):
        return logits.nonexistent

    assert not grading.check("00.accuracy", broken)
    out = capsys.readouterr().out
    assert "raised AttributeError" in out and "Traceback" not in out


def test_check_says_not_solved_for_a_stub(capsys):
    def stub(logits, labels):
        raise NotImplementedError()

    grading.check("00.accuracy", stub)
    assert "not solved yet" in capsys.readouterr().out


def test_solution_or_reference_falls_back_and_says_so(capsys):
    def stub(logits, labels):
        raise NotImplementedError()

    def mine(logits, labels):
        return 100 * (logits.argmax(1) == labels).float().mean().item()

    assert grading.solution_or_reference("00.accuracy", stub) is train.accuracy
    assert "use cnnlab's `cnnlab.train.accuracy` instead" in capsys.readouterr().out
    assert grading.solution_or_reference("00.accuracy", mine) is mine


def test_passes_uses_hidden_cases():
    def right_on_visible_only(logits, labels):
        if logits.shape[0] > 10:
            return 0.0
        return 100 * (logits.argmax(1) == labels).float().mean().item()

    assert grading.passes("00.accuracy", right_on_visible_only, hidden=False)
    assert not grading.passes("00.accuracy", right_on_visible_only)


def test_unknown_exercise_is_a_clear_error():
    with pytest.raises(KeyError, match="known: .*00.accuracy"):
        grading.check("99.nothing", print)


def test_bad_exercise_declarations_are_refused():
    with pytest.raises(ValueError, match="NN.definition_name"):
        grading.Exercise("accuracy", 1, print, [grading.Case()], [grading.Case()], "hint")
    with pytest.raises(ValueError, match="visible and hidden"):
        grading.Exercise("00.x", 1, print, [grading.Case()], [], "hint")
    from cnnlab.exercises import nb05

    with pytest.raises(ValueError, match="from the library, not from cnnlab.exercises"):
        grading.Exercise("00.x", 1, print, [grading.Case()], [grading.Case()], "hint",
                         fallback=nb05.matching_mid_width)


def test_student_copy_stubs_solutions_removes_hidden_tests_and_outputs(tmp_path):
    path = write_notebook(tmp_path / "00_x.ipynb", "# Title\n### BEGIN SOLUTION\nsecret\n### END SOLUTION",
                          RIGHT_ACCURACY, CHECK_ACCURACY, "### BEGIN HIDDEN TESTS\nx=1\n### END HIDDEN TESTS",
                          markdown=(0,))
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="out")]
    nb.cells[1].execution_count = 3
    student = release.student_copy(nb)
    sources = [c.source for c in student.cells]
    assert len(student.cells) == 3, "a cell of only hidden tests disappears"
    assert sources[0] == "# Title\nYOUR ANSWER HERE"
    assert sources[1] == ("def accuracy(logits, labels):\n    # YOUR CODE HERE\n"
                          "    raise NotImplementedError()")
    assert sources[2] == 'from cnnlab.grading import check, passes\ncheck("00.accuracy", accuracy)'
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in student.cells if c.cell_type == "code")
    assert not release.stub_problems(student, "00")


def test_unbalanced_markers_are_reported_with_the_cell():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")])
    with pytest.raises(ValueError, match="cell 0: .*never closed"):
        release.student_copy(nb)


def test_stub_problems_name_unchecked_and_unstubbed_exercises(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def accuracy(l, y):\n    return 1")])
    problems = release.stub_problems(nb, "00")
    assert any("never check()-ed" in p for p in problems)
    assert any("not stubbed out" in p for p in problems)


def test_release_check_lists_out_of_date_files(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir(), notebooks.mkdir()
    write_notebook(solutions / "00_x.ipynb", RIGHT_ACCURACY, CHECK_ACCURACY)
    (notebooks / "99_orphan.ipynb").write_text("{}")
    problems = release.release(solutions, notebooks, check=True)
    assert any("00_x.ipynb is out of date" in p for p in problems)
    assert any("99_orphan.ipynb has no source" in p for p in problems)
    (notebooks / "99_orphan.ipynb").unlink()
    assert release.release(solutions, notebooks, check=False) == []
    assert release.release(solutions, notebooks, check=True) == []


def test_release_keeps_a_copy_someone_has_run(tmp_path, capsys):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir(), notebooks.mkdir()
    write_notebook(solutions / "00_x.ipynb", RIGHT_ACCURACY, CHECK_ACCURACY)
    worked = write_notebook(notebooks / "00_x.ipynb", "def accuracy(l, y):\n    return 42.0")
    nb = nbformat.read(worked, as_version=4)
    nb.cells[0].execution_count = 1
    nbformat.write(nb, worked)
    assert release.release(solutions, notebooks, check=False) == []
    (kept,) = notebooks.glob("00_x.*.ipynb.bak")
    assert "return 42.0" in kept.read_text() and "kept as" in capsys.readouterr().err
    assert "YOUR CODE HERE" in (notebooks / "00_x.ipynb").read_text()
    release.release(solutions, notebooks, check=False)  # a fresh copy is simply left as it is
    assert len(list(notebooks.glob("*.bak"))) == 1


def test_release_writes_nbgrader_metadata_from_the_declarations_and_check_verifies_it(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir(), notebooks.mkdir()
    source = write_notebook(solutions / "00_x.ipynb", "# Intro", RIGHT_ACCURACY, CHECK_ACCURACY,
                            markdown=(0,))
    problems = release.release(solutions, notebooks, check=True)
    assert any("00_x.ipynb: nbgrader or kernel metadata is out of date" in p for p in problems)
    assert release.release(solutions, notebooks, check=False) == []
    for nb in (nbformat.read(source, as_version=4), nbformat.read(notebooks / "00_x.ipynb", as_version=4)):
        intro, answer, test = (c.metadata.get("nbgrader") for c in nb.cells)
        assert intro is None
        assert answer == {"grade": False, "grade_id": "accuracy", "locked": False,
                          "schema_version": 3, "solution": True}
        assert test["grade"] and test["locked"] and test["grade_id"] == "check_accuracy"
        assert test["points"] == grading.get("00.accuracy").points
    assert release.release(solutions, notebooks, check=True) == []


def test_check_echoes_nothing_and_wraps_its_feedback(capsys):
    result = grading.check("01.where_memory_goes", lambda rows: (0.0, 0.0))
    assert not result and hasattr(result, "_ipython_display_")  # no "Out: False" under the cell
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(len(line) <= 100 for line in lines)
    assert any("list of 4 dicts" in line for line in lines)  # a table of rows, summarised
    reference = grading.get("01.where_memory_goes").reference
    assert grading.check("01.where_memory_goes", lambda rows: reference(rows))


def test_released_notebooks_carry_the_metadata_jupyterlab_writes(tmp_path):
    """An untouched notebook must not open as modified; another Python patch release is no change."""
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir(), notebooks.mkdir()
    write_notebook(solutions / "00_x.ipynb", RIGHT_ACCURACY, CHECK_ACCURACY)
    assert release.release(solutions, notebooks, check=False) == []
    for path in (solutions / "00_x.ipynb", notebooks / "00_x.ipynb"):
        metadata = json.loads(path.read_text())["metadata"]
        assert metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
        assert metadata["language_info"]["pygments_lexer"] == "ipython3"
    copy = notebooks / "00_x.ipynb"
    copy.write_text(re.sub(r'"version": "3\.\d+\.\d+"', '"version": "3.11.99"', copy.read_text()))
    assert release.release(solutions, notebooks, check=True) == []


def test_the_sandboxs_private_tmp_never_hides_a_python_that_lives_under_tmp(monkeypatch):
    """A CI clone under /tmp has its venv there: the tmpfs must be mounted before it is bound."""
    from cnnlab.grading import sandbox

    monkeypatch.setattr(sandbox.sys, "prefix", "/tmp/clone/.venv")
    args = sandbox._bwrap(Path("/opt/edition"), None, sandbox.SANDBOX_UID, sandbox.Limits())
    tmpfs = args.index("--tmpfs")
    binds = [i for i, a in enumerate(args) if a == "--ro-bind" and args[i + 2].startswith("/tmp/")]
    assert binds and all(i > tmpfs for i in binds)


def test_the_hand_out_holds_the_student_notebooks_on_the_student_edition_and_nothing_else(tmp_path):
    folder = release.bundle(tmp_path / "handout")
    repo = Path(__file__).parents[1]
    assert sorted(p.name for p in (folder / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (repo / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert not list((folder / "cnnlab" / "exercises").glob("nb*.py"))
    texts = {p: p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}
    for marker in (release.BEGIN_SOLUTION, release.BEGIN_HIDDEN):
        assert not [p for p, text in texts.items() if marker in text and p.suffix != ".py"], marker
    references = [e.reference for e in grading.registry().values()  # those with no library twin
                  if e.reference.__module__.startswith("cnnlab.exercises") and not e.library_fallback]
    code = "".join(text for p, text in texts.items() if p.suffix == ".py")
    # A reference's own source must not ship (a library function may share its name).
    assert references and not [r.__name__ for r in references if inspect.getsource(r) in code]
    assert "pip install" in texts[folder / "README.md"] and (folder / "pyproject.toml").is_file()
    with pytest.raises(FileExistsError, match="new or empty folder"):
        release.bundle(folder)

    # The hand-out's cnnlab, imported from the hand-out: no reference, and stand-ins that work.
    probe = ("import cnnlab; from cnnlab import grading\n"
             "def stub(*a, **k): raise NotImplementedError\n"
             "e = grading.get('01.conv_params')\n"
             "print(cnnlab.__file__, e.reference, not e.hidden,\n"
             "      grading.solution_or_reference('01.conv_params', stub)(3, 96, 11),\n"
             "      grading.solution_or_reference('05.BasicBlock', stub).__name__)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(folder)}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-5:] == [str(folder / "cnnlab" / "__init__.py"), "None", "True",
                                        "34944", "ResidualBlock"], done.stdout


def test_tensor_feedback_names_the_first_differing_index_and_the_largest_difference():
    expected = torch.arange(25.0).view(1, 1, 5, 5)
    got = expected.clone()
    got[0, 0, 2, 3] += 0.5
    got[0, 0, 4, 1] -= 2.0
    why = grading.compare(expected, got)
    assert "2 of 25 values differ" in why and "first at index (0, 0, 2, 3)" in why
    assert "got 13.5, expected 13" in why and "largest difference 2" in why
    square = torch.arange(9.0).view(3, 3)
    assert "transposed" in grading.compare(square, square.T)
    assert "sign flipped" in grading.compare(square + 1, -(square + 1))
    border = expected.clone()
    border[..., 0, :] = 0
    assert "border" in grading.compare(expected, border)
    assert "times 2: look for a missing or extra constant factor" in grading.compare(square, 2 * square)
    assert "times" not in grading.compare(square, square + 1)
    shifted_map = torch.arange(1.0, 37.0).view(1, 1, 6, 6)
    rolled_the_other_way = torch.zeros_like(shifted_map)
    rolled_the_other_way[..., 2:] = shifted_map[..., :-2]
    assert "moved by 2 columns forward" in grading.compare(shifted_map, rolled_the_other_way)
    assert "moved" not in grading.compare(shifted_map, shifted_map.flip(-1))
    assert grading.compare(227, 228) == "off by one"


def test_check_names_a_common_slip_and_gives_hints_in_tiers(monkeypatch, capsys):
    monkeypatch.setattr(grading, "_FAILED_CHECKS", {})
    from cnnlab.layers import channel_shuffle

    def backwards(x, groups):
        return channel_shuffle(x, x.shape[1] // groups)

    exercise = grading.get("07.channel_shuffle")
    grading.check("07.channel_shuffle", backwards)
    first = " ".join(capsys.readouterr().out.split())
    assert "that is what you get if the grid is read the wrong way round" in first
    assert exercise.hints[0][:40] in first and "more direct hint" in first
    grading.check("07.channel_shuffle", backwards)
    second = " ".join(capsys.readouterr().out.split())
    assert exercise.hints[1][:40] in second and "more direct hint" not in second


def test_a_hidden_case_is_reported_by_what_it_is_about_never_by_its_values():
    def right_on_visible_only(logits, labels):
        if logits.shape[0] == 5:
            return 12.5
        return 100 * (logits.argmax(1) == labels).float().mean().item()

    exercise = grading.Exercise(
        "00.accuracy", 1, train.accuracy, grading.get("00.accuracy").visible,
        [grading.Case((torch.eye(5), torch.arange(5)), why="five classes, all right")], "hint")
    score = grading.score(exercise, grading.answer(exercise, right_on_visible_only, exercise.cases(True)))
    assert score.reason == "wrong on a hidden case: five classes, all right"

    def raises_quoting_its_input(logits, labels):
        if logits.shape[0] == 5:
            raise ValueError(f"cannot handle a batch of shape {tuple(logits.shape)}")
        return 100 * (logits.argmax(1) == labels).float().mean().item()

    score = grading.score(exercise, grading.answer(exercise, raises_quoting_its_input,
                                                   exercise.cases(True)))
    assert score.reason == "a hidden case (five classes, all right) raised ValueError"


def test_two_sandboxes_at_once_never_share_a_user():
    """The process limit counts per user: a burst in one sandbox must not starve the other."""
    from cnnlab.grading import sandbox

    with sandbox._sandbox_user(0) as first, sandbox._sandbox_user(0) as second:
        assert first != second
    with sandbox._sandbox_user(0) as again:
        assert again == first, "a released user is taken again"
