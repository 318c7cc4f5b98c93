"""ResNet (He et al. 2015, 2016): stages of residual blocks, ``x + F(x)``, so a block that has
nothing to add can pass its input on unchanged and depth stops hurting training.

Every network here is one :class:`ResNet` (stem -> stages -> global average pool -> linear) whose
blocks are :class:`cnnlab.layers.ResidualBlock`; a table gives each depth's blocks per stage.

* ImageNet: ``resnet18``, ``resnet34`` (basic blocks), ``resnet50`` (bottlenecks, torchvision's
  v1.5 with the stride on the 3x3). torchvision's weights load with
  :func:`cnnlab.models.torchvision_keys.load_torchvision_state_dict`. ``resnet18_cifar``,
  ``resnet34_cifar``, ``resnet50_cifar``: the same stages behind a 3x3 stride-1 stem without max
  pool, the usual form of these nets for 32x32 images.
* CIFAR (He et al. 2015, sec. 4.2): ``resnet20``, ``resnet56``, ``resnet110``: a 3x3 stem to 16
  maps, three stages of ``(depth - 2) / 6`` basic blocks with 16, 32, 64 channels, the last two
  halving the map in their first block. ``shortcut`` chooses what that block adds: ``"zero_pad"``
  (option A: subsample and pad with zeros, no parameters) or ``"projection"`` (option B: a strided
  1x1 + BN); every other shortcut is the identity. ``width`` multiplies every channel count
  (:func:`cnnlab.layers.make_divisible`, rounded down), ``variant`` / ``kind`` / ``groups`` /
  ``mid_ratio`` / ``ordering`` go to every block, so the -DSC, -Shift and -Shuffle nets are these
  networks with another variant. ``norm=False`` drops every batch norm (the convs get biases).
* ``plain20``, ``plain56``, ``plain110``: the same nets without any shortcut, for the
  degradation experiment (He et al. 2015, fig. 1).

Parameter counts for CIFAR-10 (pinned in ``tests/test_resnet.py``). He et al. print ~0.27M,
0.85M and 1.7M for option A: 269,722, 853,018 and 1,727,962 here. The dissertation (seed 002,
table 3) prints 272,762, 856,058 and 1,731,002: option B with ``stage1_projection=True``, a 1x1
projection + BN on the first block of *every* stage, stage 1's 16 -> 16 included. Of its 3,040
parameters over option A, 576 + 2,176 are the projections of stages 2 and 3 (32 x 16 and 64 x 32
weights, 2 x 32 and 2 x 64 BN parameters) and 288 the stage-1 projection (16 x 16 + 2 x 16).

The dissertation's optimised, expanded and reduced nets (tables 3-12) are these networks with
options, named by their table labels: :func:`dissertation_options` turns ``"ResNet20-Shift-0.35"``
or ``"ResNet56-2.4_block"`` into a name and options (:data:`DISSERTATION_VARIANTS` says what
each variant puts in a block), :func:`dissertation_resnet` builds it, and
:func:`rate_for_params` finds, by bisection, the width rate that gives a target parameter count.
``tests/test_optimized.py`` pins every row of tables 3-12 (CIFAR-10 and CIFAR-100).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.checks import choice, integer
from cnnlab.layers import (
    ORDERINGS,
    ConvNormAct,
    DSCVariant,
    ResidualBlock,
    Variant,
    make_divisible,
    resolve_variant,
)
from cnnlab.models import create, register

# depth -> (block kind, blocks per stage)
IMAGENET: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
IMAGENET_WIDTHS = (64, 128, 256, 512)  # each stage's 3x3 width
BOTTLENECK_EXPANSION = 4  # a bottleneck stage outputs 4x its 3x3 width
CIFAR_DEPTHS = (20, 56, 110)
CIFAR_WIDTHS = (16, 32, 64)


class ResNet(nn.Module):
    """``stem`` -> ``stages`` -> (``final`` norm / activation) -> global average pool -> ``fc``.

    Convolutions get He et al.'s initialisation (normal, fan-out), batch norms weight 1, bias 0.
    """

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Sequential], out_channels: int,
                 num_classes: int, final: nn.Module | None = None):
        super().__init__()
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.final = final
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out_channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        if self.final is not None:
            x = self.final(x)
        return self.fc(torch.flatten(self.pool(x), 1))

    def torchvision_names(self) -> dict[str, str]:
        """torchvision's module paths -> ours: ``layer2.0.conv1`` is ``stages.1.0.residual.
        spatial1.conv`` (its k-th conv and BN are our residual branch's k-th unit),
        ``downsample.0`` / ``.1`` our ``shortcut.conv`` / ``.norm``."""
        names = {"conv1": "stem.conv", "bn1": "stem.norm", "fc": "fc"}
        for i, stage in enumerate(self.stages):
            for j, block in enumerate(stage):
                theirs, ours = f"layer{i + 1}.{j}", f"stages.{i}.{j}"
                for k, (unit, _) in enumerate(block.residual.named_children(), start=1):
                    names[f"{theirs}.conv{k}"] = f"{ours}.residual.{unit}.conv"
                    names[f"{theirs}.bn{k}"] = f"{ours}.residual.{unit}.norm"
                if isinstance(block.shortcut, ConvNormAct):
                    names[f"{theirs}.downsample.0"] = f"{ours}.shortcut.conv"
                    names[f"{theirs}.downsample.1"] = f"{ours}.shortcut.norm"
        return names


def build(
    widths: Sequence[int],
    blocks: Sequence[int],
    num_classes: int,
    *,
    stem_width: int,
    stem_kernel: int = 3,
    stem_stride: int = 1,
    stem_pool: bool = False,
    kind: str = "basic",
    variant: str | Variant = "conv",
    groups: int = 1,
    mid_ratio: float | None = None,
    ordering: str = "original",
    shortcut: str = "projection",
    stage1_projection: bool = False,
    ungrouped_reduce_at: int | None = None,
    norm: bool = True,
) -> ResNet:
    """The one builder: stages of ``blocks[i]`` blocks giving ``widths[i]`` channels, every stage
    after the first halving the map in its first block.

    A block whose input and output shapes agree adds the identity; one that changes the shape
    adds ``shortcut`` (``"zero_pad"``, ``"projection"``, or ``"none"``, which removes every
    shortcut). ``stage1_projection`` gives stage 1's first block a projection too (the
    dissertation's convention; needs ``shortcut="projection"``). A bottleneck's middle width is
    ``mid_ratio`` x its output (default: the block's own, a quarter). ``ungrouped_reduce_at``
    (variant ``"shuffle"``): blocks whose input has exactly that many channels keep their first
    1x1 ungrouped (ShuffleNet's first stage). Pre-activation orderings
    leave the last sum without the norm / ReLU their units start with, so those follow the last
    stage once (He et al. 2016); the stem keeps its own.
    """
    shortcut = choice("shortcut", shortcut, ("zero_pad", "projection", "none"))
    ordering = choice("ordering", ordering, tuple(ORDERINGS))
    if stage1_projection and shortcut != "projection":
        raise ValueError(f"stage1_projection=True adds a 1x1 projection to stage 1 as to the "
                         f"other stages, which needs shortcut='projection', not {shortcut!r}.")
    if ungrouped_reduce_at is not None and resolve_variant(variant).name != "shuffle":
        raise ValueError("ungrouped_reduce_at leaves a shuffle block's first 1x1 ungrouped; "
                         "it needs variant='shuffle'.")
    norm_layer = nn.BatchNorm2d if norm else None  # without a norm a conv needs its bias
    stem = ConvNormAct(3, stem_width, stem_kernel, stem_stride, bias=not norm,
                       norm_layer=norm_layer)
    if stem_pool:
        stem.add_module("pool", nn.MaxPool2d(3, 2, 1))
    in_channels, stages = stem_width, []
    for index, (width, count) in enumerate(zip(widths, blocks, strict=True)):
        stage = []
        for position in range(integer("blocks", count)):
            stride = 2 if index > 0 and position == 0 else 1
            if shortcut == "none" or stride != 1 or in_channels != width:
                skip = shortcut
            else:
                skip = "projection" if stage1_projection and position == 0 else "identity"
            mid = None if mid_ratio is None else make_divisible(width * mid_ratio, groups)
            reduce = 1 if in_channels == ungrouped_reduce_at else None
            stage.append(ResidualBlock(in_channels, width, stride, kind=kind, variant=variant,
                                       mid_channels=mid, groups=groups, reduce_groups=reduce,
                                       bias=not norm, norm_layer=norm_layer, ordering=ordering,
                                       shortcut=skip))
            in_channels = width
        stages.append(nn.Sequential(*stage))
    unit = ORDERINGS[ordering].unit
    lead = unit[:unit.index("conv")]  # what a pre-activation unit does before its conv
    final = [norm_layer(in_channels) if part == "norm" else nn.ReLU(inplace=True)
             for part in lead if part == "act" or norm_layer is not None]
    return ResNet(stem, stages, in_channels, num_classes,
                  final=nn.Sequential(*final) if final else None)


def imagenet_resnet(depth: int, num_classes: int, *, cifar_stem: bool = False) -> ResNet:
    """torchvision's ResNet-``depth``; ``cifar_stem``: a 3x3 stride-1 stem, no max pool."""
    kind, blocks = IMAGENET[depth]
    expansion = BOTTLENECK_EXPANSION if kind == "bottleneck" else 1
    stem = {"stem_kernel": 3} if cifar_stem else {"stem_kernel": 7, "stem_stride": 2,
                                                  "stem_pool": True}
    return build([w * expansion for w in IMAGENET_WIDTHS], blocks, num_classes, stem_width=64,
                 kind=kind, **stem)


def cifar_resnet(depth: int, num_classes: int, *, width: float = 1.0, groups: int = 1,
                 **options) -> ResNet:
    """He et al.'s CIFAR ResNet-``depth``: ``(depth - 2) / 6`` blocks in each of three stages.

    The block count follows the basic net's depth whatever ``kind`` or ``variant`` (ResNet20
    has three blocks per stage, as the dissertation's ResNet20-Shift does).
    """
    if (integer("depth", depth) - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}.")
    if isinstance(width, bool) or not isinstance(width, int | float) or not width > 0:
        raise ValueError(f"width must be a positive multiplier such as 0.5 or 2, got {width!r}.")
    widths = [make_divisible(w * width, groups) for w in CIFAR_WIDTHS]
    blocks = (depth - 2) // 6
    return build(widths, [blocks] * len(widths), num_classes, stem_width=widths[0],
                 groups=groups, **options)


# ------------------------------------------------------------ the dissertation's nets (seed 002)

# Seed 002's base ResNets: option B shortcuts with a projection on stage 1 too (tables 3-4).
DISSERTATION_BASE = {"shortcut": "projection", "stage1_projection": True}
# What each of its variants puts in a block, on top of the base (chapter 4.4, tables 3-12).
DISSERTATION_VARIANTS = {
    "conv": {},
    # each 3x3 -> depthwise 3x3 (no BN, no ReLU) -> pointwise 1x1 + BN
    "dsc": {"variant": DSCVariant(depthwise_norm=False, depthwise_act=False)},
    # 1x1 in -> out + BN, shift, 1x1 out -> out carrying the stride + BN
    "shift": {"variant": "shift", "kind": "bottleneck", "mid_ratio": 1.0},
    # grouped 1x1 in -> mid, shuffle, depthwise 3x3, grouped 1x1 mid -> out, each + BN, mid = out;
    # the first 1x1 ungrouped where its input has 16 channels: a fixed count in the seed's code,
    # so it is the stem's width only at full width (tables 3-6 agree only with this reading)
    "shuffle": {"variant": "shuffle", "kind": "bottleneck", "mid_ratio": 1.0, "groups": 2,
                "ungrouped_reduce_at": 16},
}
LABEL = re.compile(r"ResNet(?P<depth>\d+)(?:-(?P<variant>DSC|Shift|Shuffle))?"
                   r"(?:-(?P<rate>\d+(?:\.\d+)?)(?P<block>_block)?)?")


def dissertation_options(label: str) -> tuple[str, dict]:
    """The model name and :func:`cnnlab.models.create` options of a row of seed 002's tables.

    ``"ResNet56-Shift"``: the base net with the shift blocks. A rate r divides the widths:
    ``"ResNet20-Shift-0.35"`` has every width, stem included, ``int(w / r)`` (``width=1 / r``);
    ``"ResNet20-2.4_block"`` keeps 16 / 32 / 64 channels but makes each block a bottleneck
    (1x1 -> 3x3 -> 1x1) of ``int(w / r)`` middle channels (``mid_ratio=1 / r``).
    """
    match = LABEL.fullmatch(label) if isinstance(label, str) else None
    if match is None:
        raise ValueError(f"{label!r} is not a seed 002 ResNet label such as 'ResNet20', "
                         "'ResNet56-Shift', 'ResNet20-Shuffle-0.27' or 'ResNet20-2.4_block'.")
    depth, variant, rate, block = match.group("depth", "variant", "rate", "block")
    options = {**DISSERTATION_BASE, **DISSERTATION_VARIANTS[(variant or "conv").lower()]}
    if rate is not None:
        if block and variant:
            raise ValueError(f"{label!r}: a '_block' row is the base net with bottlenecks; it "
                             "has no variant.")
        if block:
            options.update(kind="bottleneck", mid_ratio=1 / float(rate))
        else:
            options["width"] = 1 / float(rate)
    return f"resnet{depth}", options


def dissertation_resnet(label: str, num_classes: int = 10) -> ResNet:
    """The network of a row of seed 002's tables 3-12 (see :func:`dissertation_options`)."""
    name, options = dissertation_options(label)
    return create(name, num_classes, **options)


def rate_for_params(name: str, target: int, *, num_classes: int = 10, knob: str = "width",
                    decimals: int = 2, low: float | None = None, high: float = 64.0,
                    **options) -> float:
    """The rate r, on a grid of ``10**-decimals``, whose net has the parameter count closest
    to ``target``, found by bisection as the dissertation sized its nets (tables 5-12).

    ``knob`` is the option that gets ``1 / r``: ``"width"`` (every width ``int(w / r)``) or
    ``"mid_ratio"`` (the bottleneck's middle width). A larger r never adds a parameter, so
    bisection finds where the count crosses ``target``; of the two grid rates around it the
    closer wins (the smaller on a tie). Rates giving the same widths build the same net, and the
    smallest of them is returned. The nets are built on the meta device: no memory, no time.
    """
    knob = choice("knob", knob, ("width", "mid_ratio"))
    if not integer("decimals", decimals, minimum=0) <= 4:
        raise ValueError(f"decimals must be between 0 and 4, got {decimals}.")
    scale = 10**decimals
    first = 1 if low is None else max(1, round(low * scale))
    last = round(high * scale)

    def count(step: int) -> int:
        with torch.device("meta"):
            model = create(name, num_classes, **options, **{knob: scale / step})
        return sum(p.numel() for p in model.parameters())

    if not count(last) <= integer("target", target) <= count(first):
        raise ValueError(f"target {target:,} is outside what rates {first / scale:g} to "
                         f"{last / scale:g} give ({count(last):,} to {count(first):,}); "
                         "widen low / high.")
    lo, hi = first, last  # count(lo) >= target >= count(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) > target else (lo, mid)
    best = min((abs(count(step) - target), step) for step in (lo, hi))[1]
    while best > first and count(best - 1) == count(best):
        best -= 1  # the same widths: report the smallest rate
    return best / scale


def _register_imagenet(depth: int) -> None:
    kind, blocks = IMAGENET[depth]
    layers = f"{sum(blocks)} {kind} blocks"

    @register(f"resnet{depth}", input_size=(3, 224, 224),
              description=f"ResNet-{depth} (torchvision's): {layers}, 7x7 stem and max pool")
    def build_imagenet(num_classes: int) -> ResNet:
        return imagenet_resnet(depth, num_classes)

    @register(f"resnet{depth}_cifar", input_size=(3, 32, 32), num_classes=10,
              description=f"ResNet-{depth} for 32x32 images: {layers}, 3x3 stride-1 stem")
    def build_cifar_stem(num_classes: int) -> ResNet:
        return imagenet_resnet(depth, num_classes, cifar_stem=True)


def _register_cifar(depth: int) -> None:
    blocks = (depth - 2) // 6

    @register(f"resnet{depth}", input_size=(3, 32, 32), num_classes=10,
              description=f"ResNet-{depth} for CIFAR (He et al.): 3 stages of {blocks} blocks")
    def build_resnet(num_classes: int, *, shortcut: str = "zero_pad", width: float = 1.0,
                     variant: str | Variant = "conv", kind: str = "basic", groups: int = 1,
                     mid_ratio: float | None = None, ordering: str = "original",
                     stage1_projection: bool = False, ungrouped_reduce_at: int | None = None,
                     norm: bool = True) -> ResNet:
        return cifar_resnet(depth, num_classes, shortcut=shortcut, width=width, variant=variant,
                            kind=kind, groups=groups, mid_ratio=mid_ratio, ordering=ordering,
                            stage1_projection=stage1_projection,
                            ungrouped_reduce_at=ungrouped_reduce_at, norm=norm)

    @register(f"plain{depth}", input_size=(3, 32, 32), num_classes=10,
              description=f"ResNet-{depth} without shortcuts: {depth - 1} convs and a linear "
                          "layer, for the degradation experiment")
    def build_plain(num_classes: int, *, width: float = 1.0, variant: str | Variant = "conv",
                    kind: str = "basic", groups: int = 1, mid_ratio: float | None = None,
                    norm: bool = True) -> ResNet:
        return cifar_resnet(depth, num_classes, shortcut="none", width=width, variant=variant,
                            kind=kind, groups=groups, mid_ratio=mid_ratio, norm=norm)


for _depth in IMAGENET:
    _register_imagenet(_depth)
for _depth in CIFAR_DEPTHS:
    _register_cifar(_depth)
