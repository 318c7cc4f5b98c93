"""GoogLeNet (Szegedy et al. 2015): nine inception modules, two auxiliary classifiers, no big FC.

Global average pooling feeds one 1024 -> classes layer, so the head holds 1.0M weights where
AlexNet's three FC layers hold 58.6M; that and the 1x1 reductions inside the modules are the
saving. Without its auxiliary heads GoogLeNet has 6.6M parameters, 9.2x fewer than AlexNet's
61.1M: the "12x" often quoted compares rounded figures (5M and 60M).

* ``googlenet`` - torchvision's layout and conventions (BatchNorm with eps=0.001 after every
  convolution, no conv bias, its "5x5" branch a 3x3, ``transform_input``), with the two auxiliary
  heads after 4a and 4d. ``torchvision.models.googlenet``'s state_dicts (aux heads included) load
  by renamed keys with identical outputs (:mod:`cnnlab.models.torchvision_keys`).
* ``googlenet_cifar`` - the CIFAR-10 form; with ``large_branch="3x3+3x3"`` it is seed 000's
  "Inception-E", whose 5x5 branches become two stacked 3x3. Adaptive pooling takes any input
  size. :func:`googlenet_cifar` documents the conventions that reproduce the seed's counts.

The auxiliary heads run in training only: a model in train mode returns
:class:`InceptionOutputs` (main logits and the auxiliary logits), in eval mode the main logits;
:func:`inception_loss` combines the losses.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.checks import choice
from cnnlab.layers.conv import ConvNormAct
from cnnlab.layers.inception import GOOGLENET_INCEPTION, InceptionModule
from cnnlab.models import register
from cnnlab.summary import mac_rule

__all__ = ["LOSS_WEIGHTS", "STEMS", "AuxClassifier", "AuxiliaryNet", "GoogLeNet",
           "InceptionOutputs", "TransformInput", "googlenet", "googlenet_cifar", "inception_loss",
           "init_truncated_normal"]


class InceptionOutputs(NamedTuple):
    """What a model with auxiliary heads returns in training: main logits, then one tensor per
    head in the order the heads sit in the network."""

    logits: torch.Tensor
    aux: tuple[torch.Tensor, ...]


class TransformInput(nn.Module):
    """Turns an input normalised with ImageNet's mean and std into one scaled to [-1, 1] per
    channel, the form Google's original weights were trained on (torchvision's
    ``transform_input``)."""

    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Constants, not buffers: they are no weights, and state_dicts stay torchvision's.
        mean, std = (x.new_tensor(v).view(1, 3, 1, 1) for v in (self.MEAN, self.STD))
        return x * (std / 0.5) + (mean - 0.5) / 0.5


@mac_rule(TransformInput)
def _affine_per_element(module, inputs, outputs) -> int:
    return outputs[0].numel()


class AuxClassifier(nn.Sequential):
    """GoogLeNet's side head: 4x4 average pool -> 1x1 conv 128 -> FC 1024 + ReLU -> dropout
    (0.7) -> FC. Adaptive pooling to 4x4 is what the paper's 5x5/3 pool gives on a 14x14 map."""

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.7,
                 norm_layer=nn.BatchNorm2d, bias: bool = False):
        super().__init__(OrderedDict(
            pool=nn.AdaptiveAvgPool2d(4),
            conv=ConvNormAct(in_channels, 128, 1, norm_layer=norm_layer, bias=bias),
            flatten=nn.Flatten(),
            fc1=nn.Linear(128 * 4 * 4, 1024),
            act=nn.ReLU(inplace=True),
            dropout=nn.Dropout(dropout),
            fc2=nn.Linear(1024, num_classes),
        ))


