"""The small, controlled experiments of notebooks 02 and 03, and the pieces they are made of.

A controlled experiment changes one thing and keeps the rest: :func:`train_run` seeds everything
before it builds the model, so two variants of the same architecture start from the same weights,
see the same batches in the same order and draw the same dropout masks and augmentations where
they can. It records the training error of every iteration, which is what seed 001's ReLU-vs-tanh
figure plots (iterations until 25% training error), not only one number per epoch.

Also here: :func:`small_cnn`, the four-layer network those experiments train; :class:`Transformed`
and :func:`as_tensors`, so one set of images serves several experiments and deterministic
transforms run once; :func:`accuracy`, with AlexNet's ten-crop testing; and the pretrained-photo
demo (:func:`photos_to_classify`, :func:`classify_photos`, :func:`show_predictions`), which says
where the weights go when absent.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision.transforms import functional as TF
from tqdm.auto import tqdm

from cnnlab import arithmetic, config, data, pretrained
from cnnlab.checks import integer

__all__ = [
    "Run",
    "Transformed",
    "accuracy",
    "as_tensors",
    "classify_photos",
    "photos_to_classify",
    "plot_running_error",
    "show_predictions",
    "small_cnn",
    "train_run",
]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


def small_cnn(
    *,
    activation: str = "relu",
    pool_kernel: int = 3,
    pool_stride: int = 2,
    dropout: float = 0.0,
    widths: tuple[int, int] = (16, 32),
    hidden: int = 64,
    image_size: int = 32,
    num_classes: int = 10,
    in_channels: int = 3,
) -> nn.Sequential:
    """Four layers with weights: two 5x5 convolutions, each pooled, then two fully connected.

    The knobs are the ones AlexNet argued about. ``pool_kernel=3, pool_stride=2`` is its
    overlapping pooling, ``pool_kernel=2`` the traditional kind; the pooling is padded by
    ``(pool_kernel - 1) // 2`` so both give the same map sizes and the same parameter count.
    ``dropout`` applies to the hidden fully connected layer's output, as AlexNet's FC6/FC7.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not known; use one of "
                         f"{', '.join(ACTIVATIONS)}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}.")
    if len(widths) != 2:
        raise ValueError(f"widths must hold the two convolutions' channel counts, got {widths!r}.")
    for name, value in [("pool_kernel", pool_kernel), ("pool_stride", pool_stride),
                        ("hidden", hidden), ("image_size", image_size),
                        ("num_classes", num_classes), ("in_channels", in_channels),
                        *zip(("widths[0]", "widths[1]"), widths, strict=True)]:
        integer(name, value)
    act = ACTIVATIONS[activation]
    padding = (pool_kernel - 1) // 2
    side = image_size
    for _ in range(2):
        side = arithmetic.conv_output_size(side, pool_kernel, pool_stride, padding)
    return nn.Sequential(
        nn.Conv2d(in_channels, widths[0], 5, padding=2), act(),
        nn.MaxPool2d(pool_kernel, pool_stride, padding),
        nn.Conv2d(widths[0], widths[1], 5, padding=2), act(),
        nn.MaxPool2d(pool_kernel, pool_stride, padding),
        nn.Flatten(),
        nn.Linear(widths[1] * side * side, hidden), act(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


# --------------------------------------------------------------------------------------------
# training runs
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One training run: the training loss and error (%) of every iteration's batch.

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


def train_run(
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
) -> Run:
    """Seed, build, and train with SGD for exactly ``iterations`` batches; the :class:`Run`.

    Seeding first makes variants comparable: the same ``seed`` gives the same initial weights
    for the same architecture and the same batch order over the same dataset. Epochs restart
    as often as needed (the last incomplete batch of each is dropped).
    """
    if isinstance(make_model, nn.Module) or not callable(make_model):
        raise TypeError("make_model must be a function that returns a fresh nn.Module, e.g. "
                        "lambda: small_cnn(activation='tanh').")
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
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                weight_decay=weight_decay)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    losses, wrong = [], []
    began = time.perf_counter()
    with tqdm(total=iterations, desc="train", unit="it", leave=False, disable=not progress) as bar:
        while len(losses) < iterations:
            for inputs, targets in loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits = model(inputs)
                loss = F.cross_entropy(logits, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
                wrong.append((logits.detach().argmax(1) != targets).float().mean())
                bar.update()
                if len(losses) == iterations:
                    break
    return Run(model=model.eval(), losses=torch.stack(losses).tolist(),
               errors=(100 * torch.stack(wrong)).tolist(), seconds=time.perf_counter() - began)


class Transformed(Dataset):
    """``dataset``'s items with ``transform`` applied to their images, drawn afresh per access.

    One set of images (generated or decoded once) can then serve several experiments: plain
    crops, random augmentation, normalised tensors.
    """

    def __init__(self, dataset: Dataset, transform: Callable):
        if not callable(transform):
            raise TypeError(f"transform must be callable (e.g. a torchvision transform), not "
                            f"{type(transform).__name__}.")
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        return self.transform(image), label


def as_tensors(dataset: Dataset) -> TensorDataset:
    """``dataset`` with its transforms run once: all images in one tensor, labels in another.

    Deterministic transforms (crops, normalisation) then cost nothing per epoch or per
    evaluation; keep random augmentation in the original dataset.
    """
    if len(dataset) == 0:
        raise ValueError("dataset is empty: there is nothing to stack.")
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    if not isinstance(images[0], torch.Tensor):
        raise TypeError(f"dataset items must be tensors to stack, got {type(images[0]).__name__}; "
                        "give the dataset a transform that ends with ToTensor.")
    return TensorDataset(torch.stack(images), torch.as_tensor(labels))


def accuracy(
    model: nn.Module,
    dataset: Dataset,
    *,
    ten_crop: int | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> float:
    """Top-1 accuracy (%) of ``model`` on ``dataset``, in eval mode.

    Items may be single images (C x H x W) or stacks of crops (crops x C x H x W, from
    ``cnnlab.data.alexnet_transforms(name, train=False)``), whose softmax outputs are averaged as
    AlexNet tested. ``ten_crop=side`` cuts single images into those ten crops (four corners, the
    centre and their mirrors) batch by batch, which is much cheaper than cropping each image
    with PIL. The model's mode is restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, not {type(model).__name__}.")
    if len(dataset) == 0:
        raise ValueError("dataset is empty: there is nothing to score.")
    if ten_crop is not None:
        integer("ten_crop", ten_crop)
    device = next(model.parameters()).device if device is None else config.device(device)
    was_training = model.training
    model.to(device).eval()
    correct = 0
    try:
        with torch.no_grad():
            for inputs, targets in DataLoader(dataset, batch_size=batch_size):
                inputs, targets = inputs.to(device), targets.to(device)
                if ten_crop is not None:
                    if inputs.dim() != 4:
                        raise ValueError("ten_crop needs items that are single images "
                                         f"(C x H x W), got batches of {tuple(inputs.shape)}.")
                    inputs = torch.stack(TF.ten_crop(inputs, [ten_crop, ten_crop]), dim=1)
                if inputs.dim() == 5:
                    scores = data.ten_crop_predict(model, inputs)
                else:
                    scores = model(inputs)
                correct += (scores.argmax(1) == targets).sum().item()
    finally:
        model.train(was_training)
    return 100 * correct / len(dataset)


def plot_running_error(
    runs: Mapping[str, Run],
    *,
    window: int,
    target_error: float | None = None,
    title: str = "Training error",
):
    """Running training error against iterations, one line per run; the target as a line."""
    import matplotlib.pyplot as plt  # here, so the grader can import this module cheaply

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, run in runs.items():
        ax.plot(range(1, len(run.errors) + 1), run.running_error(window), label=label)
    if target_error is not None:
        ax.axhline(target_error, color="grey", linestyle="--", label=f"{target_error:g}% target")
    ax.set(xlabel="iteration (one batch each)",
           ylabel=f"training error, mean of last {window} batches (%)", title=title,
           ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# augmentation
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# classifying photos with ImageNet weights (seed 001's experiment)
# --------------------------------------------------------------------------------------------


def photos_to_classify(folder: str | Path | None = None) -> dict[str, Image.Image]:
    """matplotlib's sample photograph (grace_hopper.jpg) and the JPEG/PNG files in ``folder``.

    ``folder`` defaults to ``data/photos`` (see :func:`cnnlab.config.data_dir`); a missing or
    empty folder is fine, since the sample photograph is always there.
    """
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        photos = {"grace_hopper.jpg": Image.open(handle).convert("RGB")}
    folder = config.data_dir() / "photos" if folder is None else Path(folder).expanduser()
    if folder.is_dir() and any(p.suffix.lower() in pretrained.PHOTO_SUFFIXES
                               for p in folder.iterdir()):
        photos.update(pretrained.load_photos(folder))
    return photos


def classify_photos(
    photos: Mapping[str, Image.Image],
    *,
    name: str = "alexnet",
    weights_path: str | Path | None = None,
    topk: int = 5,
) -> dict[str, list[tuple[str, float]]] | None:
    """Top-``topk`` ImageNet labels for every photo, or None when the weights file is absent.

    Without weights it prints, in one line, which file to put where, so a notebook can skip the
    part that needs them.
    """
    if not photos:
        raise ValueError("photos is empty; pass at least one {name: PIL image}.")
    try:
        model = pretrained.load_pretrained(name, weights_path)
    except pretrained.WeightsNotFoundError:
        print(f"No ImageNet weights for {name!r}: put {pretrained.weights_file_name(name)} in "
              "data/weights/ (or $CNNLAB_DATA/weights/ if you set CNNLAB_DATA; the README says "
              "how to get the file) to classify photos; skipped.")
        return None
    labels = pretrained.classify(model, list(photos.values()), topk=topk)
    return dict(zip(photos, labels, strict=True))


def show_predictions(
    photos: Mapping[str, Image.Image], predictions: Mapping[str, list[tuple[str, float]]]
):
    """Each photo with its top labels and probabilities beside it."""
    import matplotlib.pyplot as plt

    names = [photo for photo in photos if photo in predictions]
    if not names:
        raise ValueError("predictions names none of the photos; pass classify_photos' result.")
    fig, axes = plt.subplots(len(names), 2, figsize=(9, 2.6 * len(names)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.3]})
    for (picture, bars), photo in zip(axes, names, strict=True):
        picture.imshow(photos[photo])
        picture.set_title(photo, fontsize=9)
        picture.axis("off")
        labels, probabilities = zip(*predictions[photo], strict=True)
        bars.barh(range(len(labels)), [100 * p for p in probabilities], color="tab:blue")
        bars.set_yticks(range(len(labels)), [label[:28] for label in labels], fontsize=8)
        bars.invert_yaxis()
        bars.set(xlabel="probability (%)", xlim=(0, 100))
    fig.suptitle("Top ImageNet labels")
    fig.tight_layout()
    return fig
