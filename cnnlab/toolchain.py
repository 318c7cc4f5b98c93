"""What this machine can build and run: C++ compiler, CUDA toolkit, GPU, library versions.

One home for these questions because two places ask them: notebook 00's environment report and
the compiled shift kernels in :mod:`cnnlab.ops`.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def find_cxx() -> str | None:
    """Path of the C++ compiler torch.utils.cpp_extension will use (``CXX`` or ``c++``)."""
    return shutil.which(os.environ.get("CXX", "c++"))


def find_cuda_home() -> Path | None:
    """The CUDA toolkit's real directory, or None.

    ``nvcc`` on PATH may be a wrapper script outside the toolkit (as on the course's build machines),
    which makes torch guess CUDA_HOME wrongly. So: trust ``CUDA_HOME``/``CUDA_PATH`` if they hold
    ``bin/nvcc``; else follow ``nvcc`` through symlinks and, for a shell wrapper, the path it execs;
    else try ``/usr/local/cuda``.
    """
    candidates: list[Path] = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    nvcc = shutil.which("nvcc")
    if nvcc:
        real = Path(nvcc).resolve()
        candidates.append(real.parent.parent)
        try:
            text = real.read_text(errors="ignore")[:4096]
        except OSError:
            text = ""
        for match in re.findall(r"(/\S+?/bin/nvcc)\b", text):
            candidates.append(Path(match).resolve().parent.parent)
    candidates += [Path("/usr/local/cuda"), *sorted(Path("/usr/local").glob("cuda-*"), reverse=True)]
    for home in candidates:
        if (home / "bin" / "nvcc").is_file() and (home / "include" / "cuda_runtime.h").is_file():
            return home
    return None


def nvcc_version(cuda_home: Path | None = None) -> str | None:
    """``release X.Y`` as reported by the toolkit's nvcc, or None."""
    home = cuda_home or find_cuda_home()
    if home is None:
        return None
    out = subprocess.run([str(home / "bin" / "nvcc"), "--version"], capture_output=True, text=True)
    match = re.search(r"release (\d+\.\d+)", out.stdout)
    return match.group(1) if match else None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_report() -> dict[str, str]:
    """Versions, device and toolchain as one flat table, for notebook 00 and bug reports."""
    import torch

    cuda_home = find_cuda_home()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "cnnlab": _version("cnnlab"),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "torch built for CUDA": torch.version.cuda or "no (CPU build)",
        "GPU": gpu,
        "MPS (Apple)": "yes" if torch.backends.mps.is_available() else "no",
        "CPU threads": str(torch.get_num_threads()),
        "C++ compiler": find_cxx() or "not found",
        "CUDA toolkit": f"{cuda_home} (nvcc {nvcc_version(cuda_home)})" if cuda_home else "not found",
    }
