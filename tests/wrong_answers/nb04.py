import math

import torch.nn.functional as F
from torch import nn


def reduction_width_float(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    """The exact solution of the budget equation, a float, not rounded down to a width."""
    per_r = 2 * in_channels + 9 * ch3x3 + 25 * ch5x5
    return (budget / size**2 - in_channels * (ch1x1 + pool_proj)) / per_r


def reduction_width_ceil(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    """Rounds up, which goes over the budget."""
    per_r = 2 * in_channels + 9 * ch3x3 + 25 * ch5x5
    return math.ceil((budget / size**2 - in_channels * (ch1x1 + pool_proj)) / per_r)


def reduction_width_no_pool_proj(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    """Forgets that the pool branch's 1x1 projection costs MACs too."""
    per_r = 2 * in_channels + 9 * ch3x3 + 25 * ch5x5
    return (budget // size**2 - in_channels * ch1x1) // per_r


def reduction_width_3x3_for_5x5(in_channels, size, ch1x1, ch3x3, ch5x5, pool_proj, budget):
    """Prices the large branch as a 3x3 (torchvision's slip) instead of a 5x5."""
    per_r = 2 * in_channels + 9 * ch3x3 + 9 * ch5x5
    return (budget // size**2 - in_channels * (ch1x1 + pool_proj)) // per_r


def _unit(in_channels, out_channels, kernel_size, *, bias=False, norm=True):
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                        bias=bias)]
    return layers + ([nn.BatchNorm2d(out_channels)] if norm else []) + [nn.ReLU()]


def FactorisedBranchWidenFirst(in_channels, mid_channels, out_channels):
    """Widens at the first 3x3 (mid -> out -> out), as the widely copied CIFAR code does."""
    return nn.Sequential(*_unit(in_channels, mid_channels, 1), *_unit(mid_channels, out_channels, 3),
                         *_unit(out_channels, out_channels, 3))


def FactorisedBranchNoNorm(in_channels, mid_channels, out_channels):
    """Convs with bias and no batch norm: v1's units, not v2's."""
    return nn.Sequential(*_unit(in_channels, mid_channels, 1, bias=True, norm=False),
                         *_unit(mid_channels, mid_channels, 3, bias=True, norm=False),
                         *_unit(mid_channels, out_channels, 3, bias=True, norm=False))


def FactorisedBranchNoReduction(in_channels, mid_channels, out_channels):
    """Leaves out the 1x1 reduction: two 3x3 straight on the input."""
    return nn.Sequential(*_unit(in_channels, mid_channels, 3), *_unit(mid_channels, out_channels, 3))


def _saving(n, in_channels, mid_channels, out_channels):
    return 1 - mid_channels * (in_channels + out_channels) / (n * in_channels * out_channels)


def smallest_factorised_n_float(target, in_channels, mid_channels, out_channels):
    """Solves saving(n) = target for n exactly and returns that float."""
    return mid_channels * (in_channels + out_channels) / ((1 - target) * in_channels
                                                          * out_channels)


def smallest_factorised_n_at_least(target, in_channels, mid_channels, out_channels):
    """Accepts a saving equal to the target."""
    n = 2
    while _saving(n, in_channels, mid_channels, out_channels) < target:
        n += 1
    return n


def smallest_factorised_n_one_conv(target, in_channels, mid_channels, out_channels):
    """Counts only the 1 x n conv of the pair: saving 1 - 1/n."""
    n = 2
    while not 1 - 1 / n > target:
        n += 1
    return n


def combined_loss_mean(outputs, target, weights=(1.0, 0.3), label_smoothing=0.0):
    """Averages the auxiliary losses instead of adding each."""
    logits, aux = outputs
    total = weights[0] * F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    if aux:
        total = total + weights[1] * sum(
            F.cross_entropy(a, target, label_smoothing=label_smoothing) for a in aux) / len(aux)
    return total


def combined_loss_smooth_main_only(outputs, target, weights=(1.0, 0.3), label_smoothing=0.0):
    """Smooths the main head's labels only."""
    logits, aux = outputs
    total = weights[0] * F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    for a in aux:
        total = total + weights[1] * F.cross_entropy(a, target)
    return total


def combined_loss_weights_swapped(outputs, target, weights=(1.0, 0.3), label_smoothing=0.0):
    """Gives the main head the auxiliary weight and the heads the main one."""
    logits, aux = outputs
    total = weights[1] * F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    for a in aux:
        total = total + weights[0] * F.cross_entropy(a, target, label_smoothing=label_smoothing)
    return total


WRONG = {
    "04.reduction_width": [reduction_width_float, reduction_width_ceil,
                           reduction_width_no_pool_proj, reduction_width_3x3_for_5x5],
    "04.FactorisedBranch": [FactorisedBranchWidenFirst, FactorisedBranchNoNorm,
                            FactorisedBranchNoReduction],
    "04.smallest_factorised_n": [smallest_factorised_n_float, smallest_factorised_n_at_least,
                                 smallest_factorised_n_one_conv],
    "04.combined_loss": [combined_loss_mean, combined_loss_smooth_main_only,
                         combined_loss_weights_swapped],
}
