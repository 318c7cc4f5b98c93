"""Run one submission's :mod:`cnnlab.grading.runner` in a sandbox, with a hard deadline.

With bubblewrap (``bwrap``, Linux) the runner sees the system's Python and libraries, the virtual
environment and the student edition of cnnlab, all read-only, and a private ``/tmp`` (size-limited)
as its only writable place: no network, no other process, no repository, no solutions/, no other
submission, no gradebook. Memory, processes and file sizes are limited; as root the sandbox runs as
an unprivileged user of its own (``SANDBOX_UID + slot``, or the next one no other sandbox on the
machine holds: the process limit counts per user). Without bwrap the runner is an ordinary
child process in a scratch folder: it still sees only the student edition on its import path, but
nothing stops it from reading or writing anything the grader's user can; reports say so.

Either way the deadline is hard: SIGINT to the process group, :data:`GRACE` seconds, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

GRACE = 3.0
SANDBOX_UID = 61000
SANDBOX_USERS = 64  # users the sandboxes of one machine take turns with
MAX_OUTPUT = 256 << 20  # bytes of events read from one runner
MAX_LINE = 64 << 20  # one event (an answer of a million floats is about 20 MB)
EDITION_MOUNT = "/opt/cnnlab-edition"
DATA_MOUNT = "/opt/cnnlab-data"
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "passwd", "group",
       "nsswitch.conf")


@dataclass
class Limits:
    memory_gb: float = 8.0
    processes: int = 512  # threads count too: torch and the kernel start dozens
    file_mb: int = 512
    tmp_mb: int = 1024


@dataclass
class Outcome:
    events: list[dict] = field(default_factory=list)
    killed: str = ""  # why the deadline or a limit ended the run, else ""


@functools.cache
def available() -> bool:
    """True when bubblewrap is installed and can start a sandbox here."""
    if not shutil.which("bwrap"):
        return False
    probe = subprocess.run(_bwrap(Path("/"), None, SANDBOX_UID, Limits()) + ["true"], capture_output=True)
    return probe.returncode == 0


def _ancestors(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _bwrap(edition: Path, data: Path | None, uid: int, limits: Limits) -> list[str]:
    """The bwrap command line (without the command) for one submission."""
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr",
            # The private /tmp first: a venv or Python that lives under /tmp (a CI clone, say) is
            # bound on top of it below, instead of being hidden by it.
            "--size", str(limits.tmp_mb << 20), "--perms", "01777", "--tmpfs", "/tmp",
            "--perms", "01777", "--dir", "/tmp/submission"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    args += [a for name in ETC if (Path("/etc") / name).exists()
             for a in ("--ro-bind", f"/etc/{name}", f"/etc/{name}")]
    made = set()
    python_trees = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    for tree in sorted(t for t in python_trees if not str(t).startswith("/usr")):
        for parent in _ancestors(tree):
            if parent not in made:  # created readable: bwrap would make them 0700
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", str(tree), str(tree)]
    site = Path(sysconfig.get_paths()["purelib"])
    for editable in sorted(site.glob("__editable__*.pth")):  # the repository's cnnlab, masked
        args += ["--ro-bind", "/dev/null", str(editable)]
    args += ["--perms", "0755", "--dir", "/opt", "--ro-bind", str(edition), EDITION_MOUNT]
    if data is not None and data.is_dir():
        args += ["--ro-bind", str(data), DATA_MOUNT]
    args += ["--chdir", "/tmp/submission"]
    if os.geteuid() == 0:  # drop to a user of the sandbox's own, so the process limit holds
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        args += ["--unshare-user", "--"]
    return args


@contextlib.contextmanager
def _sandbox_user(slot: int):
    """A sandbox uid that no other sandbox on this machine runs as, held until the run ends.

    RLIMIT_NPROC counts every process of a user: two graders (or two test workers) sharing one
    uid would each be starved by the other's processes. A lock file per uid says who holds it."""
    folder = Path(tempfile.gettempdir()) / "cnnlab-sandbox-users"
    folder.mkdir(mode=0o700, exist_ok=True)
    candidates = [SANDBOX_UID + (slot + k) % SANDBOX_USERS for k in range(SANDBOX_USERS)]
    for index, uid in enumerate(candidates):
        lock = open(folder / str(uid), "w")
        last = index == len(candidates) - 1
        try:  # all taken: wait for the last one rather than share
            fcntl.flock(lock, fcntl.LOCK_EX if last else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        with lock:
            yield uid
        return


def _environment(sandboxed: bool, edition: Path, data: Path | None, home: Path) -> dict:
    keep = ("CNNLAB_PROFILE", "CNNLAB_DEVICE", "OMP_NUM_THREADS", "LANG", "CI")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               HOME=str(home), USER="learner", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=EDITION_MOUNT if sandboxed else str(edition),
               CNNLAB_CHECKPOINTS=str(home / "checkpoints"),
               TORCH_EXTENSIONS_DIR=str(home / "torch_extensions"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_PLATFORM_DIRS="1")
    if data is not None and data.is_dir():
        env["CNNLAB_DATA"] = DATA_MOUNT if sandboxed else str(data)
    return env


def _limit(limits: Limits, processes: int) -> None:
    """In the child, before exec: the limits every process of the submission inherits."""
    memory = int(limits.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20, limits.file_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _own_processes() -> int:
    """How many tasks this user runs now: without a user of its own, the limit adds to it."""
    uid, count = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nUid:\t{uid}\t" in text:
            threads = next((line.split()[1] for line in text.splitlines()
                            if line.startswith("Threads:")), "1")
            count += int(threads)
    return count


def run(job: dict, edition: Path, deadline: float, sandboxed: bool, slot: int = 0,
        data: Path | None = None, limits: Limits | None = None) -> Outcome:
    """Run the runner on ``job`` (see :mod:`cnnlab.grading.runner`); its events, and whether it
    had to be killed. Never raises for anything the submission does."""
    limits = limits or Limits()
    command = [sys.executable, "-m", "cnnlab.grading.runner"]
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="cnnlab-submission-"))
        if sandboxed:
            uid = stack.enter_context(_sandbox_user(slot)) if os.geteuid() == 0 else 0
            command = _bwrap(edition, data, uid, limits) + command
            home, cwd = Path("/tmp"), None
            processes = limits.processes
        else:
            home, cwd = Path(scratch), scratch
            processes = _own_processes() + limits.processes if os.geteuid() else limits.processes
        process = subprocess.Popen(
            command, cwd=cwd, env=_environment(sandboxed, edition, data, home),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=lambda: _limit(limits, processes))
        outcome = Outcome()
        reader = threading.Thread(target=_read_events, args=(process.stdout, outcome), daemon=True)
        reader.start()
        try:
            process.stdin.write(json.dumps(job).encode())
            process.stdin.close()
        except OSError:  # the runner is already gone; its events say why
            pass
        try:
            process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            outcome.killed = f"stopped at the notebook's deadline ({deadline:g} s)"
            _signal_group(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=GRACE)
            except subprocess.TimeoutExpired:
                pass
        finally:
            _signal_group(process.pid, signal.SIGKILL)  # whatever is left of the group
            process.wait()
            reader.join(timeout=GRACE)
    return outcome


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _read_events(stream, outcome: Outcome) -> None:
    """Collect the runner's JSON lines, up to :data:`MAX_OUTPUT` bytes; drain the rest."""
    total, skipping = 0, False
    while line := stream.readline(MAX_LINE):
        total += len(line)
        whole = line.endswith(b"\n")
        if skipping or not whole or total > MAX_OUTPUT:  # the tail of a line too long is dropped
            skipping = not whole
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            outcome.events.append(event)
