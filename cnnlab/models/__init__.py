"""Every network in the course, built by name: ``create("vgg16", num_classes=10)``.

Each family lives in its own module here (``lenet.py``, ``alexnet.py``, ...) and registers its
builders with :func:`register`; ``plain.py`` and ``torchvision_keys.py`` register nothing: one
holds the builder that AlexNet, ZFNet and VGG share, the other loads torchvision's state_dicts
into the ResNets and SqueezeNets, whose blocks name their layers otherwise. The registry finds
family modules by itself the first time it is asked for a model, so adding a family means adding
one file; keep those files cheap to import.

A builder takes ``num_classes`` and keyword-only options, e.g.::

    @register("lenet5", input_size=(3, 32, 32), num_classes=10)
    def lenet5(num_classes: int, *, in_channels: int = 3) -> nn.Module:
        ...  # the first line of its docstring becomes the model's description
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from cnnlab.checks import integer

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one model name."""

    name: str
    build: Builder
    input_size: tuple[int, int, int]  # (channels, height, width) the design expects
    num_classes: int  # the class count of the dataset it was designed for
    description: str

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options :func:`create` may pass on to the builder."""
        parameters = inspect.signature(self.build).parameters
        return tuple(name for name in parameters if name != "num_classes")


_REGISTRY: dict[str, ModelSpec] = {}
_families_loaded = False


def register(
    name: str,
    *,
    input_size: tuple[int, int, int],
    num_classes: int = 1000,
    description: str | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator that files a builder under ``name``; the description defaults to its docstring."""

    def decorator(build: Builder) -> Builder:
        known = _REGISTRY.get(name)
        # Re-running the same definition (a module reload in a notebook) is fine; a second
        # builder claiming a taken name is a mistake in some family file.
        if known is not None and _origin(known.build) != _origin(build):
            raise ValueError(
                f"model name {name!r} is already registered by {_origin(known.build)}; "
                "pick another name for the new builder."
            )
        summary = description or (inspect.getdoc(build) or name).splitlines()[0]
        _REGISTRY[name] = ModelSpec(name, build, tuple(input_size), num_classes, summary)
        return build

    return decorator


def _origin(build: Builder) -> str:
    return f"{build.__module__}.{build.__qualname__}"


def _load_families() -> None:
    """Import every module of this package once, so that their ``register`` calls have run."""
    global _families_loaded
    if not _families_loaded:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _families_loaded = True


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style ``pattern`` (e.g. ``"vgg*_cifar"``), sorted."""
    _load_families()
    return sorted(fnmatch.filter(_REGISTRY, pattern))


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; ValueError naming the known models if there is none."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a model name (str), not {type(name).__name__}.")
    _load_families()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(_REGISTRY))}."
        )
    return _REGISTRY[name]


def create(name: str, num_classes: int | None = None, **options) -> nn.Module:
    """Build a fresh, randomly initialised ``name`` with ``num_classes`` outputs.

    ``num_classes`` defaults to the dataset the design was made for (1000 for ImageNet models,
    10 for the CIFAR adaptations and LeNet). Options are the builder's keyword arguments, listed
    by ``model_spec(name).options``.
    """
    spec = model_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "no options"
        raise TypeError(
            f"create({name!r}) got unknown option(s) {', '.join(unknown)}; "
            f"{name} accepts: {accepted}."
        )
    if num_classes is None:
        num_classes = spec.num_classes
    return spec.build(integer("num_classes", num_classes), **options)


__all__ = ["ModelSpec", "create", "list_models", "model_spec", "register"]
