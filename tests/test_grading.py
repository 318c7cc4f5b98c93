"""The in-notebook checks and the release tool, without starting kernels."""

import nbformat
import pytest
import torch

from cnnlab import grading, release
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

    assert grading.check("00.accuracy", wrong) is False
    out = capsys.readouterr().out
    assert "gave 50, expected 100" in out and "hint:" in out and "0/3" in out


def test_check_shows_a_learners_exception_briefly_and_goes_on(capsys):
    def broken(logits, labels):
        return logits.nonexistent

    assert grading.check("00.accuracy", broken) is False
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

    assert grading.solution_or_reference("00.accuracy", stub) is grading.get("00.accuracy").reference
    assert "not solved yet" in capsys.readouterr().out
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
