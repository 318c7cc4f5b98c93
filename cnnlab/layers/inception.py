"""Inception units: parallel branches on one input, their outputs concatenated along channels.

Every block here is a :class:`Mixed`: named branches, each a short chain of layers written as
data (see :func:`chain`), so GoogLeNet's module, the factorised Inception-v2/v3 blocks, the
Inception-v4 blocks and the inside of the Inception-ResNet blocks differ only in their tables.

* v1 (Szegedy et al. 2015): :class:`InceptionModule`, naive or with 1x1 reductions.
* v2/v3 (Szegedy et al. 2016, "Rethinking"): batch norm after every convolution; a 5x5 becomes two
  stacked 3x3 (:func:`inception_v3_a`); an n x n becomes 1 x n then n x 1
  (:func:`inception_v3_c`, n=7 on the 17x17 grid); the widest filter bank splits its last 3x3 into
  parallel 1x3 and 3x1 (:func:`inception_v3_e`); the grid shrinks through a stride-2 convolution
  beside a stride-2 pool, concatenated, so neither a representational bottleneck nor an expensive
  wide convolution before the pool is needed (:func:`inception_v3_b`, :func:`inception_v3_d`).
  Widths and branch names are torchvision's ``Inception3``.
* v4 and Inception-ResNet (Szegedy et al. 2017): :func:`inception_v4_a` ... ``_c``, the reductions
  :func:`reduction_a` / :func:`reduction_b`, and :class:`InceptionResNetBlock` (a residual around a
  Mixed, widths of Inception-ResNet-v2's figures in :func:`inception_resnet_a` ... ``_c``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from cnnlab.checks import choice, integer
from cnnlab.layers.conv import Factory, unit_factory

__all__ = ["GOOGLENET_INCEPTION", "LARGE_BRANCHES", "POOLS", "Concat", "InceptionModule",
           "InceptionResNetBlock", "Mixed", "Split", "chain", "factorised_branch", "inception_resnet_a",
           "inception_resnet_b", "inception_resnet_c", "inception_v3_a", "inception_v3_b",
           "inception_v3_c", "inception_v3_d", "inception_v3_e", "inception_v4_a",
           "inception_v4_b", "inception_v4_c", "reduction_a", "reduction_b"]

# The pools a branch may hold, by name. "max" is GoogLeNet's pool branch, "avg" v3's and v4's
# (zero padding counted in the mean, as torchvision and TensorFlow do), "max/2" the grid reduction.
POOLS: dict[str, Callable[[], nn.Module]] = {
    "max": lambda: nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
    "avg": lambda: nn.AvgPool2d(3, stride=1, padding=1),
    "max/2": lambda: nn.MaxPool2d(3, stride=2),
}


class Split(tuple):
    """Convolutions run side by side on a chain's output and concatenated: v3's 1x3 | 3x1."""

    def __new__(cls, *convs: tuple):
        return super().__new__(cls, convs)


Layer = tuple | str | Split  # (out_channels, kernel_size[, stride]), a POOLS name, or a Split


class Concat(nn.ModuleDict):
    """Named branches run on one input; their outputs stacked along channels, in order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.values()], 1)


def chain(in_channels: int, layers: Sequence[Layer], unit: Callable[..., nn.Module]
          ) -> tuple[nn.Sequential, int]:
    """One branch and its output width. A convolution keeps the map size at stride 1 and has no
    padding at a larger stride (the papers' "valid" grid reductions: 35 -> 17 -> 8)."""
    modules, channels = [], in_channels
    for layer in layers:
        if isinstance(layer, str):
            modules.append(POOLS[choice("pool", layer, tuple(POOLS))]())
        elif isinstance(layer, Split):
            parts = [chain(channels, [conv], unit) for conv in layer]
            modules.append(Concat({str(i): part[0] for i, (part, _) in enumerate(parts)}))
            channels = sum(width for _, width in parts)
        else:
            out, kernel, *stride = layer
            stride = stride[0] if stride else 1
            modules.append(unit(channels, integer("out_channels", out), kernel, stride,
                                padding=0 if stride > 1 else None))
            channels = out
    return nn.Sequential(*modules), channels


class Mixed(Concat):
    """An inception block from its table: ``branches`` maps a name to its chain of layers.

    ``out_channels`` is the concatenated width. Units are conv -> norm -> act with ``bias``,
    ``norm_layer`` and ``act_layer`` (torchvision's v1 and v3 use BatchNorm2d with eps=0.001).
    """

    def __init__(self, in_channels: int, branches: dict[str, Sequence[Layer]], *,
                 bias: bool = False, norm_layer: Factory | None = nn.BatchNorm2d,
                 act_layer: Factory | None = nn.ReLU):
        unit = unit_factory(bias=bias, norm_layer=norm_layer, act_layer=act_layer)
        built = {name: chain(integer("in_channels", in_channels), layers, unit)
                 for name, layers in branches.items()}
        super().__init__({name: branch for name, (branch, _) in built.items()})
        self.out_channels = sum(width for _, width in built.values())


