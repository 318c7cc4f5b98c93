"""Run-wide settings: profile, device, seeds and where data lives.

The *profile* decides how much work a notebook does. ``smoke`` uses tiny data and one or two
epochs so every notebook runs in seconds on a laptop CPU (and in CI); ``full`` trains on the
real datasets for real. Choose with ``CNNLAB_PROFILE``; ``smoke`` is the default when ``CI`` is set.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

PROFILES = ("smoke", "full")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    """How big a run is. Notebooks read sizes from here instead of hard-coding them."""

    name: str
    train_size: int | None  # examples per training split; None = the whole dataset
    test_size: int | None
    epochs: int
    batch_size: int
    bench_repeats: int  # timed single-image inferences per latency figure


_PROFILES = {
    "smoke": Profile("smoke", train_size=2000, test_size=500, epochs=2, batch_size=64,
                     bench_repeats=20),
    "full": Profile("full", train_size=None, test_size=None, epochs=30, batch_size=128,
                    bench_repeats=1000),
}


def profile_name() -> str:
    """``CNNLAB_PROFILE`` if set, else ``smoke`` under CI, else ``full``."""
    name = os.environ.get("CNNLAB_PROFILE", "").strip().lower()
    if not name:
        return "smoke" if os.environ.get("CI") else "full"
    if name not in PROFILES:
        raise ValueError(
            f"CNNLAB_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILES)} "
            "(e.g. `export CNNLAB_PROFILE=smoke`)."
        )
    return name


def profile() -> Profile:
    """The active :class:`Profile`."""
    return _PROFILES[profile_name()]


def device(prefer: str | None = None) -> torch.device:
    """CUDA if present, then Apple's MPS, then CPU; ``prefer`` (or ``CNNLAB_DEVICE``) forces one."""
    prefer = prefer or os.environ.get("CNNLAB_DEVICE") or None
    if prefer is not None:
        kind = str(prefer).split(":")[0]
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if kind not in available:
            raise ValueError(f"device {prefer!r} is unknown; use 'cpu', 'cuda' or 'mps'.")
        if not available[kind]:
            raise ValueError(
                f"device {prefer!r} was requested but is not available on this machine; "
                "use 'cpu' or leave the device unset to pick the best one automatically."
            )
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; make cuDNN deterministic so reruns give the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def data_dir() -> Path:
    """Where datasets and weights live: ``CNNLAB_DATA`` or the course's ``data/`` folder."""
    env = os.environ.get("CNNLAB_DATA")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "data"


def checkpoint_dir(name: str) -> Path:
    """Where a notebook's training run keeps its checkpoints, per profile so smoke runs never
    resume a full run: ``CNNLAB_CHECKPOINTS`` or the course's ``checkpoints/`` folder."""
    env = os.environ.get("CNNLAB_CHECKPOINTS")
    base = Path(env).expanduser().resolve() if env else REPO_ROOT / "checkpoints"
    return base / profile_name() / name


def notebook_setup(seed: int = 0) -> torch.device:
    """A notebook's first line: seed everything, pick the device, say what is running."""
    import cnnlab

    seed_everything(seed)
    chosen = device()
    print(f"cnnlab {cnnlab.__version__} · torch {torch.__version__} · profile {profile_name()} · "
          f"device {chosen} · {torch.get_num_threads()} CPU threads · seed {seed}")
    return chosen
