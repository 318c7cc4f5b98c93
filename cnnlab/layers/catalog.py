"""The five blocks of seed 002's chapter 3 doing one job, for comparing cost and time."""

from __future__ import annotations

from torch import nn

from cnnlab.layers.conv import ConvNormAct, Factory
from cnnlab.layers.residual import ResidualBlock, ShiftModule, ShuffleUnit
from cnnlab.layers.variants import DepthwiseSeparable

__all__ = ["same_job_blocks"]


def same_job_blocks(
    in_channels: int,
    out_channels: int,
    mid_channels: int,
    *,
    kernel_size: int = 3,
    groups: int = 2,
    shortcut: str = "auto",
    norm_layer: Factory | None = None,
) -> dict[str, nn.Module]:
    """A KxK conv, a DSC, ResNet's bottleneck (m = ``mid_channels``), the shuffle unit
    (``groups``) and the shift module, each turning M = ``in_channels`` maps into
    N = ``out_channels``, by name.

    Without a norm (the default) and without bias each block's count is the dissertation's
    (eqs. 3.1-3.21): at inference a batch norm folds into the conv before it. Activations,
    the shuffle, the shift and the residual sum stay in: they cost time though the equations
    count them as free. ``shortcut="none"`` leaves the sums out.
    """
    k = kernel_size
    bottleneck = {"mid_channels": mid_channels, "kernel_size": k, "norm_layer": norm_layer,
                  "shortcut": shortcut}
    return {
        f"conv {k}x{k}": ConvNormAct(in_channels, out_channels, k, norm_layer=norm_layer),
        "DSC": DepthwiseSeparable(in_channels, out_channels, k, norm_layer=norm_layer),
        "bottleneck": ResidualBlock(in_channels, out_channels, kind="bottleneck", **bottleneck),
        f"shuffle unit (g={groups})": ShuffleUnit(in_channels, out_channels, groups=groups,
                                                  **bottleneck),
        "shift module": ShiftModule(in_channels, out_channels, **bottleneck),
    }
