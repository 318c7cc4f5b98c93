"""Datasets, transforms and loaders for the course.

Three classification sets share one API (``load``): ``shapes``, generated in memory so every
notebook runs offline, and CIFAR-10/100 read by torchvision from :func:`cnnlab.config.data_dir`.
Each returns ``(image, label)`` with a PIL image (or whatever ``transform`` makes of it), and
carries ``.classes``, ``.targets`` and ``.data`` (uint8, N x H x W x 3) like torchvision's CIFAR.
``PairedShapes`` is the image-to-image set of the pix2pix notebook.

The transforms are the two recipes the course compares: the standard CIFAR augmentation and
AlexNet's (random crops and flips, ten-crop testing, PCA colour "lighting" noise). ``Transformed``
and ``as_tensors`` let one set of images serve several experiments, with deterministic
transforms run once.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision import transforms as T
from torchvision.datasets.vision import VisionDataset

from cnnlab import config
from cnnlab.checks import choice, integer

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "DATASETS",
    "SPLITS",
    "DataNotFoundError",
    "PCALighting",
    "PairedFolder",
    "PairedShapes",
    "Shapes",
    "Swapped",
    "Transformed",
    "alexnet_transforms",
    "as_tensors",
    "load",
    "loaders",
    "mean_std",
    "pca_lighting_stats",
    "standard_transforms",
    "stats",
    "ten_crop_predict",
]

DATASETS = ("shapes", "cifar10", "cifar100")
SPLITS = ("train", "test")

# Per-channel mean and std of every pixel of the training sets, as ``stats`` computes them.
# (The often-copied CIFAR-10 std (0.2023, 0.1994, 0.2010) is the mean of per-image stds instead.)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4867, 0.4408)
CIFAR100_STD = (0.2675, 0.2565, 0.2761)

_CIFAR = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100}
_CIFAR_TITLES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
_CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
_SUBSET_SEED = 0  # fixed, so `size=n` names the same n examples in every run and notebook


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded; the message says how to get them."""


def _balanced_subset(targets: np.ndarray, size: int, seed: int = _SUBSET_SEED) -> np.ndarray:
    """Indices of ``size`` examples, as close to equally many per class as the data allows.

    Classes take turns in a fixed-seed random order, so a smaller subset is always contained in a
    larger one. The indices come back sorted.
    """
    order = np.random.default_rng(seed).permutation(len(targets))
    labels = targets[order]
    turn = np.empty(len(order), dtype=np.int64)  # how many of its class came before it
    for label in np.unique(labels):
        members = labels == label
        turn[members] = np.arange(members.sum())
    return np.sort(order[np.argsort(turn, kind="stable")[:size]])


def _missing_cifar_message(name: str, root: Path, problem: str) -> str:
    folder = _CIFAR[name].base_folder
    archive = _CIFAR[name].filename
    return (
        f"{problem}\n"
        f"Get {_CIFAR_TITLES[name]} in one of two ways:\n"
        f"  - online: cnnlab.data.load({name!r}, download=True)\n"
        f"  - offline: fetch {archive} from {_CIFAR_PAGE} and unpack it into {root} "
        f"(it creates {folder}/).\n"
        "The built-in 'shapes' dataset needs no files: cnnlab.data.load('shapes')."
    )


def _load_cifar(name: str, split: str, transform, download: bool, root: Path) -> VisionDataset:
    title, folder = _CIFAR_TITLES[name], root / _CIFAR[name].base_folder
    try:
        return _CIFAR[name](root, train=split == "train", transform=transform, download=download)
    except OSError as error:  # no network, DNS failure, HTTP error, unreadable file...
        action = f"Downloading {title} into {root}" if download else f"Reading {folder}"
        problem = f"{action} failed ({error})."
    except RuntimeError:  # torchvision's "Dataset not found or corrupted"
        problem = f"{title} was not found (or is incomplete) in {folder}."
    raise DataNotFoundError(_missing_cifar_message(name, root, problem)) from None