class AuxiliaryNet(nn.Module):
    """``features`` -> global average pool -> dropout -> ``fc``, with auxiliary heads tapping
    named layers of ``features`` while training (GoogLeNet's and Inception-v3's layout)."""

    def __init__(self, features: nn.Sequential, fc: nn.Linear, *, dropout: float,
                 aux: dict[str, nn.Module] | None = None):
        super().__init__()
        self.features = features
        self.aux = nn.ModuleDict(aux or {})
        unknown = set(self.aux) - set(dict(features.named_children()))
        if unknown:
            raise ValueError(f"auxiliary heads tap {sorted(unknown)}, which are not in features.")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor | InceptionOutputs:
        aux = []
        for name, layer in self.features.named_children():
            x = layer(x)
            if self.training and name in self.aux:
                aux.append(self.aux[name](x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return InceptionOutputs(logits, tuple(aux)) if aux else logits


class GoogLeNet(AuxiliaryNet):
    """torchvision's GoogLeNet in the course's blocks; its weights load by renamed keys
    (:func:`cnnlab.models.torchvision_keys.load_torchvision_state_dict`)."""

    def torchvision_names(self) -> dict[str, str]:
        """torchvision's module paths -> ours: its top-level layers sit in our ``features``, its
        ``aux1`` / ``aux2`` under the layers they tap, its bare first branch is our one-unit
        chain ``branch1.0``, and its BasicConv2d's ``bn`` is our unit's ``norm``."""
        heads = {"inception4a": "aux1", "inception4d": "aux2"}
        names = {}
        for ours, module in self.named_modules():
            if isinstance(module, nn.Conv2d | nn.BatchNorm2d | nn.Linear):
                theirs = re.sub(r"^aux\.(\w+)\.", lambda tap: f"{heads[tap[1]]}.",
                                ours.removeprefix("features."))
                theirs = re.sub(r"\.norm$", ".bn", theirs.replace(".branch1.0.", ".branch1."))
                names[theirs] = ours
        return names


# ------------------------------------------------------------------------------ the loss

# (main weight, weight of each auxiliary loss).
LOSS_WEIGHTS: dict[str, tuple[float, float]] = {"paper": (1.0, 0.3), "seed003": (0.7, 0.3)}


def inception_loss(outputs: torch.Tensor | InceptionOutputs, target: torch.Tensor, *,
                   weights: str | tuple[float, float] = "paper", **cross_entropy) -> torch.Tensor:
    """Cross-entropy of the main logits plus weighted cross-entropies of the auxiliary ones.

    ``total = w_main * L_main + w_aux * sum of the auxiliary losses``. ``weights="paper"`` is
    Szegedy et al.'s scheme: each auxiliary loss is added with weight 0.3 to the full main loss,
    and the heads are discarded at inference. ``"seed003"`` is the lecture's
    ``0.7 * L_end + 0.3 * L_auxiliary``, written for one auxiliary loss (its weights sum to 1);
    applied to GoogLeNet's two heads each gets 0.3, so the weights sum to 1.3. A pair gives any
    other weighting. Eval-mode outputs (plain logits, no heads) give the main loss alone.
    ``cross_entropy`` options (e.g. ``label_smoothing``) pass to every term.
    """
    if isinstance(weights, str):
        main_weight, aux_weight = LOSS_WEIGHTS[choice("weights", weights, tuple(LOSS_WEIGHTS))]
    else:
        main_weight, aux_weight = map(float, weights)
    if isinstance(outputs, torch.Tensor):
        return F.cross_entropy(outputs, target, **cross_entropy)
    total = main_weight * F.cross_entropy(outputs.logits, target, **cross_entropy)
    for logits in outputs.aux:
        total = total + aux_weight * F.cross_entropy(logits, target, **cross_entropy)
    return total


# ------------------------------------------------------------------------------ the builder

# Stems as data: (name, out_channels, kernel, stride) convolutions and "pool".
STEMS: dict[str, list[tuple | str]] = {
    "7x7+1x1+3x3": [("conv1", 64, 7, 2), "pool", ("conv2", 64, 1, 1), ("conv3", 192, 3, 1),
                    "pool"],
    "7x7+3x3": [("conv1", 64, 7, 2), "pool", ("conv2", 192, 3, 1), "pool"],
    "3x3": [("conv1", 192, 3, 1)],
}
_STAGES = ["3a", "3b", "pool", "4a", "4b", "4c", "4d", "4e", "pool", "5a", "5b"]


def build(num_classes: int, *, stem: str, pools: Sequence[Callable[[], nn.Module]],
          large_branch: str, model_class: type[AuxiliaryNet] = AuxiliaryNet,
          widen: str = "last", bias: bool = False, eps: float = 1e-5, aux_logits: bool = False,
          dropout: float = 0.2, aux_dropout: float = 0.7, transform_input: bool = False
          ) -> AuxiliaryNet:
    """The one GoogLeNet builder: a stem from :data:`STEMS`, the nine modules of table 1 with
    ``pools`` (one factory per pool, in order) between them, the head, optional aux heads."""
    norm = partial(nn.BatchNorm2d, eps=eps)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if transform_input:
        layers["transform"] = TransformInput()
    pools, channels = list(pools), 3
    for item in STEMS[choice("stem", stem, tuple(STEMS))] + _STAGES:
        if item == "pool":
            number = sum(name.startswith("maxpool") for name in layers) + 1
            layers[f"maxpool{number}"] = pools[number - 1]()
        elif isinstance(item, tuple):  # a stem convolution
            name, out, kernel, stride = item
            layers[name] = ConvNormAct(channels, out, kernel, stride, bias=bias, norm_layer=norm)
            channels = out
        else:
            widths = {k: v for k, v in GOOGLENET_INCEPTION[item].items() if k != "in_size"}
            layers[f"inception{item}"] = InceptionModule(**widths, large_branch=large_branch,
                                                         widen=widen, bias=bias, norm_layer=norm)
    aux = {tap: AuxClassifier(width, num_classes, dropout=aux_dropout, norm_layer=norm, bias=bias)
           for tap, width in (("inception4a", 512), ("inception4d", 528))} if aux_logits else None
    return model_class(nn.Sequential(layers), nn.Linear(1024, num_classes), dropout=dropout,
                       aux=aux)


def init_truncated_normal(model: nn.Module, std: float) -> nn.Module:
    """torchvision's ``init_weights=True``: truncated normal conv and FC weights (std 0.01 in
    GoogLeNet, 0.1 in Inception-v3), BN at 1 / 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std, a=-2, b=2)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


_CEIL_POOL3 = partial(nn.MaxPool2d, 3, stride=2, ceil_mode=True)


@register("googlenet", input_size=(3, 224, 224))
def googlenet(num_classes: int, *, aux_logits: bool = True, transform_input: bool = False,
              dropout: float = 0.2, aux_dropout: float = 0.7) -> GoogLeNet:
    """GoogLeNet as torchvision builds it, with its two auxiliary heads (training only)."""
    model = build(num_classes, model_class=GoogLeNet, stem="7x7+1x1+3x3", large_branch="3x3", eps=1e-3,
                  pools=[_CEIL_POOL3] * 3 + [partial(nn.MaxPool2d, 2, stride=2, ceil_mode=True)],
                  aux_logits=aux_logits, dropout=dropout, aux_dropout=aux_dropout,
                  transform_input=transform_input)
    return init_truncated_normal(model, std=0.01)


@register("googlenet_cifar", input_size=(3, 32, 32), num_classes=10)
def googlenet_cifar(num_classes: int, *, large_branch: str = "5x5", widen: str = "last",
                    stem: str = "3x3", bias: bool = True, aux_logits: bool = False,
                    dropout: float = 0.0) -> AuxiliaryNet:
    """GoogLeNet for 32x32 CIFAR-10, any input size; ``large_branch="3x3+3x3"`` is seed 000's
    Inception-E.

    The defaults are the widely used public CIFAR GoogLeNet: one 3x3 conv 3 -> 192 as the stem
    (a 7x7/2 stem and two pools would leave 4x4 maps before the first module), batch norm after
    every conv, conv bias, 3x3/2 max pools between the stages, global average pooling and one
    linear layer. (That code's "5x5" branch is two 3x3 widening first: ``widen="first"``.)

    Seed 000 reports 7,008,824 trainable parameters with 5x5 branches and 6,701,240 with two
    3x3. Our modules give exactly these numbers with ``stem="7x7+3x3", bias=True,
    widen="last", num_classes=1000``; what each convention contributes:

    * the difference, 307,584, fixes the factorised branch: per module the 5x5 r -> n (25rn)
      becomes 3x3 r -> r (9r^2) then 3x3 r -> n (9rn), and the middle layer adds 3 parameters
      per channel, which bias + BN (1 + 2) give: 16 * 23,808 - 9 * 8,064 - 3 * 256 (sums of
      r * n, r^2 and r over the nine modules; without bias the saving is 256 larger).
      Widening first (r -> n -> n) would add parameters instead of saving them;
    * the stem: a 7x7/2 conv 3 -> 64 and a 3x3 conv 64 -> 192, each with bias and BN
      (120,768), i.e. the ImageNet stem without its 1x1 conv 64 -> 64;
    * the head: 1024 -> 1000 (1,025,000), the ImageNet class count left in place though
      CIFAR-10 has 10 classes (the seed trains on 224x224 resized images, which fits this stem);
    * the nine modules with bias and BN everywhere: 5,863,056 (5x5) or 5,555,472 (3x3+3x3).

    The seed's -4.38% is 307,584 / 7,008,824 = 4.3885% cut to two decimals. The public CIFAR
    code's own count (3x3 stem, 10 classes, widening first) is 6,166,250.
    """
    pools = [partial(nn.MaxPool2d, 3, stride=2, padding=1)] * (4 if stem != "3x3" else 2)
    return build(num_classes, stem=stem, pools=pools, large_branch=large_branch, widen=widen,
                 bias=bias, aux_logits=aux_logits, dropout=dropout)