# ---------------------------------------------------------------------------------------- v1

LARGE_BRANCHES = ("5x5", "3x3", "3x3+3x3")


class InceptionModule(Mixed):
    """Branches 1x1 -> ch1x1; [1x1 -> ch3x3red] 3x3 -> ch3x3; [1x1 -> ch5x5red] large -> ch5x5;
    3x3 max pool (stride 1) [1x1 -> pool_proj].

    Leaving the reductions and ``pool_proj`` as None gives the naive module, whose pool passes
    all M channels through. ``large_branch``: ``"5x5"`` (the paper), ``"3x3"`` (torchvision's
    GoogLeNet, a slip kept for its weights) or ``"3x3+3x3"`` (two stacked 3x3; seed 000).
    ``widen`` says where the stacked pair reaches ch5x5: ``"last"`` (r -> r -> ch5x5, the
    cheaper form, v3's rule of widening late) or ``"first"`` (r -> ch5x5 -> ch5x5, as in the
    widely copied CIFAR GoogLeNet). Branch names are torchvision's (``branch1`` ... ``branch4``);
    ``unit_options`` (``bias``, ``norm_layer``, ``act_layer``) are :class:`Mixed`'s.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3: int,
        ch5x5: int,
        pool_proj: int | None = None,
        *,
        ch3x3red: int | None = None,
        ch5x5red: int | None = None,
        large_branch: str = "5x5",
        widen: str = "last",
        **unit_options,
    ):
        large_branch = choice("large_branch", large_branch, LARGE_BRANCHES)
        widen = choice("widen", widen, ("last", "first"))
        in_channels = integer("in_channels", in_channels)

        def reduce(name: str, width: int | None) -> tuple[list[Layer], int]:
            return ([], in_channels) if width is None else ([(integer(name, width), 1)], width)

        reduce3, _ = reduce("ch3x3red", ch3x3red)
        reduce5, r5 = reduce("ch5x5red", ch5x5red)
        ch5x5 = integer("ch5x5", ch5x5)
        large = {"5x5": [(ch5x5, 5)], "3x3": [(ch5x5, 3)],
                 "3x3+3x3": [(r5 if widen == "last" else ch5x5, 3), (ch5x5, 3)]}[large_branch]
        proj = [] if pool_proj is None else [(integer("pool_proj", pool_proj), 1)]
        super().__init__(in_channels, {
            "branch1": [(integer("ch1x1", ch1x1), 1)],
            "branch2": reduce3 + [(integer("ch3x3", ch3x3), 3)],
            "branch3": reduce5 + large,
            "branch4": ["max", *proj],
        }, **unit_options)


def factorised_branch(in_channels: int, mid_channels: int, out_channels: int,
                      **unit_options) -> Mixed:
    """Inception-E's large branch on its own: 1x1 -> ``mid_channels``, then two stacked 3x3
    (mid -> mid -> out), each conv -> BN -> ReLU. The pair sees a 5x5 field with 18 weights per
    channel pair where a 5x5 has 25; it is ``InceptionModule``'s ``branch3`` with
    ``large_branch="3x3+3x3"`` and ``widen="last"``."""
    return Mixed(in_channels, {"branch3": [(integer("mid_channels", mid_channels), 1),
                                           (mid_channels, 3),
                                           (integer("out_channels", out_channels), 3)]},
                 **unit_options)


# Branch widths of GoogLeNet's nine inception modules (Szegedy et al. 2015, table 1) and the side
# of their input for a 224x224 image: ``InceptionModule(**widths)`` after popping ``in_size``.
GOOGLENET_INCEPTION: dict[str, dict[str, int]] = {
    name: dict(zip(("in_channels", "in_size", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5",
                    "pool_proj"), widths, strict=True))
    for name, widths in {
        "3a": (192, 28, 64, 96, 128, 16, 32, 32),
        "3b": (256, 28, 128, 128, 192, 32, 96, 64),
        "4a": (480, 14, 192, 96, 208, 16, 48, 64),
        "4b": (512, 14, 160, 112, 224, 24, 64, 64),
        "4c": (512, 14, 128, 128, 256, 24, 64, 64),
        "4d": (512, 14, 112, 144, 288, 32, 64, 64),
        "4e": (528, 14, 256, 160, 320, 32, 128, 128),
        "5a": (832, 7, 256, 160, 320, 32, 128, 128),
        "5b": (832, 7, 384, 192, 384, 48, 128, 128),
    }.items()
}

# ---------------------------------------------------------------------------------------- v3
# torchvision's Inception3 blocks (the paper's figures 5, 6, 7 and 10 as TensorFlow built them).


def _asymmetric(n: int, widths: Sequence[int], first: str = "1xn") -> list[Layer]:
    """1 x n and n x 1 convolutions alternating, one per width: an n x n field, 2n weights per
    input-output pair instead of n^2 (n=3: a third cheaper; n=7: 71% cheaper)."""
    kernels = [(1, n), (n, 1)] if first == "1xn" else [(n, 1), (1, n)]
    return [(width, kernels[i % 2]) for i, width in enumerate(widths)]


def inception_v3_a(in_channels: int, pool_proj: int, **options) -> Mixed:
    """35x35 (Mixed_5b-d): 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 (the factorised 5x5) | avg -> 1x1.
    torchvision keeps the 5x5 branch beside its factorised twin, as the released model did."""
    return Mixed(in_channels, {
        "branch1x1": [(64, 1)],
        "branch5x5": [(48, 1), (64, 5)],
        "branch3x3dbl": [(64, 1), (96, 3), (96, 3)],
        "branch_pool": ["avg", (pool_proj, 1)],
    }, **options)


def inception_v3_b(in_channels: int, **options) -> Mixed:
    """Grid reduction 35 -> 17 (Mixed_6a): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool/2."""
    return Mixed(in_channels, {
        "branch3x3": [(384, 3, 2)],
        "branch3x3dbl": [(64, 1), (96, 3), (96, 3, 2)],
        "branch_pool": ["max/2"],
    }, **options)


def inception_v3_c(in_channels: int, mid_channels: int, n: int = 7, **options) -> Mixed:
    """17x17 (Mixed_6b-e): n x n factorised into 1 x n + n x 1, once and twice, at width
    ``mid_channels`` (128, 160, 160, 192), each branch widening to 192 at its last conv."""
    return Mixed(in_channels, {
        "branch1x1": [(192, 1)],
        f"branch{n}x{n}": [(mid_channels, 1), *_asymmetric(n, [mid_channels, 192])],
        f"branch{n}x{n}dbl": [(mid_channels, 1),
                              *_asymmetric(n, [mid_channels] * 3 + [192], first="nx1")],
        "branch_pool": ["avg", (192, 1)],
    }, **options)


def inception_v3_d(in_channels: int, **options) -> Mixed:
    """Grid reduction 17 -> 8 (Mixed_7a): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool/2."""
    return Mixed(in_channels, {
        "branch3x3": [(192, 1), (320, 3, 2)],
        "branch7x7x3": [(192, 1), *_asymmetric(7, [192, 192]), (192, 3, 2)],
        "branch_pool": ["max/2"],
    }, **options)


def inception_v3_e(in_channels: int, **options) -> Mixed:
    """8x8 (Mixed_7b-c), the expanded filter bank: each 3x3 ends in parallel 1x3 | 3x1, so the
    coarsest grid gets wide (2048) outputs without a bottleneck."""
    split = Split((384, (1, 3)), (384, (3, 1)))
    return Mixed(in_channels, {
        "branch1x1": [(320, 1)],
        "branch3x3": [(384, 1), split],
        "branch3x3dbl": [(448, 1), (384, 3), split],
        "branch_pool": ["avg", (192, 1)],
    }, **options)


# ------------------------------------------------------------------- v4 and Inception-ResNet
# Szegedy, Ioffe, Vanhoucke and Alemi 2017, figures 4-8 (v4) and 16, 17, 19 (Inception-ResNet-v2).


def inception_v4_a(in_channels: int = 384, **options) -> Mixed:
    """35x35 (fig. 4): avg -> 1x1 96 | 1x1 96 | 1x1 64 -> 3x3 96 | 1x1 64 -> 3x3 96 -> 3x3 96."""
    return Mixed(in_channels, {
        "pool": ["avg", (96, 1)], "1x1": [(96, 1)], "3x3": [(64, 1), (96, 3)],
        "3x3dbl": [(64, 1), (96, 3), (96, 3)],
    }, **options)


def inception_v4_b(in_channels: int = 1024, **options) -> Mixed:
    """17x17 (fig. 5): avg -> 1x1 128 | 1x1 384 | 1x1 192 -> 1x7 224 -> 7x1 256 |
    1x1 192 -> 1x7 192 -> 7x1 224 -> 1x7 224 -> 7x1 256."""
    return Mixed(in_channels, {
        "pool": ["avg", (128, 1)], "1x1": [(384, 1)],
        "7x7": [(192, 1), *_asymmetric(7, [224, 256])],
        "7x7dbl": [(192, 1), *_asymmetric(7, [192, 224, 224, 256])],
    }, **options)


def inception_v4_c(in_channels: int = 1536, **options) -> Mixed:
    """8x8 (fig. 6): avg -> 1x1 256 | 1x1 256 | 1x1 384 -> (1x3 | 3x1) 256 each |
    1x1 384 -> 1x3 448 -> 3x1 512 -> (1x3 | 3x1) 256 each."""
    split = Split((256, (1, 3)), (256, (3, 1)))
    return Mixed(in_channels, {
        "pool": ["avg", (256, 1)], "1x1": [(256, 1)], "3x3": [(384, 1), split],
        "3x3dbl": [(384, 1), *_asymmetric(3, [448, 512]), split],
    }, **options)


def reduction_a(in_channels: int = 384, k: int = 192, l: int = 224,  # noqa: E741 (the paper's)
                m: int = 256, n: int = 384, **options) -> Mixed:
    """35 -> 17 (fig. 7): max pool/2 | 3x3/2 n | 1x1 k -> 3x3 l -> 3x3/2 m; the paper's table 1
    gives (k, l, m, n) per network, v4's by default."""
    return Mixed(in_channels, {
        "pool": ["max/2"], "3x3": [(n, 3, 2)], "3x3dbl": [(k, 1), (l, 3), (m, 3, 2)],
    }, **options)