def _subset(targets, size: int | None, what: str) -> np.ndarray | None:
    """The balanced subset's indices (None: keep everything); too large a ``size`` is an error."""
    if size is None:
        return None
    if size > len(targets):
        raise ValueError(
            f"size={size} is more than the {len(targets)} examples in {what}; "
            "ask for fewer or pass size=None for all of them."
        )
    return _balanced_subset(np.asarray(targets), size)


def load(
    name: str,
    split: str = "train",
    *,
    transform: Callable | None = None,
    download: bool = False,
    root: str | Path | None = None,
    size: int | None = None,
) -> VisionDataset:
    """One split of a classification dataset, optionally a class-balanced subset of ``size``.

    ``size`` picks the same examples every time (a fixed-seed shuffle, classes taking turns), so
    runs and notebooks that ask for 2,000 images train on the same 2,000. CIFAR comes from
    ``root`` (default :func:`cnnlab.config.data_dir`) and is downloaded only when ``download``;
    ``shapes`` is generated in memory and ignores both.
    """
    choice("name", name, DATASETS)
    choice("split", split, SPLITS)
    size = None if size is None else integer("size", size)
    what = f"the {name!r} {split} split"
    if name == "shapes":
        labels = np.arange(Shapes.SPLIT_SIZES[split]) % len(Shapes.classes)
        return Shapes(split, transform=transform, indices=_subset(labels, size, what))
    root = Path(config.data_dir() if root is None else root).expanduser()
    dataset = _load_cifar(name, split, transform, download, root)
    chosen = _subset(dataset.targets, size, what)
    if chosen is not None:
        dataset.data = dataset.data[chosen]
        dataset.targets = np.asarray(dataset.targets)[chosen].tolist()
    return dataset


# --------------------------------------------------------------------------------------------
# shapes: procedurally generated, 32x32 RGB, 10 classes
# --------------------------------------------------------------------------------------------

_SHAPES_SEED = 20_240_601
_IMAGE_SIZE = 32
_CLUTTER_BLOBS = 3
# Random numbers drawn per image (uniform in [0, 1)), by what they decide.
_DRAWS = {
    "centre": 2, "scale": 1, "angle": 1, "form": 1,  # geometry
    "fg": 3, "fg2": 3, "bg": 3, "texture": 3, "light": 3, "noise": 1, "polarity": 1,  # appearance
    "clutter": _CLUTTER_BLOBS * 7,  # per blob: x, y, radius, present, r, g, b
}
_DRAW_SLICES = {
    key: slice(end - width, end)
    for (key, width), end in zip(_DRAWS.items(), itertools.accumulate(_DRAWS.values()), strict=True)
}
_N_DRAWS = sum(_DRAWS.values())


def _disc(u, v, form):
    return 1 - np.hypot(u, v)


def _ellipse(u, v, form):
    # Minor axis 0.35..0.6 of the major one; the distance is approximate, good for a soft edge.
    minor = 0.35 + 0.25 * form
    return (1 - np.hypot(u, v / minor)) * minor


def _ring(u, v, form):
    radius = np.hypot(u, v)
    return np.minimum(1 - radius, radius - (0.4 + 0.2 * form))


def _square(u, v, form):
    return 0.8 - np.maximum(np.abs(u), np.abs(v))


def _triangle(u, v, form):
    root3 = np.sqrt(3.0)
    return np.minimum(v + 0.5, np.minimum(1 - root3 * u - v, 1 + root3 * u - v) / 2)


def _cross(u, v, form):
    arm = 0.22 + 0.12 * form
    across = np.minimum(arm - np.abs(u), 1 - np.abs(v))
    along = np.minimum(arm - np.abs(v), 1 - np.abs(u))
    return np.maximum(across, along)


def _star(u, v, form):
    # Five points: the edge radius falls linearly from the tips to the notches between them.
    inner = 0.35 + 0.15 * form
    phase = np.mod(np.arctan2(v, u) * 5 / (2 * np.pi), 1.0) * 2 - 1
    return (inner + (1 - inner) * np.abs(phase) - np.hypot(u, v)) * 0.6


