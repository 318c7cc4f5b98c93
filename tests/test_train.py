"""cnnlab.train: learning, history, checkpoints that resume exactly and never clobber, controlled
runs recorded batch by batch, evaluate (ten-crop too)."""

import functools
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import functional as TF

from cnnlab import data, models
from cnnlab.config import seed_everything
from cnnlab.models.googlenet import InceptionOutputs, inception_loss
from cnnlab.train import CheckpointMismatchError, History, Run, controlled_run, evaluate, fit

FEATURES, CLASSES = 8, 4


def separable(n: int, seed: int) -> TensorDataset:
    """Points labelled by which of their first four coordinates is largest: linearly separable."""
    inputs = torch.randn(n, FEATURES, generator=torch.Generator().manual_seed(seed))
    return TensorDataset(inputs, inputs[:, :CLASSES].argmax(1))


def small_net(hidden: int = 16) -> nn.Module:
    # Dropout makes the result depend on the global RNG, which resuming must restore.
    return nn.Sequential(nn.Linear(FEATURES, hidden), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(hidden, CLASSES))


class WithAuxHead(nn.Module):
    """A small net that, like GoogLeNet, also returns an auxiliary head's logits in training."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(FEATURES, 16), nn.ReLU())
        self.head, self.aux = nn.Linear(16, CLASSES), nn.Linear(16, CLASSES)

    def forward(self, x):
        hidden = self.body(x)
        logits = self.head(hidden)
        return InceptionOutputs(logits, (self.aux(hidden),)) if self.training else logits


@pytest.fixture(scope="module")
def loaders():
    train = DataLoader(separable(256, seed=1), batch_size=32, shuffle=True)
    val = DataLoader(separable(128, seed=2), batch_size=50)
    return train, val


def quick_fit(model, loaders, **kwargs) -> History:
    train, val = loaders
    kwargs = {"lr": 0.1, "device": "cpu", "progress": False, **kwargs}
    return fit(model, train, val, **kwargs)


@pytest.mark.parametrize("weights", [(1.0, 0.3), (1.0, 0.0)])
def test_fit_trains_auxiliary_heads_through_their_loss(loaders, weights):
    seed_everything(0)
    model = WithAuxHead()
    before = model.aux.weight.detach().clone()
    loss = functools.partial(inception_loss, weights=weights)
    history = quick_fit(model, loaders, epochs=3, loss_fn=loss)
    assert history.val_acc[-1] > history.val_acc[0]
    # The auxiliary head learns only when its loss counts.
    assert torch.equal(model.aux.weight, before) == (weights[1] == 0)


def test_fit_learns_the_separable_problem(loaders):
    seed_everything(0)
    model = small_net()
    history = quick_fit(model, loaders, epochs=5)
    labels = loaders[1].dataset.tensors[1]
    majority = 100 * labels.bincount().max().item() / len(labels)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > history.val_acc[0]
    assert history.val_acc[-1] > (majority + 100) / 2  # halfway from the majority guess to 100%
    # The validation figures fit reports are the ones evaluate gives for the same weights.
    scores = evaluate(model, loaders[1])
    assert scores.top1 == pytest.approx(history.val_acc[-1], abs=1e-9)
    assert scores.loss == pytest.approx(history.val_loss[-1], rel=1e-5)


def test_history_and_best_checkpoint(loaders, tmp_path):
    seed_everything(0)
    history = quick_fit(small_net(), loaders, epochs=3, checkpoint_dir=tmp_path)
    for series in (history.train_loss, history.train_acc, history.val_loss, history.val_acc,
                   history.epoch_seconds):
        assert len(series) == 3
    assert all(seconds > 0 for seconds in history.epoch_seconds)
    assert history.best_val_acc == max(history.val_acc)
    assert history.best_epoch == history.val_acc.index(max(history.val_acc)) + 1
    assert history.checkpoint == tmp_path / "best.pt"
    assert history.checkpoint_bytes == (tmp_path / "best.pt").stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    # best.pt is a bare state_dict holding the best epoch's weights.
    restored = small_net()
    restored.load_state_dict(torch.load(history.checkpoint, weights_only=True))
    assert evaluate(restored, loaders[1]).top1 == pytest.approx(history.best_val_acc, abs=1e-9)
    assert History.from_dict(history.as_dict()) == history


def test_without_validation_best_is_the_latest_epoch(loaders, tmp_path):
    seed_everything(0)
    model = small_net()
    history = fit(model, loaders[0], epochs=2, lr=0.1, device="cpu", progress=False,
                  checkpoint_dir=tmp_path)
    assert history.val_acc == [] and history.best_val_acc is None
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert all(torch.equal(best[name], value) for name, value in model.state_dict().items())


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(loaders, tmp_path, capsys):
    def step_lr(optimizer):  # a schedule that changes mid-run, so its state must be restored
        return StepLR(optimizer, step_size=3, gamma=0.1)

    seed_everything(0)
    straight = small_net()
    straight_history = quick_fit(straight, loaders, epochs=4, scheduler=step_lr,
                                 checkpoint_dir=tmp_path / "straight")

    seed_everything(0)
    quick_fit(small_net(), loaders, epochs=2, scheduler=step_lr,
              checkpoint_dir=tmp_path / "resumed")
    seed_everything(1)  # a fresh process: other initial weights, other RNG state
    resumed = small_net()
    resumed_history = quick_fit(resumed, loaders, epochs=4, scheduler=step_lr,
                                checkpoint_dir=tmp_path / "resumed")
    assert capsys.readouterr().out == (
        f"fit: resumed from {tmp_path / 'resumed' / 'last.pt'} after epoch 2 of 4.\n")

    for (name, expected), actual in zip(straight.state_dict().items(),
                                        resumed.state_dict().values(), strict=True):
        assert torch.equal(expected, actual), name
    assert resumed_history.train_loss == straight_history.train_loss
    assert resumed_history.val_acc == straight_history.val_acc


def test_finished_run_is_returned_not_retrained_and_never_shortened(loaders, tmp_path, capsys):
    seed_everything(0)
    model = small_net()
    first = quick_fit(model, loaders, epochs=2, checkpoint_dir=tmp_path)
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    capsys.readouterr()
    again = quick_fit(model, loaders, epochs=2, checkpoint_dir=tmp_path)
    assert again == first
    assert capsys.readouterr().out.endswith("after epoch 2 of 2, nothing left to train.\n")
    assert all(torch.equal(weights[name], value) for name, value in model.state_dict().items())
    with pytest.raises(ValueError, match="already trained 2 epochs"):
        quick_fit(model, loaders, epochs=1, checkpoint_dir=tmp_path)


def test_checkpoint_of_another_model_is_refused_and_left_alone(loaders, tmp_path):
    quick_fit(small_net(), loaders, epochs=1, checkpoint_dir=tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(CheckpointMismatchError, match=re.escape(str(tmp_path))) as error:
        quick_fit(small_net(hidden=32), loaders, epochs=2, checkpoint_dir=tmp_path)
    assert "resume=False" in str(error.value) and "checkpoint_dir" in str(error.value)
    assert isinstance(error.value, ValueError)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_resume_false_keeps_the_old_files_under_new_names(loaders, tmp_path):
    quick_fit(small_net(), loaders, epochs=1, checkpoint_dir=tmp_path)
    old = {name: (tmp_path / name).read_bytes() for name in ("last.pt", "best.pt")}
    quick_fit(small_net(hidden=32), loaders, epochs=1, checkpoint_dir=tmp_path, resume=False)
    for name, content in old.items():
        stem = name.removesuffix(".pt")
        kept = [p for p in tmp_path.glob(f"{stem}.*.pt")]
        assert len(kept) == 1 and kept[0].read_bytes() == content
        assert (tmp_path / name).read_bytes() != content  # the new run's own file
    new_weights = torch.load(tmp_path / "best.pt", weights_only=True)
    assert new_weights["0.weight"].shape == (32, FEATURES)


def test_progress_bars_show_only_when_asked(loaders, capsys):
    quick_fit(small_net(), loaders, epochs=1, progress=True)
    assert "fit" in capsys.readouterr().err
    quick_fit(small_net(), loaders, epochs=1, progress=False)
    assert capsys.readouterr().err == ""


class Lookup(nn.Module):
    """Answers example i with row i of a fixed table, so every score is known beforehand."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(table)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.table[index]


