"""Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture").

Built from :mod:`cnnlab.layers.inception`'s v3 blocks (5x5 -> two 3x3, 7x7 -> 1x7 + 7x1, the
expanded 8x8 bank, the grid reductions), with BatchNorm (eps=0.001) after every convolution and
one auxiliary head after Mixed_6e, active in training only (see :mod:`cnnlab.models.googlenet`
for the outputs and the loss).

* ``inception_v3`` - torchvision's layout at 299x299 (any input from 75x75; the auxiliary head
  needs 299). ``torchvision.models.inception_v3``'s state_dicts load by renamed keys with
  identical outputs (:mod:`cnnlab.models.torchvision_keys`).
* ``inception_v3_cifar`` - the paper's low-resolution advice (section 9, and seed 003): the first
  convolution at stride 1 and no first pool, so a 32x32 image still reaches the 8x8 stage as 2x2.
  Its 17x17 stage is 5x5, too small for the auxiliary head's 5x5/3 pool, so it has none.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from cnnlab.layers.conv import ConvNormAct
from cnnlab.layers.inception import (
    Concat,
    Mixed,
    inception_v3_a,
    inception_v3_b,
    inception_v3_c,
    inception_v3_d,
    inception_v3_e,
)
from cnnlab.models import register
from cnnlab.models.googlenet import AuxiliaryNet, TransformInput, init_truncated_normal

__all__ = ["InceptionV3", "inception_v3", "inception_v3_cifar"]

_NORM = partial(nn.BatchNorm2d, eps=1e-3)
POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d)


class AuxHead(nn.Sequential):
    """5x5/3 average pool -> 1x1 conv 128 -> 5x5 conv 768 -> global pool -> FC."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__(OrderedDict(
            pool=nn.AvgPool2d(5, stride=3),
            conv0=ConvNormAct(in_channels, 128, 1, norm_layer=_NORM),
            conv1=ConvNormAct(128, 768, 5, padding=0, norm_layer=_NORM),
            avgpool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(768, num_classes),
        ))


# Stem as data: name -> (out_channels, kernel, stride, padding), "pool" a 3x3/2 max pool.
_STEM = [("Conv2d_1a_3x3", 32, 3, 2, 0), ("Conv2d_2a_3x3", 32, 3, 1, 0),
         ("Conv2d_2b_3x3", 64, 3, 1, 1), "pool", ("Conv2d_3b_1x1", 80, 1, 1, 0),
         ("Conv2d_4a_3x3", 192, 3, 1, 0), "pool"]
# Mixed blocks: name -> (block, its own arguments); each block's input is the last one's output.
_MIXED = [("Mixed_5b", inception_v3_a, {"pool_proj": 32}), ("Mixed_5c", inception_v3_a, {"pool_proj": 64}),
          ("Mixed_5d", inception_v3_a, {"pool_proj": 64}), ("Mixed_6a", inception_v3_b, {}),
          ("Mixed_6b", inception_v3_c, {"mid_channels": 128}),
          ("Mixed_6c", inception_v3_c, {"mid_channels": 160}),
          ("Mixed_6d", inception_v3_c, {"mid_channels": 160}),
          ("Mixed_6e", inception_v3_c, {"mid_channels": 192}), ("Mixed_7a", inception_v3_d, {}),
          ("Mixed_7b", inception_v3_e, {}), ("Mixed_7c", inception_v3_e, {})]  # fmt: skip


class InceptionV3(AuxiliaryNet):
    """torchvision's Inception3 in the course's blocks; its weights load by renamed keys
    (:func:`cnnlab.models.torchvision_keys.load_torchvision_state_dict`)."""

    def torchvision_names(self) -> dict[str, str]:
        """torchvision's module paths -> ours: its top-level layers sit in our ``features``, its
        ``AuxLogits`` under ``aux.Mixed_6e``, and a branch's k-th conv ``branch3x3dbl_k`` is the
        k-th unit of our chain (``_3a`` / ``_3b`` the parts of a split; a one-conv branch has
        no suffix, as in torchvision). Each unit's ``bn`` is our ``norm``."""
        names = {"fc": "fc"}

        def unit(theirs: str, ours: str) -> None:
            names[f"{theirs}.conv"], names[f"{theirs}.bn"] = f"{ours}.conv", f"{ours}.norm"

        for layer, block in self.features.named_children():
            if isinstance(block, ConvNormAct):
                unit(layer, f"features.{layer}")
            for branch, chain in block.named_children() if isinstance(block, Mixed) else ():
                convs = [(i, m) for i, m in enumerate(chain) if not isinstance(m, POOL_TYPES)]
                for k, (index, module) in enumerate(convs, 1):
                    theirs = f"{layer}.{branch}" + ("" if len(convs) == 1 else f"_{k}")
                    ours = f"features.{layer}.{branch}.{index}"
                    if isinstance(module, Concat):  # a split: parts a and b
                        for part, letter in zip(module, "ab", strict=True):
                            unit(theirs + letter, f"{ours}.{part}")
                    else:
                        unit(theirs, ours)
        if "Mixed_6e" in self.aux:
            for conv in ("conv0", "conv1"):
                unit(f"AuxLogits.{conv}", f"aux.Mixed_6e.{conv}")
            names["AuxLogits.fc"] = "aux.Mixed_6e.fc"
        return names


def build(num_classes: int, *, low_resolution: bool, aux_logits: bool, dropout: float,
          transform_input: bool) -> InceptionV3:
    """Inception-v3 from the tables above; ``low_resolution`` makes the first conv stride 1 and
    drops the first pool."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if transform_input:
        layers["transform"] = TransformInput()
    channels, pools = 3, 0
    for item in _STEM:
        if item == "pool":
            pools += 1
            if not (low_resolution and pools == 1):
                layers[f"maxpool{pools}"] = nn.MaxPool2d(3, stride=2)
            continue
        name, out, kernel, stride, padding = item
        stride = 1 if low_resolution and name == "Conv2d_1a_3x3" else stride
        layers[name] = ConvNormAct(channels, out, kernel, stride, padding=padding, norm_layer=_NORM)
        channels = out
    for name, block, arguments in _MIXED:
        layers[name] = block(channels, **arguments, norm_layer=_NORM)
        channels = layers[name].out_channels
    aux = {"Mixed_6e": AuxHead(768, num_classes)} if aux_logits else None
    model = InceptionV3(nn.Sequential(layers), nn.Linear(channels, num_classes),
                        dropout=dropout, aux=aux)
    init_truncated_normal(model, std=0.1)
    if aux_logits:
        nn.init.trunc_normal_(model.aux["Mixed_6e"].fc.weight, std=0.001, a=-2, b=2)
    return model


@register("inception_v3", input_size=(3, 299, 299))
def inception_v3(num_classes: int, *, aux_logits: bool = True, transform_input: bool = False,
                 dropout: float = 0.5) -> InceptionV3:
    """Inception-v3 as torchvision builds it, with its auxiliary head (training only)."""
    return build(num_classes, low_resolution=False, aux_logits=aux_logits, dropout=dropout,
                 transform_input=transform_input)


@register("inception_v3_cifar", input_size=(3, 32, 32), num_classes=10)
def inception_v3_cifar(num_classes: int, *, dropout: float = 0.5) -> InceptionV3:
    """Inception-v3 for 32x32 images: first conv at stride 1, no first pool, no auxiliary head."""
    return build(num_classes, low_resolution=True, aux_logits=False, dropout=dropout,
                 transform_input=False)