def _bars(u, v, form):
    # Three bars stacked along v inside the unit box.
    period = 2 / 3
    in_box = np.minimum(1 - np.abs(u) * 0.9, 1 - np.abs(v))
    stripe = period / 4 - np.abs(np.mod(v + 1, period) - period / 2)
    return np.minimum(in_box, stripe)


# class name -> (signed distance, positive inside, in shape units; base angle; angle jitter).
# Square and diamond, and the two bar classes, differ only by their angle.
_SHAPE_TABLE = {
    "circle": (_disc, 0.0, np.pi),
    "square": (_square, 0.0, 0.25),
    "triangle": (_triangle, 0.0, np.pi),
    "cross": (_cross, 0.0, 0.3),
    "ring": (_ring, 0.0, np.pi),
    "star": (_star, 0.0, np.pi),
    "horizontal bars": (_bars, 0.0, 0.25),
    "vertical bars": (_bars, np.pi / 2, 0.25),
    "diamond": (_square, np.pi / 4, 0.25),
    "ellipse": (_ellipse, 0.0, np.pi),
}


def _shape_draws(split: str, index: int) -> np.ndarray:
    """The uniform draws of one image (its parameters, then its pixel noise), from its own seed."""
    rng = np.random.default_rng((_SHAPES_SEED, SPLITS.index(split), int(index)))
    return rng.random(_N_DRAWS + _IMAGE_SIZE * _IMAGE_SIZE * 3, dtype=np.float32)


def _render_shapes(split: str, indices: np.ndarray) -> np.ndarray:
    """Images ``indices`` of ``split`` as uint8 N x 32 x 32 x 3, all drawn at once with numpy."""
    draws = np.stack([_shape_draws(split, i) for i in indices])
    uniforms = draws[:, :_N_DRAWS]
    noise = draws[:, _N_DRAWS:].reshape(-1, _IMAGE_SIZE, _IMAGE_SIZE, 3) - 0.5
    labels = np.asarray(indices) % len(_SHAPE_TABLE)

    def drawn(key):  # k x N x 1 x 1: one array per draw, broadcasting over the pixels
        return uniforms[:, _DRAW_SLICES[key]].T[:, :, None, None]

    def colour(key):  # N x 1 x 1 x 3
        return uniforms[:, None, None, _DRAW_SLICES[key]]

    pixel = np.arange(_IMAGE_SIZE, dtype=np.float32) + 0.5
    y, x = pixel[:, None], pixel[None, :]

    # Geometry: every class is a signed distance (positive inside) in units of the shape's size.
    cx, cy = 9 + 14 * drawn("centre")  # pixels; shapes may touch the border, rarely cross it
    scale = 6.5 + 5.5 * drawn("scale")[0]
    dx, dy = (x - cx) / scale, (y - cy) / scale
    inside = np.empty((len(labels), _IMAGE_SIZE, _IMAGE_SIZE), dtype=np.float32)
    for label, (distance, base_angle, jitter) in enumerate(_SHAPE_TABLE.values()):
        chosen = labels == label
        angle = base_angle + jitter * (2 * drawn("angle")[0, chosen] - 1)
        cos, sin = np.cos(angle), np.sin(angle)
        u = cos * dx[chosen] + sin * dy[chosen]
        v = cos * dy[chosen] - sin * dx[chosen]
        inside[chosen] = distance(u, v, drawn("form")[0, chosen])
    alpha = np.clip(0.5 + inside * scale, 0, 1)  # distance x scale is pixels: a 1-pixel soft edge

    # Fill: flat, stripes or checks, mixing the shape's colour with a second one.
    kind, frequency, direction = drawn("texture")
    theta = np.pi * direction
    stripes = np.sin((x * np.cos(theta) + y * np.sin(theta)) * (0.6 + 0.9 * frequency)) > 0
    cell = 2 + 3 * frequency
    checks = (np.floor(x / cell) + np.floor(y / cell)) % 2 == 1
    pattern = np.where(kind < 1 / 3, False, np.where(kind < 2 / 3, stripes, checks))
    # Colours: random hues, but a light shape on a dark ground or the reverse, so edges show.
    light_shape = drawn("polarity")[0, ..., None] < 0.5
    dark, bright = 0.5 * colour("bg"), 0.5 + 0.5 * colour("fg")
    fg, bg = np.where(light_shape, bright, dark), np.where(light_shape, dark, bright)
    fill = np.where(pattern[..., None], 0.7 * fg + 0.3 * colour("fg2"), fg)

    # Background: its colour under a linear light gradient, with a few small blobs of clutter.
    tilt_x, tilt_y, strength = drawn("light")
    half = _IMAGE_SIZE / 2
    light = 1 + 0.6 * strength * ((tilt_x - 0.5) * (x - half) + (tilt_y - 0.5) * (y - half)) / half
    image = bg * light[..., None]
    blobs = uniforms[:, _DRAW_SLICES["clutter"]].reshape(len(labels), _CLUTTER_BLOBS, 7)
    for blob in range(_CLUTTER_BLOBS):
        bx, by, radius, present = blobs[:, blob, :4, None, None].transpose(1, 0, 2, 3)
        reach = np.hypot(x - _IMAGE_SIZE * bx, y - _IMAGE_SIZE * by)
        hit = (reach < 1 + 1.5 * radius) & (present < 0.6)
        image[hit] = np.broadcast_to(blobs[:, None, None, blob, 4:], image.shape)[hit]

    image += (fill - image) * alpha[..., None]
    image += noise * (0.07 + 0.21 * drawn("noise")[0, ..., None])  # uniform: std 0.02 to 0.08
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


