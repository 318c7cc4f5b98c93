"""The training and evaluation loops every notebook shares.

``fit`` trains with live progress bars, records a per-epoch :class:`History`, and keeps two
checkpoints: ``last.pt`` so an interrupted run can carry on exactly where it stopped, and
``best.pt``, the weights with the best validation accuracy. The dissertation (seed 002, §4.3.1)
reports the size of that best-model file as the network's storage cost, so ``History`` carries it.
Launched under ``torchrun``, the same call trains data-parallel (DDP).

``controlled_run`` is the same training step for controlled experiments, which change one thing
and keep the rest: it seeds everything before it builds the model, so two variants start from the
same weights and see the same batches, and records every iteration's training error in a
:class:`Run` (seed 001's ReLU-vs-tanh figure counts iterations, not epochs).

``evaluate`` gives top-1, top-5, per-class accuracy and the confusion matrix, on single images or
on AlexNet's ten crops per image.

Accuracies are percentages (0-100), as the dissertation's tables print them.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torch.utils.data import (
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
)
from torchvision.transforms import functional as TF

from cnnlab import config, data
from cnnlab.checks import integer, is_int
from cnnlab.progress import progress_bar
from cnnlab.tables import Table

LAST = "last.pt"
BEST = "best.pt"
DEFAULT_LR = 0.01  # the middle of the dissertation's learning-rate grid {0.1, 0.01, 0.001}
MAX_TABLE_ROWS = 20  # beyond this many classes, the printed table shows only the extremes


class CheckpointMismatchError(ValueError):
    """``last.pt`` in the checkpoint directory belongs to a different model."""


def is_distributed() -> bool:
    """True when this process is one of several data-parallel workers (launched by torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    """This worker's rank; 0 when training in a single process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


@dataclass
class History:
    """What ``fit`` measured: one entry per epoch (accuracies in %, times in seconds).

    ``val_loss``/``val_acc`` stay empty without a validation loader. ``best_epoch`` counts from 1.
    ``checkpoint`` is ``best.pt``; ``checkpoint_bytes`` its size, the model's storage cost.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_val_acc: float | None = None
    best_epoch: int | None = None
    checkpoint: Path | None = None
    checkpoint_bytes: int | None = None

    def as_dict(self) -> dict:
        """Plain Python values only, so it can go into a checkpoint, JSON or a DataFrame."""
        values = asdict(self)
        values["checkpoint"] = None if self.checkpoint is None else str(self.checkpoint)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> History:
        """Inverse of :meth:`as_dict`."""
        checkpoint = values.get("checkpoint")
        return cls(**{**values, "checkpoint": None if checkpoint is None else Path(checkpoint)})


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    epochs: int,
    lr: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: LRScheduler | Callable[[torch.optim.Optimizer], LRScheduler] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
    amp: bool | None = None,
    channels_last: bool | None = None,
    log_every: int = 10,
    seed: int | None = None,
) -> History:
    """Train ``model`` in place for ``epochs`` epochs and return its :class:`History`.

    - ``optimizer``: default SGD with momentum 0.9 at ``lr`` (default 0.01); pass ``lr`` only when
      ``fit`` builds the optimizer. ``scheduler``: an LR scheduler, or a function that builds one
      from the optimizer (handy when ``fit`` builds it); stepped once per epoch, and
      ``ReduceLROnPlateau`` is given the validation loss (training loss without validation data).
    - ``loss_fn``: default cross-entropy; it must return the batch mean. A model whose training
      forward also returns auxiliary logits (GoogLeNet, Inception-v3) needs a loss that takes
      them, e.g. :func:`cnnlab.models.googlenet.inception_loss`.
    - ``device``: default :func:`cnnlab.config.device`. ``amp`` (autocast + GradScaler) and
      ``channels_last`` default to on for CUDA only, where they pay off.
    - ``checkpoint_dir``: ``last.pt`` after every epoch and ``best.pt`` (a bare state_dict) for the
      best validation accuracy, or for the latest epoch without validation data. With ``resume``
      an existing ``last.pt`` is continued; otherwise old files are renamed, never deleted.
    - ``seed``: fixes the shuffling order, drawn afresh from it each epoch (default
      ``torch.initial_seed()``, so :func:`cnnlab.config.seed_everything` governs it). This is
      what makes a resumed run match an uninterrupted one.
    - ``log_every``: refresh the bar's running loss/accuracy every this many batches (each refresh
      waits for the GPU).

    Under ``torchrun`` the process group is started if needed (NCCL on CUDA, gloo on CPU),
    each worker gets its share of every epoch (``train_loader``'s batch size is per worker),
    metrics are averaged over workers, and only rank 0 writes checkpoints and shows bars.
    The model keeps its final weights (not the best ones) when ``fit`` returns.
    """
    _check_fit_args(model, train_loader, val_loader, epochs, lr, optimizer, log_every)
    distributed = is_distributed()
    device = _training_device(device, distributed)
    amp = device.type == "cuda" if amp is None else amp
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr or DEFAULT_LR, momentum=0.9)
    if scheduler is not None and not isinstance(scheduler, LRScheduler):
        scheduler = scheduler(optimizer)
    if scheduler is not None and scheduler.optimizer is not optimizer:
        raise ValueError("scheduler drives another optimizer than the one fit uses; pass that "
                         "optimizer too, or pass a function that builds the scheduler from it.")
    # GradScaler guards float16 gradients; CPU autocast uses bfloat16, which needs no scaling.
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")

    history, start = History(), 0
    saved = None
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)
    if directory is not None:
        saved = _open_checkpoint_dir(directory, model, resume, epochs)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved["scheduler"] is not None:
            scheduler.load_state_dict(saved["scheduler"])
        if saved["scaler"]:  # empty when saved by a disabled (CPU) scaler
            scaler.load_state_dict(saved["scaler"])
        history, start, seed = History.from_dict(saved["history"]), saved["epoch"], saved["seed"]
        if rank() == 0:  # a learner re-running a cell should know the epochs were not retrained
            print(f"fit: resumed from {directory / LAST} after epoch {start} of {epochs}"
                  + (", nothing left to train." if start == epochs else "."), flush=True)
    seed = _shared_seed(seed, distributed)
    world = dist.get_world_size() if distributed else 1
    train_loader = _ordered_by_epoch(train_loader, seed, world)
    net = model
    if distributed:
        if val_loader is not None:  # each worker scores its own slice, no example twice
            val_loader = _with_sampler(val_loader, range(rank(), len(val_loader.dataset), world))
        device_ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=device_ids)
        dist.barrier()  # nobody starts until every worker has read the checkpoint it resumes
    if saved is not None:
        _set_rng_state(saved["rng"], world)

    loop = _Loop(device, loss_fn or nn.CrossEntropyLoss(), amp, channels_last,
                 progress and rank() == 0, log_every, distributed)
    with progress_bar(total=epochs, initial=start, desc="fit", unit="epoch", disable=not loop.show) as bar:
        for epoch in range(start, epochs):
            began = time.perf_counter()
            if hasattr(train_loader.sampler, "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            train_loss, train_acc = loop.run(net, train_loader, f"epoch {epoch + 1} train",
                                             optimizer, scaler)
            if distributed:  # BatchNorm statistics drift apart per worker; keep rank 0's
                for buffer in model.buffers():
                    dist.broadcast(buffer, src=0)
            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            improved = True
            if val_loader is not None:
                val_loss, val_acc = loop.run(model, val_loader, f"epoch {epoch + 1} val")
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                improved = history.best_val_acc is None or val_acc > history.best_val_acc
                if improved:
                    history.best_val_acc, history.best_epoch = val_acc, epoch + 1
            history.epoch_seconds.append(time.perf_counter() - began)
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(history.val_loss[-1] if val_loader is not None else train_loss)
            elif scheduler is not None:
                scheduler.step()
            if directory is not None:
                _save_checkpoints(directory, improved, {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": None if scheduler is None else scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "epoch": epoch + 1,  # epochs done = the sampler epoch to start from
                    "seed": seed,
                    "history": history.as_dict(),
                    "rng": _gather_rng_states(distributed),
                })
            bar.set_postfix(_summary(history))
            bar.update()

    if directory is not None:
        if distributed:
            dist.barrier()  # rank 0 has written best.pt
        history.checkpoint = directory / BEST
        history.checkpoint_bytes = history.checkpoint.stat().st_size
    return history


