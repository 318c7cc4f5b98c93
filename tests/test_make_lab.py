"""`make lab` starts JupyterLab on the course (headless here, on a free port) and serves its notebooks."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from cnnlab.config import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_serves_the_course_notebooks():
    port, token = _free_port(), "cnnlab-test"
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=REPO_ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline, listing = time.monotonic() + 120, None
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}"
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.load(response)
                break
            except OSError:
                time.sleep(1)
        assert listing is not None, f"JupyterLab did not answer: {lab.stderr.read1().decode()[-2000:]}"
        names = {item["name"] for item in listing["content"]}
        assert names == {p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
        assert "00_start_here.ipynb" in names
        # No pop-up asking a learner whether JupyterLab may fetch news from the internet.
        url = (f"http://127.0.0.1:{port}/lab/api/settings/"
               f"@jupyterlab/apputils-extension:notification?token={token}")
        with urllib.request.urlopen(url, timeout=10) as response:
            defaults = json.load(response)["schema"]["properties"]  # the environment's overrides
        assert defaults["fetchNews"]["default"] == "false"
        assert defaults["checkForUpdates"]["default"] is False
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
