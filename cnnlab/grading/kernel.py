"""A live Jupyter kernel on one notebook: run its cells in order, then more code in the same kernel.

The grader uses it to execute a learner's notebook and then ask the kernel for the answers; the
release tool uses it to store fresh outputs in solutions/. The kernel starts in the notebook's folder.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError


class KernelSession:
    """``with KernelSession(nb, folder, timeout) as s: problems = s.run_notebook()``.

    ``timeout`` is per cell: a cell running longer is interrupted and recorded, and execution goes on.
    With ``allow_errors=False`` the first failing cell raises ``CellExecutionError``.
    """

    def __init__(self, nb: nbformat.NotebookNode, folder: Path, timeout: float,
                 allow_errors: bool = True):
        self.nb = nb
        self.dead = False
        self.timeout = timeout
        self.client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
            interrupt_on_timeout=True, record_timing=False,
            resources={"metadata": {"path": str(folder)}},
        )

    def __enter__(self) -> KernelSession:
        self._kernel = self.client.setup_kernel()
        self._kernel.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._kernel.__exit__(*exc)

    def _execute(self, cell: nbformat.NotebookNode, index: int) -> str | None:
        """Run one cell; the error it produced ('Name: message'), or None."""
        if self.dead:
            return "the kernel had died earlier"
        try:
            self.client.execute_cell(cell, index)
        except DeadKernelError:
            self.dead = True
            return "the kernel died (a crash or os._exit in this cell)"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") == "KeyboardInterrupt":
                return f"timed out: ran longer than {self.timeout:g} s and was interrupted"
            if out.get("output_type") == "error":
                return f"{out.get('ename')}: {out.get('evalue')}"
        return None

    def run_notebook(self) -> list[str]:
        """Execute every code cell in order; a line per cell that failed."""
        problems = []
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            error = self._execute(cell, index)
            if error:
                problems.append(f"cell {index}: {error}")
        return problems

    def run_code(self, source: str) -> str | None:
        """Execute extra code after the notebook (not stored in it); its error or None."""
        self.nb.cells.append(nbformat.v4.new_code_cell(source))
        try:
            return self._execute(self.nb.cells[-1], len(self.nb.cells) - 1)
        finally:
            self.nb.cells.pop()


def execute_in_place(path: Path, timeout: float = 600) -> None:
    """Re-run a notebook top to bottom and save it with its outputs; stop at the first error."""
    nb = nbformat.read(path, as_version=4)
    with KernelSession(nb, path.parent, timeout, allow_errors=False) as session:
        session.run_notebook()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


__all__ = ["CellExecutionError", "KernelSession", "execute_in_place"]
