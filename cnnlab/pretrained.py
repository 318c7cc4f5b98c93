"""Classify your own photos with ImageNet-trained AlexNet or VGG16 (seed 001's experiment).

The weights are torchvision's ImageNet files, loaded into this course's own models (same layout).
Nothing is ever downloaded: the file is looked for, under torchvision's file name, in

1. ``weights_path`` when given (a file, or a folder holding the file);
2. ``data_dir()/weights/`` (``CNNLAB_DATA`` or the course's ``data/`` folder);
3. torch hub's cache, ``torch.hub.get_dir()/checkpoints/``, where torchvision saves downloads.

Category names and preprocessing (resize 256, centre crop 224, ImageNet mean/std) come from the
torchvision weight entries, so a photo is prepared exactly as in training.

The photo demo (:func:`photos_to_classify`, :func:`classify_photos`, :func:`show_predictions`)
runs without the weights too: it then says in one line which file to put where, and skips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from PIL import Image, ImageOps
from torch import nn
from torchvision.models import AlexNet_Weights, VGG16_Weights, WeightsEnum

from cnnlab import models
from cnnlab.checks import is_int
from cnnlab.config import data_dir

WEIGHTS: dict[str, WeightsEnum] = {
    "alexnet": AlexNet_Weights.IMAGENET1K_V1,
    "vgg16": VGG16_Weights.IMAGENET1K_V1,
}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")

ImageLike = str | Path | Image.Image


class WeightsNotFoundError(FileNotFoundError):
    """No weights file where :func:`load_pretrained` looks; the message says where to put one."""


def _weights_entry(name: str) -> WeightsEnum:
    if name not in WEIGHTS:
        raise ValueError(
            f"no pretrained weights for {name!r}; choose one of {', '.join(WEIGHTS)}."
        )
    return WEIGHTS[name]


def weights_file_name(name: str) -> str:
    """torchvision's file name for ``name``'s ImageNet weights, e.g. ``alexnet-owt-7be5be79.pth``."""
    return Path(urlparse(_weights_entry(name).url).path).name


def find_weights(name: str, weights_path: str | Path | None = None) -> Path:
    """The weights file :func:`load_pretrained` would use; WeightsNotFoundError if none exists."""
    file_name = weights_file_name(name)
    if weights_path is not None:
        given = Path(weights_path).expanduser()
        candidates = [given / file_name if given.is_dir() else given]
    else:
        hub_cache = Path(torch.hub.get_dir()) / "checkpoints"
        candidates = [data_dir() / "weights" / file_name, hub_cache / file_name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = "\n".join(f"  {path}" for path in candidates)
    destination = "pass the right weights_path" if weights_path is not None else (
        f"put {file_name} in {candidates[0].parent} or in {candidates[1].parent}"
    )
    raise WeightsNotFoundError(
        f"ImageNet weights for {name!r} not found. Looked for:\n{looked}\n"
        f"To fix it, {destination}. To get the file on a machine with internet, run\n"
        f"  python -c \"import torchvision; torchvision.models.{name}(weights='IMAGENET1K_V1')\"\n"
        f"(it lands in torch hub's cache, {Path(torch.hub.get_dir()) / 'checkpoints'}), "
        f"or download {_weights_entry(name).url}"
    )


def load_pretrained(name: str, weights_path: str | Path | None = None) -> nn.Module:
    """``cnnlab.models.create(name)`` with torchvision's ImageNet weights, in eval mode.

    The returned model remembers its weight entry (``model.pretrained_weights``), which
    :func:`classify` uses for category names and preprocessing.
    """
    weights = _weights_entry(name)
    path = find_weights(name, weights_path)
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    # Built on the meta device and given the file's tensors: no time spent on a random
    # initialisation that would be overwritten (over a second for VGG16 on a laptop).
    with torch.device("meta"):
        model = models.create(name, num_classes=len(weights.meta["categories"]))
    try:
        model.load_state_dict(state_dict, assign=True)
    except RuntimeError as error:
        raise ValueError(
            f"{path} does not hold torchvision's {name} weights ({error}); replace the file with "
            f"the one from {weights.url}"
        ) from error
    model.pretrained_weights = weights
    return model.eval()


def _open_photo(path: str | Path) -> Image.Image:
    """An RGB image, turned upright as the camera's EXIF tag says (phone photos often need it)."""
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def load_photos(folder: str | Path) -> dict[str, Image.Image]:
    """Every JPEG/PNG in ``folder`` as an upright RGB image, keyed by file name, sorted."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"folder={str(folder)!r} {problem}; pass a folder of photos.")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not paths:
        raise FileNotFoundError(
            f"no photos in {folder}; add files ending in {', '.join(PHOTO_SUFFIXES)}."
        )
    return {path.name: _open_photo(path) for path in paths}


def _as_rgb(image: ImageLike) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, str | Path):
        if not Path(image).is_file():
            raise FileNotFoundError(f"image file {str(image)!r} does not exist.")
        return _open_photo(image)
    raise TypeError(
        f"images must be file paths or PIL images (or a list of them), not {type(image).__name__}."
    )


def classify(
    model: nn.Module,
    images: ImageLike | Iterable[ImageLike],
    topk: int = 5,
    weights: WeightsEnum | None = None,
) -> list[list[tuple[str, float]]]:
    """For each image, the ``topk`` (category name, probability) pairs, most probable first.

    ``weights`` (a torchvision weight entry) supplies the category names and the preprocessing;
    it defaults to the entry :func:`load_pretrained` attached to ``model``. The model runs in
    eval mode on its own device and is left in the mode it came in.
    """
    if weights is None:
        weights = getattr(model, "pretrained_weights", None)
    if weights is None:
        raise TypeError(
            "classify needs the model's weight entry: load the model with load_pretrained, or "
            "pass weights=, e.g. torchvision.models.AlexNet_Weights.IMAGENET1K_V1."
        )
    categories = weights.meta["categories"]
    if not is_int(topk) or not 1 <= topk <= len(categories):
        raise ValueError(f"topk must be an int from 1 to {len(categories)}, got {topk!r}.")
    pictures = [images] if isinstance(images, ImageLike) else list(images)
    if not pictures:
        raise ValueError("images is empty; pass at least one path or PIL image.")
    preprocess = weights.transforms()
    batch = torch.stack([preprocess(_as_rgb(picture)) for picture in pictures])
    was_training = model.training
    try:
        with torch.inference_mode():
            logits = model.eval()(batch.to(next(model.parameters()).device))
    finally:
        model.train(was_training)
    if logits.shape[1] != len(categories):
        raise ValueError(
            f"model has {logits.shape[1]} outputs but the weights name {len(categories)} "
            "categories; pass the weights entry the model was trained with."
        )
    top = logits.softmax(dim=1).topk(topk, dim=1)
    return [
        [(categories[i], p) for i, p in zip(indices.tolist(), probs.tolist(), strict=True)]
        for probs, indices in zip(top.values, top.indices, strict=True)
    ]


def photos_to_classify(folder: str | Path | None = None) -> dict[str, Image.Image]:
    """matplotlib's sample photograph (grace_hopper.jpg) and the JPEG/PNG files in ``folder``.

    ``folder`` defaults to ``data/photos`` (see :func:`cnnlab.config.data_dir`); a missing or
    empty folder is fine, since the sample photograph is always there.
    """
    from matplotlib import cbook  # imported only when the demo runs

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        photos = {"grace_hopper.jpg": Image.open(handle).convert("RGB")}
    folder = data_dir() / "photos" if folder is None else Path(folder).expanduser()
    if folder.is_dir() and any(p.suffix.lower() in PHOTO_SUFFIXES for p in folder.iterdir()):
        photos.update(load_photos(folder))
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
        model = load_pretrained(name, weights_path)
    except WeightsNotFoundError:
        print(f"No ImageNet weights for {name!r}: put {weights_file_name(name)} in "
              "data/weights/ (or $CNNLAB_DATA/weights/ if you set CNNLAB_DATA; the README says "
              "how to get the file) to classify photos; skipped.")
        return None
    labels = classify(model, list(photos.values()), topk=topk)
    return dict(zip(photos, labels, strict=True))


def show_predictions(
    photos: Mapping[str, Image.Image], predictions: Mapping[str, list[tuple[str, float]]]
):
    """Each photo with its top labels and probabilities beside it; returns the Figure."""
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
