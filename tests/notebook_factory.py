"""Build small notebooks in tests, written the way an author writes them in solutions/."""

from pathlib import Path

import nbformat


def write_notebook(path: Path, *sources: str, markdown: tuple[int, ...] = ()) -> Path:
    """A notebook whose cells are ``sources`` (code, except the indices listed in ``markdown``)."""
    cells = [nbformat.v4.new_markdown_cell(s) if i in markdown else nbformat.v4.new_code_cell(s)
             for i, s in enumerate(sources)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


RIGHT_ACCURACY = """\
def accuracy(logits, labels):
    ### BEGIN SOLUTION
    return 100 * (logits.argmax(dim=1) == labels).float().mean().item()
    ### END SOLUTION
"""
CHECK_ACCURACY = """\
from cnnlab.grading import check, passes
check("00.accuracy", accuracy)
### BEGIN HIDDEN TESTS
assert passes("00.accuracy", accuracy)
### END HIDDEN TESTS
"""
