"""Building blocks, timm-style: every block takes ``norm_layer`` / ``act_layer`` factories
(``None`` leaves the layer out) and, where it has a spatial operator, a ``variant``.

=========  ================================================================================
module     owns
=========  ================================================================================
conv       ConvNormAct, NormActConv, ConvUnit (any order), unit_factory, make_divisible
           (width multipliers), same_padding, fold_batch_norm
shuffle    channel_shuffle, ChannelShuffle
variants   the spatial variants conv / dsc / shuffle / shift (Variant, resolve_variant) and
           DepthwiseSeparable
residual   ResidualBlock (basic, bottleneck; five orderings; identity / zero-pad / projection
           shortcuts), ShuffleUnit, ShiftModule
fire       FireModule (SqueezeNet)
inception  Mixed (branches as data), InceptionModule (naive, bottleneck, factorised large
           branch), GoogLeNet's widths; the v3 blocks, v4's and the Inception-ResNet blocks
catalog    same_job_blocks: the five blocks of seed 002's chapter 3 for one job
unet       pix2pix's UNetDown (any variant as the encoder conv), UNetUp, skip_concat,
           PatchLayer
=========  ================================================================================

What a block costs is measured from the module (:func:`cnnlab.summary.cost_of`); the compiled
shift operator is :mod:`cnnlab.ops`'s. Networks built from these blocks live in
:mod:`cnnlab.models`.
"""

from cnnlab.layers.catalog import same_job_blocks
from cnnlab.layers.conv import (
    ConvNormAct,
    ConvUnit,
    NormActConv,
    fold_batch_norm,
    make_divisible,
    same_padding,
    unit_factory,
)
from cnnlab.layers.fire import FireModule
from cnnlab.layers.inception import (
    GOOGLENET_INCEPTION,
    Concat,
    InceptionModule,
    InceptionResNetBlock,
    Mixed,
    Split,
)
from cnnlab.layers.residual import (
    ORDERINGS,
    SHORTCUTS,
    ResidualBlock,
    ShiftModule,
    ShuffleUnit,
    ZeroPadShortcut,
)
from cnnlab.layers.shuffle import ChannelShuffle, channel_shuffle
from cnnlab.layers.unet import PatchLayer, UNetDown, UNetUp, skip_concat
from cnnlab.layers.variants import (
    VARIANTS,
    ConvVariant,
    DepthwiseSeparable,
    DSCVariant,
    ShiftVariant,
    ShuffleVariant,
    Variant,
    resolve_variant,
)

__all__ = [
    "GOOGLENET_INCEPTION",
    "ORDERINGS",
    "SHORTCUTS",
    "VARIANTS",
    "ChannelShuffle",
    "Concat",
    "ConvNormAct",
    "ConvUnit",
    "ConvVariant",
    "DSCVariant",
    "DepthwiseSeparable",
    "FireModule",
    "InceptionModule",
    "InceptionResNetBlock",
    "Mixed",
    "NormActConv",
    "ResidualBlock",
    "ShiftModule",
    "ShiftVariant",
    "ShuffleUnit",
    "ShuffleVariant",
    "Split",
    "Variant",
    "ZeroPadShortcut",
    "channel_shuffle",
    "fold_batch_norm",
    "make_divisible",
    "resolve_variant",
    "same_job_blocks",
    "same_padding",
    "unit_factory",
    "PatchLayer",
    "UNetDown",
    "UNetUp",
    "skip_concat",
]
