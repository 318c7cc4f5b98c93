"""cnnlab.train.fit under torchrun: two CPU workers (gloo) split the data and stay in step."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_script.py")
WORKERS, EXAMPLES, EPOCHS = 2, 64, 2

pytestmark = pytest.mark.slow  # starts two Python processes and a rendezvous


def test_fit_under_torchrun_with_two_gloo_workers(tmp_path):
    # One test, so the workers are launched once however pytest-xdist spreads tests.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(WORKERS), str(SCRIPT), str(tmp_path), str(EXAMPLES),
               str(EPOCHS)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    workers = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORKERS)]

    # Both workers ran, and knew they were part of a group.
    assert all(w["distributed"] and w["world_size"] == WORKERS for w in workers)

    # Each saw its own half of every epoch, and the shuffle changed between epochs.
    half = EXAMPLES // WORKERS
    assert all(len(w["seen"]) == half * EPOCHS for w in workers)
    for epoch in range(EPOCHS):
        shards = [set(w["seen"][epoch * half:(epoch + 1) * half]) for w in workers]
        assert all(len(shard) == half for shard in shards)
        assert set.union(*shards) == set(range(EXAMPLES))
    assert workers[0]["seen"][:half] != workers[0]["seen"][half:]

    # They started from different random weights and ended identical, with the same metrics.
    first, second = workers
    assert first["state"].keys() == second["state"].keys()
    for name, value in first["state"].items():
        assert torch.equal(value, second["state"][name]), name
    assert first["history"]["train_loss"] == second["history"]["train_loss"]
    assert first["history"]["val_acc"] == second["history"]["val_acc"]

    # Only rank 0 wrote checkpoints: exactly one pair, holding the final weights.
    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best.pt", "last.pt"]
    last = torch.load(checkpoints / "last.pt", weights_only=True)
    assert all(torch.equal(value, last["model"][name]) for name, value in first["state"].items())
    assert len(last["rng"]) == WORKERS  # each worker's random state, for an exact resume
    assert first["history"]["checkpoint_bytes"] == (checkpoints / "best.pt").stat().st_size
