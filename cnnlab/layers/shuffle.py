"""Channel shuffle (ShuffleNet; seed 002, fig. 15b): the permutation between two grouped convs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.checks import divides, integer

__all__ = ["ChannelShuffle", "channel_shuffle"]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups, as ``nn.ChannelShuffle`` does.

    A grouped convolution lets each group see only its own channels; shuffling between two of
    them hands every group of the second a share of every group of the first. Viewing the C
    channels as a (groups, C/groups) grid and reading it column by column moves channel
    ``i * C/groups + j`` to ``j * groups + i``; shuffling again with ``C/groups`` groups undoes it.
    A permutation: no parameters, no arithmetic.
    """
    groups = integer("groups", groups)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() < 3:
        raise ValueError(f"x must be (N, C, ...) with at least 3 dimensions, got shape "
                         f"{tuple(x.shape)}; add a batch dimension with x.unsqueeze(0).")
    divides("groups", groups, "x.shape[1] (the channels)", x.shape[1])
    return F.channel_shuffle(x, groups)


class ChannelShuffle(nn.ChannelShuffle):
    """:func:`channel_shuffle` as a layer: ``nn.ChannelShuffle`` with a clear error for bad C."""

    def __init__(self, groups: int):
        super().__init__(integer("groups", groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)
