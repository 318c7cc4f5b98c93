import os
import random

import pytest
import torch

from cnnlab import config, toolchain


def test_profile_from_environment(monkeypatch):
    monkeypatch.delenv("CNNLAB_PROFILE", raising=False)
    monkeypatch.setenv("CI", "true")
    assert config.profile().name == "smoke"
    monkeypatch.delenv("CI")
    assert config.profile().name == "full"
    monkeypatch.setenv("CNNLAB_PROFILE", " Smoke ")
    assert config.profile().name == "smoke"
    assert config.profile().epochs < config._PROFILES["full"].epochs


def test_wrong_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "fast")
    with pytest.raises(ValueError, match="'fast' is not a profile; use one of smoke, full"):
        config.profile()


def test_device_defaults_to_cpu_here_and_refuses_impossible_ones(monkeypatch):
    monkeypatch.delenv("CNNLAB_DEVICE", raising=False)
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert config.device() == torch.device("cpu")
        with pytest.raises(ValueError, match="'cuda' was requested but is not available"):
            config.device("cuda")
    with pytest.raises(ValueError, match="'tpu' is unknown"):
        config.device("tpu")
    monkeypatch.setenv("CNNLAB_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")


def test_seed_everything_repeats_random_streams():
    config.seed_everything(3)
    first = (random.random(), torch.rand(3))
    config.seed_everything(3)
    second = (random.random(), torch.rand(3))
    assert first[0] == second[0] and torch.equal(first[1], second[1])


def test_data_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    assert config.data_dir() == config.REPO_ROOT / "data"
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    assert config.data_dir() == tmp_path


def test_notebook_setup_prints_one_line(capsys, monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
    assert config.notebook_setup(seed=1).type in {"cpu", "cuda", "mps"}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "profile smoke" in out and "seed 1" in out


def test_cuda_home_is_found_through_the_nvcc_wrapper(monkeypatch):
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    home = toolchain.find_cuda_home()
    if home is None:
        pytest.skip("no CUDA toolkit on this machine")
    assert (home / "bin" / "nvcc").is_file() and (home / "include" / "cuda_runtime.h").is_file()
    assert toolchain.nvcc_version(home)


def test_environment_report_names_every_part():
    report = toolchain.environment_report()
    for key in ("python", "torch", "torchvision", "GPU", "C++ compiler", "CUDA toolkit"):
        assert report[key]


def test_checkpoint_dir_is_per_profile_and_overridable(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLAB_CHECKPOINTS", raising=False)
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
    assert config.checkpoint_dir("00_x") == config.REPO_ROOT / "checkpoints" / "smoke" / "00_x"
    monkeypatch.setenv("CNNLAB_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("CNNLAB_PROFILE", "full")
    assert config.checkpoint_dir("00_x") == tmp_path / "full" / "00_x"


def test_importing_the_benchmark_tools_prints_no_cuda_notice():
    """torch warns "No CUDA runtime is found" when a toolkit exists without a GPU; cnnlab hides it."""
    import subprocess
    import sys

    code = "import cnnlab.roofline, torch.utils.cpp_extension as c; c._find_cuda_home()"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "CUDA_HOME": "/usr/local/cuda-none"}, check=True)
    assert "No CUDA runtime" not in run.stderr + run.stdout