def resnet_recipe(model: nn.Module, *, lr: float = 0.1, weight_decay: float = 1e-4,
                  patience: int = 10) -> tuple[torch.optim.SGD, ReduceLROnPlateau]:
    """ResNet's training recipe, as the lecture gives it (seed 004): SGD with momentum 0.9 from
    ``lr`` 0.1, divided by 10 when the validation loss stops falling for ``patience`` epochs,
    and weight decay; batch norm after every conv, no dropout (the model's part).

    Returns ``(optimizer, scheduler)`` for :func:`fit`'s ``optimizer`` and ``scheduler``.
    The weight decay is He et al.'s 1e-4 (2015, sec. 3.4); the lecture's slide prints 1e-5.
    """
    if not lr > 0 or weight_decay < 0:
        raise ValueError(f"lr must be > 0 and weight_decay >= 0, got lr={lr!r}, "
                         f"weight_decay={weight_decay!r}.")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                                weight_decay=weight_decay)
    return optimizer, ReduceLROnPlateau(optimizer, factor=0.1,
                                        patience=integer("patience", patience, minimum=0))


def first_layer_gradient(model: nn.Module, *, batch: int = 4, seed: int = 0,
                         input_size: Sequence[int] = (3, 32, 32), num_classes: int = 10,
                         loss_fn: Callable[..., torch.Tensor] = F.cross_entropy,
                         input_scale: float = 1.0) -> float:
    """The norm of the loss gradient reaching ``model``'s first convolution's weight, at
    initialisation: one batch of random images and labels, cross-entropy, one backward pass.

    A probe of the degradation problem that holds in seconds: a signal that has to cross every
    layer to reach the first one shrinks or blows up with depth unless shortcuts carry it.
    ``seed`` fixes the batch; the model keeps its own initialisation. Batch norms use the
    batch's statistics (train mode). ``loss_fn(outputs, labels)``: e.g.
    :func:`cnnlab.models.googlenet.inception_loss` for a model with auxiliary heads.
    ``input_scale`` multiplies the images: large inputs drive saturating units (tanh) into
    their flat tails, where little gradient gets through.
    """
    if not input_scale > 0:
        raise ValueError(f"input_scale must be > 0, got {input_scale!r}.")
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise ValueError("first_layer_gradient needs a model with an nn.Conv2d.")
    generator = torch.Generator().manual_seed(integer("seed", seed, minimum=0))
    X = input_scale * torch.randn(integer("batch", batch), *input_size, generator=generator)
    y = torch.randint(num_classes, (batch,), generator=generator)
    model.train()
    model.zero_grad(set_to_none=True)
    loss_fn(model(X), y).backward()
    norm = first.weight.grad.norm().item()
    model.zero_grad(set_to_none=True)
    return norm