class Shapes(VisionDataset):
    """The offline default: 10 drawn shape classes, 32x32 RGB, in CIFAR's sizes and API.

    Position, size, rotation, colours, fill texture (flat, stripes, checks), background gradient,
    clutter blobs and pixel noise are random, so a small CNN learns it quickly but not perfectly.
    Image ``i`` of a split is drawn from its own seed: it is the same in every run and in every
    subset, and a subset costs only its own images. Label ``i % 10``, so any run of ten
    consecutive indices holds every class once.
    """

    classes = list(_SHAPE_TABLE)
    SPLIT_SIZES = {"train": 50_000, "test": 10_000}
    _CHUNK = 512  # images rendered per numpy batch; bounds the float temporaries

    def __init__(
        self,
        split: str = "train",
        transform: Callable | None = None,
        indices: np.ndarray | None = None,
    ) -> None:
        super().__init__(transform=transform)
        self.split = choice("split", split, SPLITS)
        total = self.SPLIT_SIZES[split]
        self.indices = np.arange(total) if indices is None else np.asarray(indices, dtype=np.int64)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= total):
            raise ValueError(f"indices must lie in [0, {total}) for the {split!r} split.")
        self.data = np.empty((len(self.indices), _IMAGE_SIZE, _IMAGE_SIZE, 3), dtype=np.uint8)
        for start in range(0, len(self.indices), self._CHUNK):
            chunk = slice(start, start + self._CHUNK)
            self.data[chunk] = _render_shapes(split, self.indices[chunk])
        self.targets = (self.indices % len(self.classes)).tolist()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.data[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]

    def extra_repr(self) -> str:
        return f"Split: {self.split}"


# --------------------------------------------------------------------------------------------
# PairedShapes: map -> aerial view, for pix2pix
# --------------------------------------------------------------------------------------------

_PAIRED_SEED = 20_240_602


