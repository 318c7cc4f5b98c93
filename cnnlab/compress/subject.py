"""The network this topic compresses: cnnlab's small_cnn trained on the offline shapes data.

Notebook 11, its tests and ``benchmarks/bench_compress.py`` train it the same way, so the figures
they report are about the same kind of model. The images go through their transforms once
(:func:`cnnlab.data.as_tensors`), so an epoch costs only the network's own work.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from cnnlab import config, data, train
from cnnlab.models import create

DATASET = "shapes"
EPOCHS = {"smoke": 4, "full": 15}
LR = 3e-3  # Adam: on 2,000 shapes images it learns in 4 epochs what SGD at 0.05 does not


def subject_data(seed: int = 0, batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
    """Train and test loaders of the shapes data, sized by the profile, as stacked tensors."""
    run = config.profile()
    train_set, test_set = (
        data.as_tensors(data.load(DATASET, split, size=size,
                                  transform=data.standard_transforms(DATASET, train=False)))
        for split, size in (("train", run.train_size), ("test", run.test_size)))
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(test_set, batch_size=256))


def trained_subject(train_loader: DataLoader, seed: int = 0, epochs: int | None = None) -> nn.Module:
    """small_cnn trained from seed ``seed`` for the profile's epochs (Adam, lr 3e-3), in eval mode."""
    torch.manual_seed(seed)
    model = create("small_cnn")
    train.fit(model, train_loader, epochs=epochs or EPOCHS[config.profile_name()],
              optimizer=torch.optim.Adam(model.parameters(), lr=LR), progress=False, seed=seed,
              device="cpu")
    return model.eval()


def fine_tune(model: nn.Module, train_loader: DataLoader, steps: int, seed: int = 0) -> nn.Module:
    """A few Adam steps (lr 1e-3) on ``model`` in place: the recovery step of the prune loop.
    A pruned weight's mask keeps its zeros at zero while the survivors adjust."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR / 3)
    torch.manual_seed(seed)
    model.train()
    batches = iter(train_loader)
    for _ in range(steps):
        try:
            images, labels = next(batches)
        except StopIteration:
            batches = iter(train_loader)
            images, labels = next(batches)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return model.eval()


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    """Top-1 accuracy in % on ``loader``."""
    return train.evaluate(model, loader, device="cpu").top1