@dataclass
class _Loop:
    """Settings shared by every batch of one ``fit`` call."""

    device: torch.device
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    amp: bool
    channels_last: bool
    show: bool
    log_every: int
    distributed: bool

    def run(self, net: nn.Module, loader: Iterable, desc: str,
            optimizer: torch.optim.Optimizer | None = None,
            scaler: torch.amp.GradScaler | None = None,
            on_batch: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
            ) -> tuple[float, float]:
        """One pass over ``loader`` (training when an optimizer is given): mean loss, accuracy %.

        ``on_batch(loss, logits, targets)`` sees every batch, for records finer than the pass.
        """
        training = optimizer is not None
        net.train(training)
        # Summed on the device and read back only every `log_every` batches, to avoid GPU stalls.
        loss_sum, correct, count = torch.zeros(3, dtype=torch.float64, device=self.device)
        amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        with (torch.set_grad_enabled(training),
              progress_bar(loader, desc=desc, unit="batch", leave=False, disable=not self.show) as bar):
            for step, batch in enumerate(bar, 1):
                inputs, targets = _to_device(batch, self.device, self.channels_last)
                with torch.autocast(self.device.type, dtype=amp_dtype, enabled=self.amp):
                    outputs = net(inputs)
                    loss = self.loss_fn(outputs, targets)
                # A model with auxiliary heads returns them in training; accuracy is the main one's.
                logits = getattr(outputs, "logits", outputs)
                if training:
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                if on_batch is not None:
                    on_batch(loss.detach(), logits.detach(), targets)
                loss_sum += loss.detach() * len(targets)
                correct += (logits.argmax(1) == targets).sum()
                count += len(targets)
                if step % self.log_every == 0:
                    bar.set_postfix(loss=f"{loss_sum.item() / count.item():.3f}",
                                    acc=f"{100 * correct.item() / count.item():.1f}%")
        totals = torch.stack([loss_sum, correct, count])
        if self.distributed:
            dist.all_reduce(totals)
        loss_sum, correct, count = totals.tolist()
        return loss_sum / count, 100 * correct / count