def known_outputs(num_classes: int, n: int = 60):
    """Logits that rank the true class of each example at a chosen, random place."""
    g = torch.Generator().manual_seed(num_classes)
    labels = torch.randint(num_classes, (n,), generator=g)
    places = torch.randint(num_classes, (n,), generator=g)
    logits = torch.empty(n, num_classes)
    ranking = []
    for i in range(n):
        others = [c for c in torch.randperm(num_classes, generator=g).tolist() if c != labels[i]]
        order = others[: places[i]] + [labels[i].item()] + others[places[i]:]
        logits[i, order] = torch.arange(num_classes, 0, -1, dtype=torch.float)
        ranking.append(order)
    return logits, labels, places, ranking


@pytest.mark.parametrize("num_classes", [3, 6, 30])
def test_evaluate_against_known_outputs(num_classes):
    logits, labels, places, ranking = known_outputs(num_classes)
    names = [f"class{c}" for c in range(num_classes)]
    model = Lookup(logits).train()
    loader = DataLoader(TensorDataset(torch.arange(len(labels)), labels), batch_size=16)
    scores = evaluate(model, loader, classes=names)

    assert model.training  # mode restored
    assert scores.top1 == pytest.approx(100 * (places == 0).float().mean().item())
    if num_classes >= 5:
        assert scores.top5 == pytest.approx(100 * (places < 5).float().mean().item())
    else:
        assert scores.top5 is None
    assert scores.loss == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    expected = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for label, order in zip(labels.tolist(), ranking, strict=True):
        expected[label, order[0]] += 1
    assert scores.confusion.dtype == torch.int64
    assert torch.equal(scores.confusion, expected)
    for c, (name, accuracy, count) in enumerate(scores.per_class):
        mine = [p.item() for p, label in zip(places, labels, strict=True) if label == c]
        assert (name, count) == (names[c], len(mine))
        assert accuracy == (pytest.approx(100 * mine.count(0) / len(mine)) if mine else None)
    assert scores.classes == names

    text, html = str(scores), scores._repr_html_()
    assert f"top-1 {scores.top1:.2f}%" in text and ("top-5" in text) == (num_classes >= 5)
    assert "<table>" in html
    if num_classes <= 20:
        assert all(name in text and name in html for name in names)
    else:  # long tables show only the weakest and strongest classes
        weakest = min((row for row in scores.per_class if row[1] is not None),
                      key=lambda row: row[1])
        assert weakest[0] in text and "lowest" in text
        assert len(text.splitlines()) < num_classes