def reduction_b(in_channels: int = 1024, **options) -> Mixed:
    """17 -> 8 (fig. 8): max pool/2 | 1x1 192 -> 3x3/2 192 | 1x1 256 -> 1x7 256 -> 7x1 320 ->
    3x3/2 320."""
    return Mixed(in_channels, {
        "pool": ["max/2"], "3x3": [(192, 1), (192, 3, 2)],
        "7x7": [(256, 1), *_asymmetric(7, [256, 320]), (320, 3, 2)],
    }, **options)


class InceptionResNetBlock(nn.Module):
    """``act(x + scale * up(branches(x)))``: an inception block as a residual branch.

    The branches replace the pool branch by the shortcut; ``up`` is a linear 1x1 convolution
    (bias, no norm, no activation) that brings the concatenation back to x's width so the sum
    is defined. ``scale`` (0.1-0.3 in the paper) damps the residual so very wide networks train.
    """

    def __init__(self, in_channels: int, branches: dict[str, Sequence[Layer]], *,
                 scale: float = 1.0, act_layer: Factory = nn.ReLU, **options):
        super().__init__()
        self.branches = Mixed(in_channels, branches, act_layer=act_layer, **options)
        self.up = nn.Conv2d(self.branches.out_channels, in_channels, 1, bias=True)
        self.scale = float(scale)
        self.act = act_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.scale * self.up(self.branches(x)))