@dataclass
class Run:
    """One controlled run: the training loss and error (%) of every iteration's batch.

    Each batch's error is measured on its forward pass, just before the weights are updated,
    so it is the error on data the model has not yet been trained on in this step.
    """

    model: nn.Module = field(repr=False)
    losses: list[float]
    errors: list[float]
    seconds: float

    def running_error(self, window: int) -> list[float]:
        """Mean error of the last ``window`` batches at every iteration (fewer at the start)."""
        window = integer("window", window)
        return [statistics.fmean(self.errors[max(0, i + 1 - window):i + 1])
                for i in range(len(self.errors))]

    def iterations_to(self, target_error: float, window: int) -> int | None:
        """First iteration (counting from 1) at which the running error is at most
        ``target_error`` percent; None when the run never got there."""
        if not 0 <= target_error <= 100:
            raise ValueError(f"target_error is a percentage in [0, 100], got {target_error!r}.")
        for iteration, error in enumerate(self.running_error(window), 1):
            if iteration >= window and error <= target_error:
                return iteration
        return None


class _Iterations:
    """Exactly ``count`` batches of ``loader``, starting it again (a new epoch) as often as needed."""

    def __init__(self, loader: DataLoader, count: int):
        self.loader, self.count = loader, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return itertools.islice(itertools.chain.from_iterable(itertools.repeat(self.loader)),
                                self.count)