def test_evaluate_takes_class_names_from_the_dataset():
    logits, labels, _, _ = known_outputs(3)
    dataset = TensorDataset(torch.arange(len(labels)), labels)
    dataset.classes = ["cat", "dog", "ship"]
    scores = evaluate(Lookup(logits), DataLoader(dataset, batch_size=16))
    assert scores.classes == ["cat", "dog", "ship"]
    with pytest.raises(ValueError, match="classes has 2 names"):
        evaluate(Lookup(logits), DataLoader(dataset, batch_size=16), classes=["a", "b"])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1.5}, ValueError, "epochs"),
        ({"epochs": True}, ValueError, "epochs"),
        ({"epochs": 1, "lr": 0}, ValueError, "lr must be > 0"),
        ({"epochs": 1, "lr": -0.1}, ValueError, "lr must be > 0"),
        ({"epochs": 1, "log_every": 0}, ValueError, "log_every"),
    ],
)
def test_fit_rejects_bad_settings(loaders, kwargs, error, message):
    with pytest.raises(error, match=message):
        fit(small_net(), loaders[0], progress=False, **kwargs)


def test_fit_rejects_bad_loaders_and_conflicting_arguments(loaders):
    empty = DataLoader(TensorDataset(torch.empty(0, FEATURES), torch.empty(0, dtype=torch.long)))
    model = small_net()
    with pytest.raises(ValueError, match="train_loader yields no batches"):
        fit(model, empty, epochs=1)
    with pytest.raises(ValueError, match="val_loader yields no batches"):
        fit(model, loaders[0], empty, epochs=1)
    with pytest.raises(TypeError, match="DataLoader"):
        fit(model, list(loaders[0]), epochs=1)
    with pytest.raises(ValueError, match="either lr"):
        fit(model, loaders[0], epochs=1, lr=0.1,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="scheduler drives another optimizer"):
        other = torch.optim.SGD(small_net().parameters(), lr=0.1)
        fit(model, loaders[0], epochs=1, scheduler=StepLR(other, step_size=1))
    with pytest.raises(ValueError, match="loader yields no batches"):
        evaluate(model, empty)


def test_amp_and_channels_last_can_be_forced_on_cpu():
    seed_everything(0)
    images = torch.randn(128, 3, 6, 6, generator=torch.Generator().manual_seed(3))
    labels = (images[:, 0].mean((1, 2)) > 0).long()  # is the first channel brighter than zero
    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
    history = fit(model, loader, loader, epochs=4, lr=0.1, device="cpu", progress=False,
                  amp=True, channels_last=True)  # bfloat16 autocast on CPU
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert history.val_acc[-1] > history.val_acc[0]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda_with_amp_and_channels_last(loaders, tmp_path):
    seed_everything(0)
    model = small_net()
    history = fit(model, *loaders, epochs=5, lr=0.1, device="cuda", progress=False,
                  checkpoint_dir=tmp_path)
    assert next(model.parameters()).is_cuda
    assert history.val_acc[-1] > history.val_acc[0]
    quick_fit(model, loaders, epochs=6, device="cuda", checkpoint_dir=tmp_path)  # resumes


# --- controlled runs ---------------------------------------------------------------------------