def inception_resnet_a(in_channels: int = 384, scale: float = 0.17, **options
                       ) -> InceptionResNetBlock:
    """35x35 (fig. 16): 1x1 32 | 1x1 32 -> 3x3 32 | 1x1 32 -> 3x3 48 -> 3x3 64, then 1x1 up."""
    return InceptionResNetBlock(in_channels, {
        "1x1": [(32, 1)], "3x3": [(32, 1), (32, 3)], "3x3dbl": [(32, 1), (48, 3), (64, 3)],
    }, scale=scale, **options)


def inception_resnet_b(in_channels: int = 1154, scale: float = 0.1, **options
                       ) -> InceptionResNetBlock:
    """17x17 (fig. 17): 1x1 192 | 1x1 128 -> 1x7 160 -> 7x1 192, then 1x1 up."""
    return InceptionResNetBlock(in_channels, {
        "1x1": [(192, 1)], "7x7": [(128, 1), *_asymmetric(7, [160, 192])],
    }, scale=scale, **options)


def inception_resnet_c(in_channels: int = 2048, scale: float = 0.2, **options
                       ) -> InceptionResNetBlock:
    """8x8 (fig. 19): 1x1 192 | 1x1 192 -> 1x3 224 -> 3x1 256, then 1x1 up."""
    return InceptionResNetBlock(in_channels, {
        "1x1": [(192, 1)], "3x3": [(192, 1), *_asymmetric(3, [224, 256])],
    }, scale=scale, **options)