def controlled_run(
    make_model: Callable[[], nn.Module],
    dataset: Dataset,
    *,
    iterations: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> Run:
    """Seed, build, and train with SGD for exactly ``iterations`` batches; the :class:`Run`.

    Seeding first makes variants comparable: the same ``seed`` gives the same initial weights
    for the same architecture and the same batch order over the same dataset. Epochs restart
    as often as needed (the last incomplete batch of each is dropped). The step is ``fit``'s,
    in float32 on every device (no autocast), so variants differ only in what they change.
    ``loss_fn``: default cross-entropy, e.g. ``nn.CrossEntropyLoss(label_smoothing=0.1)`` or
    :func:`cnnlab.models.googlenet.inception_loss` (the recorded errors are the main head's).
    """
    if isinstance(make_model, nn.Module) or not callable(make_model):
        raise TypeError("make_model must be a function that returns a fresh nn.Module, e.g. "
                        "partial(models.create, 'small_cnn', activation='tanh').")
    iterations = integer("iterations", iterations)
    batch_size = integer("batch_size", batch_size)
    if len(dataset) < batch_size:
        raise ValueError(f"dataset has {len(dataset)} examples, fewer than one batch of "
                         f"{batch_size}; use a smaller batch_size.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}.")
    config.seed_everything(seed)
    model = make_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"make_model returned {type(model).__name__}, not an nn.Module.")
    device = config.device(device)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                weight_decay=weight_decay)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    losses, wrong = [], []

    def record(loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        losses.append(loss)
        wrong.append((logits.argmax(1) != targets).float().mean())

    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    loop = _Loop(device, loss_fn, amp=False, channels_last=False, show=progress,
                 log_every=10, distributed=False)
    began = time.perf_counter()
    loop.run(model, _Iterations(loader, iterations), "train", optimizer,
             torch.amp.GradScaler(device.type, enabled=False), on_batch=record)
    return Run(model=model.eval(), losses=torch.stack(losses).tolist(),
               errors=(100 * torch.stack(wrong)).tolist(), seconds=time.perf_counter() - began)


@dataclass
class Evaluation:
    """Scores of a model on one loader (accuracies in %).

    ``per_class`` holds ``(class name, accuracy or None if absent, count)``; ``confusion[i, j]``
    counts examples of true class ``i`` predicted as ``j``. ``top5`` is None under 5 classes.
    """

    top1: float
    top5: float | None
    loss: float
    per_class: list[tuple[str, float | None, int]]
    confusion: torch.Tensor

    @property
    def classes(self) -> list[str]:
        """Class names in label order (the confusion matrix's row and column order)."""
        return [name for name, _, _ in self.per_class]

    def _headline(self) -> str:
        top5 = "" if self.top5 is None else f" · top-5 {self.top5:.2f}%"
        examples = int(self.confusion.sum())
        return f"top-1 {self.top1:.2f}%{top5} · loss {self.loss:.4f} · {examples} examples"

    def _table(self) -> Table:
        """Every class, or the weakest and strongest when there are too many to read."""
        rows = self.per_class
        note = ""
        if len(rows) > MAX_TABLE_ROWS:
            present = sorted((row for row in rows if row[1] is not None), key=lambda row: row[1])
            half = MAX_TABLE_ROWS // 4
            rows = present if len(present) <= 2 * half else present[:half] + present[-half:]
            note = (f"{len(rows)} of {len(self.per_class)} classes, lowest and highest accuracy; "
                    "all of them are in .per_class")
        shown = [{"class": name, "accuracy": "n/a" if acc is None else acc, "count": count}
                 for name, acc, count in rows]
        return Table(shown, title=self._headline(), formats={"accuracy": "{:.1f}%"}, notes=note)

    def __str__(self) -> str:
        return str(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent (as the course's tables print it): rows whose highest logit is at
    the true label."""
    return 100 * (logits.argmax(dim=1) == labels).float().mean().item()


def evaluate(
    model: nn.Module,
    loader: DataLoader,
    *,
    classes: Sequence[str] | None = None,
    ten_crop: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Evaluation:
    """Score ``model`` on ``loader`` with cross-entropy, top-1/top-5 and per-class accuracy.

    Items may be single images (C x H x W) or stacks of crops (crops x C x H x W, from
    :func:`cnnlab.data.alexnet_transforms` with ``train=False``), whose softmax outputs are
    averaged as AlexNet tested; the loss is then that of the averaged probabilities.
    ``ten_crop=side`` cuts single images into those ten crops (four corners, the centre and their
    mirrors) batch by batch, which is much cheaper than cropping each image with PIL.
    ``classes`` defaults to ``loader.dataset.classes`` when the dataset has it, else "0", "1", ...
    ``device`` defaults to where the model already is; naming one moves the model there.
    The model's train/eval mode is restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    _check_loader("loader", loader)
    if ten_crop is not None:
        integer("ten_crop", ten_crop)
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    else:
        device = config.device(device)
        model.to(device)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    ranked, truth = [], []
    try:
        with torch.inference_mode():
            for batch in progress_bar(loader, desc="evaluate", unit="batch", leave=False,
                              disable=not progress):
                inputs, targets = _to_device(batch, device, channels_last=False)
                if ten_crop is not None:
                    if inputs.dim() != 4:
                        raise ValueError("ten_crop needs items that are single images "
                                         f"(C x H x W), got batches of {tuple(inputs.shape)}.")
                    inputs = torch.stack(TF.ten_crop(inputs, [ten_crop, ten_crop]), dim=1)
                if inputs.dim() == 5:
                    scores = data.ten_crop_predict(model, inputs).float()
                    log_scores = scores.clamp_min(torch.finfo(scores.dtype).tiny).log()
                    loss_sum += F.nll_loss(log_scores, targets, reduction="sum")
                else:
                    scores = model(inputs).float()
                    loss_sum += F.cross_entropy(scores, targets, reduction="sum")
                num_classes = scores.shape[1]
                ranked.append(scores.topk(min(5, num_classes), dim=1).indices.cpu())
                truth.append(targets.cpu())
    finally:
        model.train(was_training)
    ranked, truth = torch.cat(ranked), torch.cat(truth)
    names = classes if classes is not None else getattr(loader.dataset, "classes", None)
    names = [str(label) for label in range(num_classes)] if names is None else list(names)
    if len(names) != num_classes:
        raise ValueError(f"classes has {len(names)} names but the model outputs {num_classes} "
                         "scores per example; pass one name per output.")
    hits = ranked == truth[:, None]
    confusion = torch.bincount(truth * num_classes + ranked[:, 0], minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes)
    per_class = [
        (name, 100 * hit / count if count else None, count)
        for name, hit, count in zip(names, confusion.diagonal().tolist(),
                                    confusion.sum(1).tolist(), strict=True)
    ]
    return Evaluation(  # counts, then one division: the same floats as fit's accuracies
        top1=100 * hits[:, 0].sum().item() / len(truth),
        top5=100 * hits.any(1).sum().item() / len(truth) if num_classes >= 5 else None,
        loss=loss_sum.item() / len(truth),
        per_class=per_class,
        confusion=confusion,
    )


def _check_fit_args(model, train_loader, val_loader, epochs, lr, optimizer, log_every) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    if not is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    if lr is not None and optimizer is not None:
        raise ValueError("pass either lr (fit builds SGD with it) or optimizer, not both; "
                         "set the learning rate on your optimizer instead.")
    if lr is not None and not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r} (try 0.1, 0.01 or 0.001).")
    if not is_int(log_every) or log_every < 1:
        raise ValueError(f"log_every must be a whole number >= 1, got {log_every!r}.")
    _check_loader("train_loader", train_loader)
    if val_loader is not None:
        _check_loader("val_loader", val_loader)


def _check_loader(name: str, loader: DataLoader) -> None:
    if not isinstance(loader, DataLoader):
        raise TypeError(f"{name} must be a torch.utils.data.DataLoader, "
                        f"not {type(loader).__name__}.")
    try:
        batches = len(loader)
    except TypeError:
        raise TypeError(f"{name} must have a length (a map-style dataset, or an IterableDataset "
                        "with __len__) so progress and epochs can be counted.") from None
    if batches == 0:
        raise ValueError(f"{name} yields no batches: its dataset is empty, or smaller than one "
                         "batch with drop_last=True.")


def _to_device(batch, device: torch.device, channels_last: bool):
    """Move an ``(inputs, targets)`` batch to ``device``."""
    if not (isinstance(batch, Sequence) and len(batch) == 2):
        raise TypeError("loaders must yield (inputs, targets) pairs, e.g. from a TensorDataset "
                        "of images and integer labels.")
    inputs, targets = (part.to(device, non_blocking=True) for part in batch)
    if channels_last and inputs.dim() == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs, targets


def _training_device(requested, distributed: bool) -> torch.device:
    """Pick the device; under torchrun, one GPU per worker and an initialised process group."""
    device = config.device(requested)
    if not distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def _shared_seed(seed: int | None, distributed: bool) -> int:
    """The shuffling seed; rank 0's wins so every worker draws the same permutation."""
    if seed is None:
        seed = torch.initial_seed() % 2**62  # headroom for the sampler's seed + epoch
    if distributed:
        box = [seed]
        dist.broadcast_object_list(box, src=0)
        seed = box[0]
    return seed


def _ordered_by_epoch(loader: DataLoader, seed: int, world: int) -> DataLoader:
    """A loader whose order depends on (seed, epoch) only, split across ``world`` workers.

    A plain shuffling loader draws its order from the global RNG, so an interrupted run would
    see different batches after resuming; DistributedSampler seeds from ``seed + epoch`` instead.
    """
    if isinstance(loader.sampler, RandomSampler | SequentialSampler) and loader.batch_size:
        sampler = DistributedSampler(loader.dataset, num_replicas=world, rank=rank(),
                                     shuffle=isinstance(loader.sampler, RandomSampler), seed=seed)
        return _with_sampler(loader, sampler)
    if world > 1:
        raise ValueError("under torchrun, fit splits the data itself: build train_loader with "
                         "batch_size and shuffle=True/False, without a custom sampler.")
    return loader


def _with_sampler(loader: DataLoader, sampler) -> DataLoader:
    """The same loader, drawing indices from ``sampler``."""
    return DataLoader(
        loader.dataset, batch_size=loader.batch_size, sampler=sampler,
        num_workers=loader.num_workers, collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory, drop_last=loader.drop_last, timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context, generator=loader.generator,
        prefetch_factor=loader.prefetch_factor, persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device, in_order=loader.in_order,
    )


def _open_checkpoint_dir(directory: Path, model: nn.Module, resume: bool, epochs: int):
    """``last.pt``'s contents when resuming, else None after moving any old files aside."""
    last = directory / LAST
    if resume and last.exists():
        saved = torch.load(last, map_location="cpu", weights_only=True)
        _check_same_model(saved["model"], model.state_dict(), directory)
        if saved["epoch"] > epochs:
            raise ValueError(
                f"{last} has already trained {saved['epoch']} epochs, more than epochs={epochs}; "
                "ask for at least that many, pass resume=False, or use another checkpoint_dir."
            )
        return saved
    if rank() == 0:
        directory.mkdir(parents=True, exist_ok=True)
        _move_aside(directory)
    return None


def _check_same_model(saved: dict, current: dict, directory: Path) -> None:
    saved_shapes = {key: tuple(value.shape) for key, value in saved.items()}
    current_shapes = {key: tuple(value.shape) for key, value in current.items()}
    if saved_shapes == current_shapes:
        return
    differences = [f"missing {key}" for key in current_shapes.keys() - saved_shapes.keys()]
    differences += [f"extra {key}" for key in saved_shapes.keys() - current_shapes.keys()]
    differences += [
        f"{key} is {saved_shapes[key]} there, {shape} here"
        for key, shape in current_shapes.items()
        if key in saved_shapes and saved_shapes[key] != shape
    ]
    raise CheckpointMismatchError(
        f"{directory} holds a {LAST} from a different model ({'; '.join(sorted(differences)[:3])}"
        f"{'; ...' if len(differences) > 3 else ''}). Nothing was changed. Use a new "
        "checkpoint_dir for this model, or resume=False to start afresh there (the old files "
        "are kept under timestamped names)."
    )


def _move_aside(directory: Path) -> None:
    """Rename an earlier run's last.pt/best.pt to last.<time>.pt/best.<time>.pt."""
    present = [directory / name for name in (LAST, BEST) if (directory / name).exists()]
    if not present:
        return
    base = time.strftime("%Y%m%d-%H%M%S")
    for stamp in itertools.chain([base], (f"{base}-{n}" for n in itertools.count(1))):
        targets = [path.with_name(f"{path.stem}.{stamp}.pt") for path in present]
        if not any(target.exists() for target in targets):
            break
    for path, target in zip(present, targets, strict=True):
        os.replace(path, target)


def _save_checkpoints(directory: Path, improved: bool, state: dict) -> None:
    if rank() != 0:
        return
    if improved:
        _save_atomic(state["model"], directory / BEST)
    _save_atomic(state, directory / LAST)


def _save_atomic(obj, path: Path) -> None:
    """Write to a temporary file then rename, so a crash never leaves a half-written checkpoint."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        torch.save(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _rng_state() -> dict:
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, keys.tolist(), position, has_gauss, gauss),  # loadable with weights_only
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _gather_rng_states(distributed: bool) -> list[dict]:
    """Every worker's RNG state, indexed by rank (dropout and augmentation differ per worker)."""
    if not distributed:
        return [_rng_state()]
    states = [None] * dist.get_world_size()
    dist.all_gather_object(states, _rng_state())
    return states


def _set_rng_state(states: list[dict], world: int) -> None:
    """Continue each worker's random streams; a run resumed on a different world size cannot."""
    if len(states) != world:
        return
    state = states[rank()]
    random.setstate(state["python"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _summary(history: History) -> dict[str, str]:
    summary = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_acc[-1]:.1f}%"}
    if history.val_acc:
        summary["val_acc"] = f"{history.val_acc[-1]:.1f}%"
    return summary


# --------------------------------------------------------------------------------------------
# pix2pix: a conditional GAN step on fit's checkpoint, resume, progress and DDP machinery
# --------------------------------------------------------------------------------------------


@dataclass
class GANHistory:
    """What :func:`fit_gan` measured: per-epoch means of the discriminator's loss and the
    generator's two terms, and every step's L1 (to watch it fall within a short run)."""

    d_loss: list[float] = field(default_factory=list)
    g_gan: list[float] = field(default_factory=list)
    g_l1: list[float] = field(default_factory=list)
    step_l1: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> GANHistory:
        return cls(**values)


def gan_step(generator: nn.Module, discriminator: nn.Module, source: torch.Tensor,
             target: torch.Tensor, optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
             l1_weight: float = 100.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One pix2pix update (Isola et al., 2017): the discriminator learns to tell (source, target)
    from (source, G(source)) patch by patch, then the generator learns to fool it while staying
    within L1 of the target: ``min_G max_D  L_cGAN(G, D) + l1_weight * L1(G)``.

    The discriminator's loss is halved, as in the reference, to slow it against the generator.
    Returns the detached ``(d_loss, g_gan, g_l1)``.
    """
    opt_g, opt_d = optimizers
    fake = generator(source)
    real_logits = discriminator(torch.cat([source, target], 1))
    fake_logits = discriminator(torch.cat([source, fake.detach()], 1))
    d_loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    fooled = discriminator(torch.cat([source, fake], 1))
    g_gan = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
    g_l1 = F.l1_loss(fake, target)
    opt_g.zero_grad(set_to_none=True)
    (g_gan + l1_weight * g_l1).backward()  # also fills D's grads; its next step zeroes them
    opt_g.step()
    return d_loss.detach(), g_gan.detach(), g_l1.detach()


def fit_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    train_loader: DataLoader,
    *,
    epochs: int,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    l1_weight: float = 100.0,
    device: str | torch.device | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
    log_every: int = 10,
    seed: int | None = None,
    on_epoch: Callable[[int, nn.Module], None] | None = None,
) -> GANHistory:
    """Train a pix2pix pair in place on ``(source, target)`` batches; return a :class:`GANHistory`.

    Adam at ``lr`` 2e-4, betas (0.5, 0.999) and ``l1_weight`` 100 are the reference defaults.
    ``checkpoint_dir``, ``resume``, ``seed``, ``progress`` and torchrun behave as in :func:`fit`:
    ``last.pt`` holds both networks, both optimizers and every RNG, so an interrupted run
    continues to the same weights as an uninterrupted one. ``on_epoch(epoch, generator)`` runs
    after each epoch (e.g. to draw a sample grid); the generator is in eval mode there.
    """
    _check_fit_args(generator, train_loader, None, epochs, lr, None, log_every)
    if not isinstance(discriminator, nn.Module):
        raise TypeError(f"discriminator must be a torch.nn.Module, not "
                        f"{type(discriminator).__name__}.")
    distributed = is_distributed()
    device = _training_device(device, distributed)
    pair = nn.ModuleDict({"generator": generator, "discriminator": discriminator}).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)

    history, start, saved = GANHistory(), 0, None
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)
    if directory is not None:
        saved = _open_checkpoint_dir(directory, pair, resume, epochs)
    if saved is not None:
        pair.load_state_dict(saved["model"])
        opt_g.load_state_dict(saved["optimizer"]["generator"])
        opt_d.load_state_dict(saved["optimizer"]["discriminator"])
        history, start, seed = GANHistory.from_dict(saved["history"]), saved["epoch"], saved["seed"]
        if rank() == 0:
            print(f"fit_gan: resumed from {directory / LAST} after epoch {start} of {epochs}"
                  + (", nothing left to train." if start == epochs else "."), flush=True)
    seed = _shared_seed(seed, distributed)
    world = dist.get_world_size() if distributed else 1
    train_loader = _ordered_by_epoch(train_loader, seed, world)
    g_net, d_net = generator, discriminator
    if distributed:
        device_ids = [device.index] if device.type == "cuda" else None
        g_net = DistributedDataParallel(generator, device_ids=device_ids)
        d_net = DistributedDataParallel(discriminator, device_ids=device_ids)
        dist.barrier()
    if saved is not None:
        _set_rng_state(saved["rng"], world)

    show = progress and rank() == 0
    with progress_bar(total=epochs, initial=start, desc="fit_gan", unit="epoch",
                      disable=not show) as bar:
        for epoch in range(start, epochs):
            began = time.perf_counter()
            if hasattr(train_loader.sampler, "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            pair.train()
            sums = torch.zeros(3, dtype=torch.float64, device=device)
            with progress_bar(train_loader, desc=f"epoch {epoch + 1}", unit="batch", leave=False,
                              disable=not show) as batches:
                for step, batch in enumerate(batches, 1):
                    source, target = _to_device(batch, device, False)
                    losses = torch.stack(gan_step(g_net, d_net, source, target, (opt_g, opt_d),
                                                  l1_weight))
                    sums += losses
                    history.step_l1.append(losses[2].item())
                    if step % log_every == 0:
                        batches.set_postfix(l1=f"{losses[2].item():.3f}")
            if distributed:
                dist.all_reduce(sums)
                sums /= world
                for buffer in pair.buffers():
                    dist.broadcast(buffer, src=0)
            for name, total in zip(("d_loss", "g_gan", "g_l1"), sums.tolist(), strict=True):
                getattr(history, name).append(total / len(train_loader))
            history.epoch_seconds.append(time.perf_counter() - began)
            if directory is not None:
                _save_checkpoints(directory, True, {
                    "model": pair.state_dict(),
                    "optimizer": {"generator": opt_g.state_dict(),
                                  "discriminator": opt_d.state_dict()},
                    "epoch": epoch + 1, "seed": seed, "history": history.as_dict(),
                    "rng": _gather_rng_states(distributed),
                })
            if on_epoch is not None and rank() == 0:
                generator.eval()
                with torch.no_grad():
                    on_epoch(epoch + 1, generator)
            bar.set_postfix(l1=f"{history.g_l1[-1]:.3f}", d=f"{history.d_loss[-1]:.3f}")
            bar.update()
    return history


def pixel_accuracy(fake: torch.Tensor, real: torch.Tensor, tolerance: float = 0.05) -> torch.Tensor:
    """Per-pixel accuracy of each image of a batch, in %: the share of pixels whose colour is
    within ``tolerance`` of the target's in every channel (on [0, 1]; images in pix2pix's
    [-1, 1] are compared at half the difference).

    Seed 002 reports this metric (table 13) without saying its threshold; 0.05 (about 13 of 255
    levels) is ours. ``fake`` and ``real`` are N x C x H x W in [-1, 1]; returns N values.
    """
    if fake.shape != real.shape or fake.dim() != 4:
        raise ValueError(f"fake and real must be two N x C x H x W batches of the same shape, got "
                         f"{tuple(fake.shape)} and {tuple(real.shape)}.")
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance is a colour difference on [0, 1], got {tolerance!r}.")
    close = ((fake - real).abs() / 2 <= tolerance).all(dim=1)
    return 100 * close.flatten(1).float().mean(1)


def mean_interval(values: Sequence[float] | torch.Tensor, z: float = 1.96) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval, ``z s / sqrt(n)`` (normal
    approximation, fine from about 30 values), as seed 002's ``62.18 +- 0.58``."""
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if len(values) < 2:
        raise ValueError(f"an interval needs at least 2 values, got {len(values)}.")
    return values.mean().item(), (z * values.std() / len(values) ** 0.5).item()