def _to_signed_tensor(image: np.ndarray) -> torch.Tensor:
    """H x W x 3 in [0, 1] -> 3 x H x W float tensor in [-1, 1], pix2pix's range (tanh output)."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() * 2 - 1


class PairedShapes(Dataset):
    """Synthetic image-to-image pairs: a flat-coloured map -> the aerial view it describes.

    A stand-in for pix2pix's maps <-> satellite data (1,096 training / 1,098 test pairs, the
    default lengths): a scene of ground, vegetation, a river, a road and buildings is drawn twice,
    once as a map with one flat colour per class, once "photographed" with textures, shaded roofs
    and shadows, so the generator must invent detail that the map does not hold. Pair ``i`` of a
    split comes from its own seed; ``size`` is the side in pixels (the scene is the same at any
    size). Items are ``(map, photo)`` float tensors 3 x size x size in [-1, 1].
    """

    classes = ("ground", "vegetation", "water", "road", "building")
    MAP_PALETTE = np.array(  # one flat map colour per class, RGB in [0, 1]
        [[0.94, 0.92, 0.86], [0.67, 0.84, 0.59], [0.63, 0.76, 0.92], [1.0, 1.0, 1.0],
         [0.80, 0.71, 0.67]], dtype=np.float32)
    _PHOTO_PALETTE = np.array(  # what each class looks like from above
        [[0.55, 0.48, 0.36], [0.20, 0.38, 0.15], [0.12, 0.26, 0.40], [0.42, 0.42, 0.43],
         [0.62, 0.33, 0.27]], dtype=np.float32)
    _GRAIN = np.array([0.04, 0.12, 0.02, 0.015, 0.02], dtype=np.float32)  # texture per class
    DEFAULT_LENGTHS = {"train": 1_096, "test": 1_098}

    def __init__(self, split: str = "train", *, size: int = 32, length: int | None = None):
        self.split = choice("split", split, SPLITS)
        self.size = integer("size", size)
        self.length = self.DEFAULT_LENGTHS[split] if length is None else integer("length", length)

    def __len__(self) -> int:
        return self.length

    def _scene(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Class of every pixel (size x size ints) and the photo (size x size x 3 in [0, 1])."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} is out of range for {self.length} pairs.")
        rng = np.random.default_rng((_PAIRED_SEED, SPLITS.index(self.split), index))
        pixel = (np.arange(self.size, dtype=np.float32) + 0.5) / self.size  # scene units: 0..1
        y, x = np.meshgrid(pixel, pixel, indexing="ij")
        ground, vegetation, water, road, building = range(len(self.classes))
        labels = np.full(x.shape, ground, dtype=np.int64)

        for cx, cy, rx, ry in rng.uniform([0, 0, 0.08, 0.08], [1, 1, 0.25, 0.25], (4, 4)):
            labels[((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1] = vegetation
        along, across = (x, y) if rng.random() < 0.5 else (y, x)
        centre, amplitude, cycles, phase, width = rng.uniform([0.2, 0, 0.5, 0, 0.04],
                                                              [0.8, 0.15, 1.5, 2 * np.pi, 0.09])
        bend = amplitude * np.sin(2 * np.pi * cycles * along + phase)
        labels[np.abs(across - centre - bend) < width] = water
        road_across = y if rng.random() < 0.5 else x
        labels[np.abs(road_across - rng.uniform(0.1, 0.9)) < 0.035] = road

        def rectangle(left, top, width, height, shift=0.0):
            return ((x >= left + shift) & (x < left + width + shift)
                    & (y >= top + shift) & (y < top + height + shift))

        buildings = rng.uniform([0.05, 0.05, 0.08, 0.08], [0.8, 0.8, 0.2, 0.2],
                                (rng.integers(1, 5), 4))
        for box in buildings:
            labels[rectangle(*box)] = building

        photo = self._PHOTO_PALETTE[labels] * rng.uniform(0.85, 1.15)  # time of day
        grain = rng.standard_normal(x.shape).astype(np.float32)
        ripples = 0.04 * np.sin(40 * (x + 0.5 * y)) * (labels == water)
        photo = photo * (1 + self._GRAIN[labels] * grain)[..., None] + ripples[..., None]
        # Roofs: the half facing the light (the left) is brighter; shadows fall down-right.
        for left, top, width, height in buildings:
            photo[rectangle(left, top, width / 2, height)] *= 1.25
            shadow = rectangle(left, top, width, height, shift=0.04) & (labels != building)
            photo[shadow] *= 0.55
        return labels, np.clip(photo, 0, 1)

    def label_map(self, index: int) -> torch.Tensor:
        """The class of every pixel of pair ``index`` (size x size, int64), for per-pixel scores."""
        return torch.from_numpy(self._scene(index)[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels, photo = self._scene(index)
        return _to_signed_tensor(self.MAP_PALETTE[labels]), _to_signed_tensor(photo)


# --------------------------------------------------------------------------------------------
# statistics and transforms
# --------------------------------------------------------------------------------------------


def _pixel_moments(dataset, max_images: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of the RGB values in [0, 1] of a dataset's first images."""
    data = getattr(dataset, "data", None)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 4
            and data.shape[-1] == 3):
        raise TypeError(
            "dataset must carry its images as a uint8 N x H x W x 3 array in `.data`, as the "
            f"datasets from cnnlab.data.load() do; got {type(dataset).__name__}."
        )
    if max_images is not None:
        data = data[:integer("max_images", max_images)]
    if len(data) == 0:
        raise ValueError("dataset is empty: there are no pixels to take statistics of.")
    total, outer, count = np.zeros(3), np.zeros((3, 3)), 0
    for start in range(0, len(data), 1024):  # chunks keep float64 copies small
        pixels = data[start:start + 1024].reshape(-1, 3).astype(np.float64) / 255
        total += pixels.sum(0)
        outer += pixels.T @ pixels
        count += len(pixels)
    mean = total / count
    return mean, outer / count - np.outer(mean, mean)


