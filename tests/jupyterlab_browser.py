"""JupyterLab in a real browser: a server started as `make lab` starts it, notebooks run from the
Run menu, and a list of what a learner would see go wrong on the page."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The system's Chromium (Debian's package), so no browser download is needed.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Settings a fresh JupyterLab would otherwise ask about in a pop-up over the notebook.
_QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10).close()


def _processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text``: the kernels, which the server starts in
    sessions of their own, so stopping the server's process group does not reach them."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue  # the process ended while we looked
    return pids


@contextmanager
def jupyter_lab(root: Path, scratch: Path, env: dict[str, str]) -> Iterator[Lab]:
    """JupyterLab serving ``root`` with the flags `make lab` passes, plus a free port and a token.

    Its runtime files, settings and workspaces stay in ``scratch``, so parallel test workers share
    nothing. On exit it is shut down with its kernels, whatever happened.
    """
    runtime, settings = scratch / "runtime", scratch / "settings"
    for name, values in _QUIET_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
               *(["--allow-root"] if os.geteuid() == 0 else []),
               "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={scratch / 'workspaces'}"]
    log_path = scratch / "jupyterlab.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env={**os.environ, **env, "JUPYTER_RUNTIME_DIR": str(runtime)},
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; its log ({log_path}) ends:\n"
                                       + log_path.read_text(errors="replace")[-3000:]) from None
                time.sleep(0.5)
        yield lab
    finally:
        try:
            _post(f"{lab.url}/api/shutdown?token={token}")  # stops the kernels, then the server
            server.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        for pid in _processes_mentioning(str(runtime)):
            os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- the page

# Prompts are read with textContent: JupyterLab skips laying out cells outside the viewport, and
# innerText of a skipped cell is empty.
_PROMPTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim())"""
_KERNEL_IDLE = """() => document.querySelector('.jp-StatusBar-Widget')?.parentElement.textContent
    .includes('| Idle')"""


def open_notebook(page, lab: Lab, path: str, *, timeout_s: float = 90) -> None:
    """Open ``path`` (relative to the server's root) and wait until its kernel is idle."""
    cells = len(json.loads((lab.root / path).read_text())["cells"])
    # reset: a fresh workspace, not the one an earlier test left with its notebook open
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    page.wait_for_function(
        f"""() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === {cells}
                  && ({_KERNEL_IDLE})()""", timeout=timeout_s * 1000, polling=250)


def run_all_cells(page, *, timeout_s: float = 180) -> bool:
    """Run > Run All Cells from the menu bar, then wait until no cell is queued or running; True
    when a progress bar was drawn as a widget at some point of the run.

    The first cell's count proves the run started; a cell that raises stops the run, and the cells
    after it are left without a count (``problems`` reports them). Finished bars turn into text
    (cnnlab.progress), so whether they were widgets is watched while the cells run.
    """
    page.evaluate("""() => {
        window.sawProgressWidget = false;
        new MutationObserver((_, observer) => {
            if (document.querySelector('.jp-Notebook .widget-hprogress')) {
                window.sawProgressWidget = true;
                observer.disconnect();
            }
        }).observe(document.body, {childList: true, subtree: true});
    }""")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        f"""() => {{
            const prompts = ({_PROMPTS})();
            return /^\\[\\d+\\]/.test(prompts[0]) && !prompts.some(p => p.includes('*'))
                   && ({_KERNEL_IDLE})();
        }}""", timeout=timeout_s * 1000, polling=250)
    return page.evaluate("() => window.sawProgressWidget")


# One entry per output a learner would read as broken, each naming its cell (1-based, code and
# markdown counted, as JupyterLab's status bar counts them).
_PROBLEMS = r"""() => {
  const problems = [];
  const widgetRepr = /^[A-Z]\w*\((children|value|description|layout|max)=/;
  const textBar = /\d+%\|.*\|/;
  // JupyterLab draws an exception's traceback in the same red box as stderr.
  const traceback = /Traceback \(most recent call last\)/;
  document.querySelectorAll('.jp-Notebook .jp-Cell').forEach((cell, index) => {
    const where = `cell ${index + 1}`;
    if (!cell.classList.contains('jp-CodeCell')) return;
    const prompt = cell.querySelector('.jp-InputPrompt').textContent.trim();
    if (!/^\[\d+\]/.test(prompt)) problems.push(`${where}: not run: prompt "${prompt}"`);
    cell.querySelectorAll('.jp-OutputArea-output').forEach(output => {
      const mime = output.dataset.mimeType || '';
      const text = output.textContent.trim();
      const first = text.split('\n')[0].slice(0, 160);
      if (mime === 'application/vnd.jupyter.stderr' && traceback.test(text)) {
        const lines = text.split('\n').filter(line => line.trim());
        problems.push(`${where}: error output: ${lines[lines.length - 1].slice(0, 160)}`);
      } else if (mime === 'application/vnd.jupyter.stderr') {
        problems.push(`${where}: stderr box: ${first}`);
      }
      // A bar written into a stream was never a widget. A finished notebook bar is replaced by its
      // final line as text/plain (cnnlab.progress), which must say it finished.
      if (textBar.test(text) && (mime.startsWith('application/vnd.jupyter.std') || !/100%\|/.test(text)))
        problems.push(`${where}: progress bar printed as text: ${first}`);
      if (/^(Error displaying widget|Loading widget\.\.\.)/.test(text))
        problems.push(`${where}: widget not rendered: ${first}`);
      if (mime === 'text/plain' && widgetRepr.test(text))
        problems.push(`${where}: widget shown as text: ${first}`);
      output.querySelectorAll('img').forEach(img => {
        if (!img.complete || img.naturalWidth === 0)
          problems.push(`${where}: image not loaded: ${img.getAttribute('src').slice(0, 60)}`);
      });
    });
  });
  return problems;
}"""


def problems(page) -> list[str]:
    """What a learner would see go wrong: cells not run, error outputs, stderr boxes, progress
    bars as text, widgets not rendered (or rendered as their text repr) and images not loaded."""
    return page.evaluate(_PROBLEMS)


def finished_bars(page) -> list[str]:
    """The final lines that finished progress bars left as text (cnnlab.progress replaces a
    finished widget with them), spacing made plain (tqdm writes figure spaces)."""
    return page.evaluate("""() => [...document.querySelectorAll(
            '.jp-Notebook .jp-OutputArea-output[data-mime-type="text/plain"]')]
        .map(out => out.textContent.replace(/\\s+/g, ' ').trim())
        .filter(text => /^[\\w ]+: 100%\\|/.test(text))""")


_SCROLLER = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"


def screenshot(page, path: Path) -> None:
    """The whole notebook in one picture: the window is stretched to the notebook's height, from
    its top, for the shot (twice at most: cells laid out for the first time grow it)."""
    viewport = page.viewport_size
    for _ in range(3):
        chrome, height = page.evaluate(f"""() => {{
            const notebook = document.querySelector('{_SCROLLER}');
            notebook.scrollTop = 0;
            return [window.innerHeight - notebook.clientHeight, notebook.scrollHeight];
        }}""")
        if chrome + height <= page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": viewport["width"], "height": min(chrome + height, 30_000)})
        page.wait_for_timeout(1000)  # lets the cells that came into view lay themselves out
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)
