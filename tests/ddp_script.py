"""Run by tests/test_ddp.py under torchrun: each worker trains the same tiny model with ``fit``
and saves what it saw and ended with to ``<out>/rank<r>.pt`` for the test to compare.

Usage: torchrun --standalone --nproc_per_node 2 tests/ddp_script.py OUT_DIR EXAMPLES EPOCHS
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cnnlab.config import seed_everything
from cnnlab.train import fit, is_distributed, rank


class RecordingDataset(TensorDataset):
    """Remembers which examples this worker loaded, in order."""

    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.seen = []

    def __getitem__(self, index):
        self.seen.append(int(index))
        return super().__getitem__(index)


def main(out: Path, examples: int, epochs: int) -> None:
    inputs = torch.randn(examples, 8, generator=torch.Generator().manual_seed(0))
    train = RecordingDataset(inputs, inputs[:, :4].argmax(1))
    val = TensorDataset(inputs[:20], inputs[:20, :4].argmax(1))
    # Different seeds per worker: identical final weights then show that DDP synchronised them,
    # and disjoint shards show that fit agreed on one shuffling seed.
    seed_everything(rank())
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    history = fit(model, DataLoader(train, batch_size=8, shuffle=True),
                  DataLoader(val, batch_size=8), epochs=epochs, lr=0.1, device="cpu",
                  checkpoint_dir=out / "checkpoints", progress=False)
    torch.save({
        "distributed": is_distributed(),
        "world_size": dist.get_world_size(),
        "seen": train.seen,
        "state": model.state_dict(),
        "history": history.as_dict(),
    }, out / f"rank{rank()}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), examples=int(sys.argv[2]), epochs=int(sys.argv[3]))
