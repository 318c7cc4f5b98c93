"""Jupyter kernels for the grader and the release tool.

:class:`Kernel` runs code with a hard time limit: past it the kernel is interrupted (SIGINT), and if
it has not answered after a short grace (a cell that swallows interrupts) it is killed with its
whole process group. The grader's runner uses it inside the sandbox; :func:`execute_in_place`
stores fresh outputs in solutions/.
"""

from __future__ import annotations

import queue
import subprocess
import time
from pathlib import Path

from jupyter_client.manager import KernelManager

GRACE = 2.0  # seconds a kernel gets to answer an interrupt before it is killed


class Kernel:
    """``with Kernel(folder) as k: error = k.run("x = 1", timeout=10)``; ``k.alive`` after each."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manager: KernelManager | None = None

    def __enter__(self) -> Kernel:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        # The kernel's own streams go nowhere: what a cell prints reaches us as messages.
        self.manager.start_kernel(cwd=str(self.folder), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def stop(self) -> None:
        if self.manager is not None:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=True)
            self.manager = None

    @property
    def alive(self) -> bool:
        return self.manager is not None and self.manager.is_alive()

    def run(self, code: str, timeout: float) -> str | None:
        """Run ``code``; the error it produced ('Name: message', 'timed out ...'), or None.

        After a time-out the interrupt was ignored or the kernel died when ``alive`` is False."""
        # stop_on_error=False: after an error the kernel would otherwise abort the requests that
        # reach it soon after, and the next cell would be skipped with no error of its own.
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False,
                                     stop_on_error=False)
        deadline = time.monotonic() + timeout
        interrupted = False
        while True:
            if not self.manager.is_alive():
                return "the kernel died (a crash, os._exit or too much memory)"
            left = deadline - time.monotonic()
            if left <= 0 and not interrupted:
                self.manager.interrupt_kernel()
                interrupted, deadline = True, time.monotonic() + GRACE
                continue
            if left <= 0:
                self.manager.shutdown_kernel(now=True)  # SIGKILL to the kernel's process group
                return f"timed out after {timeout:g} s and ignored the interrupt: the kernel was killed"
            self._drain_output()
            try:
                reply = self.client.get_shell_msg(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            content = reply["content"]
            if interrupted:
                return f"timed out: ran longer than {timeout:g} s and was interrupted"
            if content.get("status") == "error":
                return f"{content.get('ename')}: {str(content.get('evalue'))[:200]}"
            if content.get("status") == "aborted":
                return "not run: the kernel aborted it"
            return None


    def _drain_output(self) -> None:
        """Drop what the cell printed: the grader judges answers, not output."""
        while True:
            try:
                self.client.get_iopub_msg(timeout=0)
            except queue.Empty:
                return


def execute_in_place(path: Path, timeout: float = 600) -> None:
    """Re-run a notebook top to bottom and save it with its outputs; stop at the first error."""
    import nbformat  # slow imports, not needed by the grader's runner
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


__all__ = ["Kernel", "execute_in_place"]