def blobs(n: int, seed: int, side: int = 12) -> TensorDataset:
    """Images whose class (of 3) is which colour channel is brighter: easy to learn."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = 0.3 * torch.randn(n, 3, side, side, generator=g)
    images[torch.arange(n), labels] += 1.0
    return TensorDataset(images, labels)


tiny = functools.partial(models.create, "small_cnn", 3, widths=(4, 8), hidden=8, image_size=12)


def top1(model, dataset, **options) -> float:
    return evaluate(model, DataLoader(dataset, batch_size=256), **options).top1


def test_controlled_run_learns_and_is_reproducible():
    train_set = blobs(96, seed=0)
    settings = {"iterations": 30, "batch_size": 16, "lr": 0.05, "device": "cpu",
                "progress": False}
    first = controlled_run(tiny, train_set, **settings)
    again = controlled_run(tiny, train_set, **settings)
    assert len(first.errors) == len(first.losses) == 30  # 30 batches: several epochs of 6
    assert first.errors == again.errors and first.losses == again.losses
    assert first.running_error(10)[-1] < first.running_error(10)[9]
    assert top1(first.model, blobs(60, seed=1)) > 100 / 3
    other_seed = controlled_run(tiny, train_set, **{**settings, "seed": 1})
    assert other_seed.losses != first.losses


def test_controlled_run_starts_variants_from_the_same_weights():
    train_set = blobs(32, seed=0)
    relu, tanh = (controlled_run(functools.partial(tiny, activation=a), train_set, iterations=1,
                                 batch_size=32, lr=1e-9, momentum=0, device="cpu", progress=False)
                  for a in ("relu", "tanh"))
    for a, b in zip(relu.model.parameters(), tanh.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_controlled_run_rejects_bad_arguments():
    with pytest.raises(TypeError, match="make_model"):
        controlled_run(tiny(), blobs(8, 0), iterations=1, batch_size=4, lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        controlled_run(tiny, blobs(8, 0), iterations=1, batch_size=16, lr=0.1)
    with pytest.raises(ValueError, match="iterations"):
        controlled_run(tiny, blobs(8, 0), iterations=0, batch_size=4, lr=0.1)


def test_running_error_and_iterations_to_a_target():
    run = Run(model=torch.nn.Identity(), losses=[0.0] * 6, errors=[100, 80, 60, 40, 20, 0],
              seconds=0.0)
    assert run.running_error(2) == [100, 90, 70, 50, 30, 10]
    assert run.iterations_to(50, window=2) == 4
    assert run.iterations_to(100, window=3) == 3  # never before a full window
    assert run.iterations_to(5, window=2) is None
    with pytest.raises(ValueError, match="target_error"):
        run.iterations_to(150, window=2)


# --- evaluate on crops -------------------------------------------------------------------------


def test_evaluate_averages_ten_crops_as_ten_crop_predict_does():
    torch.manual_seed(0)
    model = tiny()
    crops = torch.randn(7, 10, 3, 12, 12)
    labels = torch.arange(7) % 3
    probabilities = data.ten_crop_predict(model.eval(), crops)
    expected = (probabilities.argmax(1) == labels).double().mean()
    scores = evaluate(model, DataLoader(TensorDataset(crops, labels), batch_size=256))
    assert scores.top1 == pytest.approx(100 * expected.item())
    assert scores.loss == pytest.approx(F.nll_loss(probabilities.log(), labels).item(), rel=1e-6)
    single = crops[:, 0]
    expected = (model(single).argmax(1) == labels).double().mean()
    assert top1(model.train(), TensorDataset(single, labels)) == pytest.approx(
        100 * expected.item())
    assert model.training


def test_ten_crop_on_tensors_scores_as_alexnets_test_transform_does():
    torch.manual_seed(0)
    # A linear model's prediction moves with every pixel, so any crop out of place would show.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 28 * 28, 10))
    cropped = data.load("shapes", "test", size=60,
                        transform=data.alexnet_transforms("shapes", train=False))
    whole = data.load("shapes", "test", size=60,
                      transform=data.standard_transforms("shapes", train=False))
    images = data.as_tensors(whole)
    assert torch.equal(images.tensors[0][5], whole[5][0])
    assert images.tensors[1].tolist() == whole.targets
    crops = torch.stack([x for x, _ in cropped])
    torch.testing.assert_close(
        torch.stack(TF.ten_crop(images.tensors[0], [28, 28]), dim=1), crops)
    expected = top1(model, cropped)
    assert evaluate(model, DataLoader(images, batch_size=7), ten_crop=28).top1 == expected
    with pytest.raises(ValueError, match="ten_crop"):
        top1(model, cropped, ten_crop=28)
    with pytest.raises(TypeError, match="ToTensor"):
        data.as_tensors(data.load("shapes", "test", size=2))