def stats(dataset, max_images: int | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of all pixels (in [0, 1]), the numbers ``Normalize`` needs."""
    mean, covariance = _pixel_moments(dataset, max_images)
    return tuple(mean.tolist()), tuple(np.sqrt(np.diag(covariance)).tolist())


def pca_lighting_stats(dataset, max_images: int | None = 10_000) -> tuple[torch.Tensor, ...]:
    """Eigenvalues (descending) and eigenvectors (columns) of the RGB covariance, for PCALighting.

    AlexNet ran this PCA over every pixel of the ImageNet training set; here over the pixels of
    the first ``max_images`` images of ``dataset`` (None: all), which bounds the cost.
    """
    _, covariance = _pixel_moments(dataset, max_images)
    eigval, eigvec = torch.linalg.eigh(torch.from_numpy(covariance))
    order = eigval.argsort(descending=True)
    return eigval[order].float(), eigvec[:, order].float()


@functools.cache
def _shapes_mean_std() -> tuple[tuple[float, ...], tuple[float, ...]]:
    return stats(load("shapes", "train", size=2_000))


def mean_std(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) used to normalise ``name``; shapes' are computed on first use."""
    choice("name", name, DATASETS)
    if name == "shapes":
        return _shapes_mean_std()
    return {"cifar10": (CIFAR10_MEAN, CIFAR10_STD), "cifar100": (CIFAR100_MEAN, CIFAR100_STD)}[name]


def standard_transforms(name: str, train: bool) -> T.Compose:
    """The usual CIFAR recipe: pad-4 random crop and flip for training, then tensor + normalise."""
    normalise = [T.ToTensor(), T.Normalize(*mean_std(name))]
    augment = [T.RandomCrop(_IMAGE_SIZE, padding=4), T.RandomHorizontalFlip()] if train else []
    return T.Compose(augment + normalise)


def pca_lighting(
    image: torch.Tensor, eigval: torch.Tensor, eigvec: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """AlexNet's colour augmentation for one draw ``alpha``: add ``eigvec @ (alpha * eigval)``.

    ``image`` is 3 x H x W; ``eigval`` (3,) and ``eigvec`` (3 x 3, one eigenvector per column)
    come from :func:`pca_lighting_stats`. Every pixel moves by the same RGB offset, a
    mix of the principal colour directions, so lighting changes and the object does not.
    :class:`PCALighting` draws ``alpha`` from N(0, alphastd) per image and calls this.
    """
    image, eigval, eigvec, alpha = (torch.as_tensor(t) for t in (image, eigval, eigvec, alpha))
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be 3 x H x W (RGB), got shape {tuple(image.shape)}.")
    if eigval.shape != (3,) or alpha.shape != (3,) or eigvec.shape != (3, 3):
        raise ValueError(
            "eigval and alpha must have shape (3,) and eigvec (3, 3), got "
            f"{tuple(eigval.shape)}, {tuple(alpha.shape)} and {tuple(eigvec.shape)}."
        )
    shift = eigvec.to(image.dtype) @ (alpha.to(image.dtype) * eigval.to(image.dtype))
    return image + shift.view(3, 1, 1)


class PCALighting(torch.nn.Module):
    """AlexNet's colour augmentation: add ``eigvec @ (alpha * eigval)`` to every pixel.

    ``alpha`` is drawn per image from N(0, ``alphastd``), so the image's colour and brightness
    shift along the principal directions of natural RGB variation. Use on tensors in [0, 1],
    after ``ToTensor`` and before ``Normalize``.
    """

    def __init__(self, eigval, eigvec, alphastd: float = 0.1) -> None:
        super().__init__()
        eigval, eigvec = torch.as_tensor(eigval).float(), torch.as_tensor(eigvec).float()
        if eigval.shape != (3,) or eigvec.shape != (3, 3):
            raise ValueError(
                f"eigval must have shape (3,) and eigvec (3, 3), got {tuple(eigval.shape)} and "
                f"{tuple(eigvec.shape)}; compute them with pca_lighting_stats(dataset)."
            )
        if alphastd < 0:
            raise ValueError(f"alphastd={alphastd} must be >= 0 (AlexNet used 0.1).")
        self.register_buffer("eigval", eigval)
        self.register_buffer("eigvec", eigvec)
        self.alphastd = alphastd

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return pca_lighting(image, self.eigval, self.eigvec, torch.randn(3) * self.alphastd)

    def extra_repr(self) -> str:
        return f"alphastd={self.alphastd}"


class _NormaliseCrops:
    """Turn TenCrop's ten PIL crops into one normalised 10 x C x H x W tensor."""

    def __init__(self, normalise: T.Compose) -> None:
        self.normalise = normalise

    def __call__(self, crops) -> torch.Tensor:
        return torch.stack([self.normalise(crop) for crop in crops])


def alexnet_transforms(
    name: str,
    *,
    train: bool,
    crop: int = 28,
    lighting: PCALighting | None = None,
    ten_crop: bool = True,
) -> T.Compose:
    """AlexNet's augmentation scaled to 32x32 images (224 of 256 there; 28 of 32 here).

    ``name`` picks the normalisation (:func:`mean_std`). Training: a random ``crop`` x ``crop``
    patch, a random horizontal flip, and ``lighting`` if given. Testing: the four corner and
    centre patches and their mirrors (``TenCrop``), stacked as 10 x 3 x crop x crop for
    :func:`ten_crop_predict`, or the centre patch alone when ``ten_crop`` is False.
    """
    crop = integer("crop", crop)
    if crop > _IMAGE_SIZE:
        raise ValueError(f"crop={crop} is larger than the {_IMAGE_SIZE}x{_IMAGE_SIZE} images.")
    normalise = T.Normalize(*mean_std(name))
    if train:
        colour = [lighting] if lighting is not None else []
        return T.Compose([T.RandomCrop(crop), T.RandomHorizontalFlip(), T.ToTensor(), *colour,
                          normalise])
    if ten_crop:
        return T.Compose([T.TenCrop(crop), _NormaliseCrops(T.Compose([T.ToTensor(), normalise]))])
    return T.Compose([T.CenterCrop(crop), T.ToTensor(), normalise])


def ten_crop_predict(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities averaged over the ten crops of each image, as AlexNet tested.

    ``images`` is a batch from ``alexnet_transforms(name, train=False)``: B x 10 x C x H x W.
    Put the model in eval mode first. Returns B x classes.
    """
    if images.dim() != 5:
        raise ValueError(
            "images must be B x crops x C x H x W (from alexnet_transforms(name, train=False)), "
            f"got shape {tuple(images.shape)}."
        )
    batch, crops = images.shape[:2]
    with torch.no_grad():
        logits = model(images.flatten(0, 1))
    return logits.softmax(dim=-1).view(batch, crops, -1).mean(dim=1)


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


# --------------------------------------------------------------------------------------------
# loaders
# --------------------------------------------------------------------------------------------


def loaders(
    name: str,
    *,
    batch_size: int | None = None,
    augment: bool = True,
    train_size: int | None = None,
    test_size: int | None = None,
    root: str | Path | None = None,
    num_workers: int = 0,
    seed: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """Train and test loaders with the standard transforms, sized by the active profile.

    Sizes and batch size default to :func:`cnnlab.config.profile` (the whole split in ``full``).
    The training loader reshuffles every epoch from a generator seeded with ``seed``, so two runs
    see the same batches in the same order.
    """
    run = config.profile()
    batch_size = integer("batch_size", run.batch_size if batch_size is None else batch_size)
    train_set = load(name, "train", transform=standard_transforms(name, train=augment), root=root,
                     size=run.train_size if train_size is None else train_size)
    test_set = load(name, "test", transform=standard_transforms(name, train=False), root=root,
                    size=run.test_size if test_size is None else test_size)
    common = {"batch_size": batch_size, "num_workers": num_workers,
              "pin_memory": torch.cuda.is_available(), "persistent_workers": num_workers > 0}
    generator = torch.Generator().manual_seed(seed)
    return (DataLoader(train_set, shuffle=True, generator=generator, **common),
            DataLoader(test_set, shuffle=False, **common))


# --------------------------------------------------------------------------------------------
# pix2pix's paired folders (maps <-> satellite) and the choice of direction
# --------------------------------------------------------------------------------------------

_PAIRED_EXTENSIONS = (".jpg", ".jpeg", ".png")


class Swapped(Dataset):
    """The pairs of ``dataset`` the other way round: ``(b, a)`` for each ``(a, b)``, e.g.
    :class:`PairedShapes` as aerial view -> map, the direction seed 002 trained."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        a, b = self.dataset[index]
        return b, a


class PairedFolder(Dataset):
    """pix2pix's paired image folders, as its ``datasets/maps`` download unpacks them:
    ``root/<split>/*.jpg``, each file the two images side by side (A left, B right; for maps,
    A is the satellite photo and B the map, 600x600 each).

    ``direction="AtoB"`` gives ``(A, B)`` (satellite -> map, seed 002's direction), ``"BtoA"``
    the reverse. Both halves are resized to ``size`` x ``size`` and scaled to [-1, 1], as
    :class:`PairedShapes`' items. pix2pix's maps set names its test split ``val``.
    """

    def __init__(self, root: str | Path, split: str = "train", *, direction: str = "AtoB",
                 size: int = 256):
        self.root = Path(root)
        self.split = split
        self.direction = choice("direction", direction, ("AtoB", "BtoA"))
        self.size = integer("size", size)
        folder = self.root / split
        if not folder.is_dir():
            present = sorted(p.name for p in self.root.iterdir() if p.is_dir()) \
                if self.root.is_dir() else []
            raise DataNotFoundError(
                f"no folder {folder}. pix2pix's paired data sets unpack to <root>/train, "
                f"<root>/val (and <root>/test); {self.root} has "
                f"{', '.join(present) or 'no such folders'}. Pass the folder that holds them.")
        self.files = sorted(p for p in folder.iterdir()
                            if p.suffix.lower() in _PAIRED_EXTENSIONS)
        if not self.files:
            raise DataNotFoundError(f"{folder} holds no {'/'.join(_PAIRED_EXTENSIONS)} images.")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        with Image.open(self.files[index]) as opened:
            image = opened.convert("RGB")
        width, height = image.size
        if width != 2 * height:
            raise ValueError(f"{self.files[index]} is {width}x{height}; a pair is two square "
                             "images side by side, twice as wide as it is high.")
        halves = [image.crop((x, 0, x + height, height)).resize((self.size, self.size),
                                                                Image.BICUBIC)
                  for x in (0, height)]
        a, b = (_to_signed_tensor(np.asarray(h, dtype=np.float32) / 255) for h in halves)
        return (a, b) if self.direction == "AtoB" else (b, a)
