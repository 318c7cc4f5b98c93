"""cnnlab.train.resnet_recipe: the lecture's ResNet recipe (seed 004) as fit's optimizer and
scheduler."""

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader, TensorDataset

from cnnlab.train import fit, resnet_recipe


def test_recipe_is_sgd_with_momentum_decay_and_a_tenfold_drop_on_plateau():
    model = nn.Linear(4, 2)
    optimizer, scheduler = resnet_recipe(model, patience=2)
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.SGD) and isinstance(scheduler, ReduceLROnPlateau)
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.1, 0.9, 1e-4)
    for loss in (1.0, 1.0, 1.0):  # no better than the first for `patience` epochs: no drop yet
        scheduler.step(loss)
    assert optimizer.param_groups[0]["lr"] == 0.1
    scheduler.step(1.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_fit_trains_with_the_recipe():
    inputs = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(inputs, (inputs[:, 0] > 0).long()), batch_size=16)
    model = nn.Linear(4, 2)
    optimizer, scheduler = resnet_recipe(model, patience=0)
    history = fit(model, loader, loader, epochs=3, optimizer=optimizer, scheduler=scheduler,
                  device="cpu", progress=False)
    assert history.train_loss[-1] < history.train_loss[0]


def test_recipe_refuses_bad_settings():
    with pytest.raises(ValueError, match="lr must be > 0"):
        resnet_recipe(nn.Linear(2, 2), lr=0)
    with pytest.raises(ValueError, match="patience must be >= 0"):
        resnet_recipe(nn.Linear(2, 2), patience=-1)
