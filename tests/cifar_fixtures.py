"""Miniature CIFAR-10 and CIFAR-100 directories in torchvision's on-disk format, for tests.

The files are the pickled dicts torchvision parses, laid out as in the real archives, holding
random pixels and balanced labels. The real files are Python 2 pickles whose byte-string keys
(``b"data"``, ``b"labels"``...) torchvision decodes with latin-1, giving the ``str`` keys written
here. torchvision also compares each file's md5 with the real archive's; ``skip_md5_checks``
turns off only that comparison, so the real parsing runs and missing files are still noticed.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torchvision.datasets import cifar, utils

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck"]
CIFAR100_CLASSES = [f"fine_{i:02d}" for i in range(100)]
CIFAR100_SUPERCLASSES = [f"coarse_{i:02d}" for i in range(20)]


@dataclass
class MiniCifar:
    """What was written, to compare with what the loader reads back."""

    root: Path
    classes: list[str]
    train_images: np.ndarray  # uint8 N x 32 x 32 x 3, as torchvision's `.data`
    train_labels: list[int]
    test_images: np.ndarray
    test_labels: list[int]


def skip_md5_checks(monkeypatch) -> None:
    """Make torchvision's integrity check test only that each file exists, not its md5."""
    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: utils.check_integrity(fpath))


def _examples(rng: np.random.Generator, count: int, n_classes: int):
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    labels = rng.permutation(np.arange(count) % n_classes).tolist()  # every class equally often
    return images, labels


def _rows(images: np.ndarray) -> np.ndarray:
    """N x 3072 rows: the red plane, then green, then blue, each row by row (CIFAR's layout)."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def _dump(path: Path, content: dict) -> None:
    with open(path, "wb") as file:
        pickle.dump(content, file, protocol=2)


def write_cifar10(root, n_train: int, n_test: int, seed: int = 0) -> MiniCifar:
    """``root/cifar-10-batches-py/``: data_batch_1..5, test_batch and batches.meta."""
    folder = Path(root) / cifar.CIFAR10.base_folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_images, train_labels = _examples(rng, n_train, len(CIFAR10_CLASSES))
    test_images, test_labels = _examples(rng, n_test, len(CIFAR10_CLASSES))
    batches = np.array_split(np.arange(n_train), len(cifar.CIFAR10.train_list))
    for number, (name, _md5) in enumerate(cifar.CIFAR10.train_list, start=1):
        rows = batches[number - 1]
        _dump(folder / name, {
            "batch_label": f"training batch {number} of 5",
            "labels": [train_labels[i] for i in rows],
            "data": _rows(train_images[rows]),
            "filenames": [f"image_{i:05d}.png" for i in rows],
        })
    _dump(folder / "test_batch", {
        "batch_label": "testing batch 1 of 1",
        "labels": test_labels,
        "data": _rows(test_images),
        "filenames": [f"test_{i:05d}.png" for i in range(n_test)],
    })
    _dump(folder / "batches.meta", {
        "label_names": CIFAR10_CLASSES,
        "num_cases_per_batch": int(max(len(b) for b in batches)),
        "num_vis": 3072,
    })
    return MiniCifar(Path(root), CIFAR10_CLASSES, train_images, train_labels, test_images,
                     test_labels)


def write_cifar100(root, n_train: int, n_test: int, seed: int = 0) -> MiniCifar:
    """``root/cifar-100-python/``: train, test and meta, with fine and coarse labels."""
    folder = Path(root) / cifar.CIFAR100.base_folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split, count in (("train", n_train), ("test", n_test)):
        images, labels = _examples(rng, count, len(CIFAR100_CLASSES))
        written[split] = images, labels
        _dump(folder / split, {
            "filenames": [f"{split}_{i:05d}.png" for i in range(count)],
            "batch_label": f"{split}ing batch 1 of 1",
            "fine_labels": labels,
            "coarse_labels": [label // 5 for label in labels],  # five fine classes per superclass
            "data": _rows(images),
        })
    _dump(folder / "meta", {
        "fine_label_names": CIFAR100_CLASSES,
        "coarse_label_names": CIFAR100_SUPERCLASSES,
    })
    return MiniCifar(Path(root), CIFAR100_CLASSES, *written["train"], *written["test"])
