"""Low-rank factorization: ``y = M x`` with ``M`` (out x in) replaced by ``y = A (B x)``.

The truncated SVD ``M ~ U_r S_r V_r^T`` is the best rank-r approximation (Eckart-Young), so
``B = S_r V_r^T`` (r x in) and ``A = U_r`` (out x r). Parameters fall from ``out * in`` to
``r * (out + in)``: a saving only while ``r < out * in / (out + in)``. A 1x1 convolution is the
same matrix applied at every pixel, so it factorizes the same way into two 1x1 convolutions.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cnnlab.checks import integer


def _matrix(layer: nn.Module) -> torch.Tensor:
    if isinstance(layer, nn.Linear):
        return layer.weight.detach()
    if isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.groups == 1 \
            and layer.stride == (1, 1) and layer.padding == (0, 0):
        return layer.weight.detach()[:, :, 0, 0]
    raise TypeError(f"low_rank factorizes an nn.Linear or a 1x1 nn.Conv2d (stride 1, no padding, "
                    f"groups 1), got {layer!r}.")


def low_rank(layer: nn.Module, rank: int) -> nn.Sequential:
    """Two thinner layers equal to ``layer``'s best rank-``rank`` approximation (bias kept)."""
    matrix = _matrix(layer)
    rank = integer("rank", rank)
    if rank > min(matrix.shape):
        raise ValueError(f"rank {rank} exceeds the weight's full rank bound {min(matrix.shape)} "
                         f"({matrix.shape[0]} x {matrix.shape[1]}).")
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    first, second = s[:rank, None] * vh[:rank], u[:, :rank]
    bias = layer.bias is not None
    out_features, in_features = matrix.shape
    if isinstance(layer, nn.Linear):
        down, up = nn.Linear(in_features, rank, bias=False), nn.Linear(rank, out_features, bias)
    else:
        down, up = nn.Conv2d(in_features, rank, 1, bias=False), nn.Conv2d(rank, out_features, 1, bias=bias)
    with torch.no_grad():
        down.weight.copy_(first.view_as(down.weight))
        up.weight.copy_(second.view_as(up.weight))
        if bias:
            up.bias.copy_(layer.bias)
    return nn.Sequential(down, up)


def low_rank_error(layer: nn.Module, rank: int) -> float:
    """Relative Frobenius error ``||M - M_r|| / ||M||`` of the rank-``rank`` approximation."""
    s = torch.linalg.svdvals(_matrix(layer))
    return float(s[rank:].square().sum().sqrt() / s.square().sum().sqrt())


def factorize(model: nn.Module, name: str, rank: int) -> nn.Module:
    """A copy of ``model`` with the submodule ``name`` (e.g. ``"7"``) replaced by :func:`low_rank`."""
    net = copy.deepcopy(model)
    parent_name, _, child = name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    setattr(parent, child, low_rank(net.get_submodule(name), rank))
    return net
