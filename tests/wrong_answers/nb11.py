import torch


def global_magnitude_masks_layer_wise(weights, sparsity):
    """Ranks each layer on its own: every layer loses the same fraction."""
    masks = []
    for w in weights:
        drop = round(sparsity * w.numel())
        masks.append(torch.ones_like(w, dtype=torch.bool) if drop == 0
                     else w.abs() > w.abs().flatten().kthvalue(drop).values)
    return masks


def global_magnitude_masks_signed(weights, sparsity):
    """Ranks the signed values: drops the most negative weights, however large."""
    values = torch.cat([w.flatten() for w in weights])
    drop = round(sparsity * values.numel())
    if drop == 0:
        return [torch.ones_like(w, dtype=torch.bool) for w in weights]
    threshold = values.kthvalue(drop).values
    return [w > threshold for w in weights]


def global_magnitude_masks_transposed(weights, sparsity):
    """Right masks, returned transposed (as if rows and columns were swapped)."""
    magnitudes = torch.cat([w.abs().flatten() for w in weights])
    drop = round(sparsity * magnitudes.numel())
    threshold = magnitudes.kthvalue(max(drop, 1)).values if drop else -1.0
    return [(w.abs() > threshold).transpose(0, -1) if w.dim() > 1 else (w.abs() > threshold).flip(0)
            for w in weights]


def quantize_int8_symmetric(x):
    """Symmetric: scale max|x| / 127 and zero point 0, wasting half the codes on one-signed data."""
    scale = float(x.abs().max()) / 127 or 1.0
    return torch.clamp(torch.round(x / scale), -128, 127).to(torch.int8), scale, 0


def quantize_int8_unrounded(x):
    """Forgets to round: the codes and the zero point stay floats."""
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero_point = -128 - low / scale
    return torch.clamp(x / scale + zero_point, -128, 127), scale, zero_point


def quantize_int8_range_without_zero(x):
    """Maps [x.min(), x.max()] without widening it to hold 0."""
    low, high = float(x.min()), float(x.max())
    scale = (high - low) / 255 or 1.0
    zero_point = int(min(max(-128 - round(low / scale), -128), 127))
    return torch.clamp(torch.round(x / scale) + zero_point, -128, 127).to(torch.int8), scale, zero_point


def dequantize_int8_plus(q, scale, zero_point):
    """Adds the zero point instead of subtracting it."""
    return scale * (q.float() + zero_point)


def dequantize_int8_in_int8(q, scale, zero_point):
    """Subtracts in int8, which wraps around."""
    return scale * (q - torch.tensor(zero_point, dtype=torch.int8)).float()


def rank_for_budget_float(out_features, in_features, budget):
    """Divides with /: a float rank."""
    return min(budget / (out_features + in_features), out_features, in_features)


def rank_for_budget_uncapped(out_features, in_features, budget):
    """Forgets that a rank beyond min(out, in) adds nothing."""
    return budget // (out_features + in_features)


def rank_for_budget_product(out_features, in_features, budget):
    """Counts the factors as r * out * in, as if they cost a matrix each."""
    return min(budget // (out_features * in_features), out_features, in_features)


def fold_batch_norm_no_sqrt(weight, bias, mean, var, gamma, beta, eps=1e-5):
    """Divides by the variance, not the standard deviation."""
    scale = gamma / (var + eps)
    return weight * scale.view(-1, 1, 1, 1), (bias - mean) * scale + beta


def fold_batch_norm_transposed(weight, bias, mean, var, gamma, beta, eps=1e-5):
    """Right values, weight returned with its output and input channels swapped."""
    scale = gamma / torch.sqrt(var + eps)
    return (weight * scale.view(-1, 1, 1, 1)).transpose(0, 1), (bias - mean) * scale + beta


def fold_batch_norm_no_mean(weight, bias, mean, var, gamma, beta, eps=1e-5):
    """Leaves the running mean out of the bias."""
    scale = gamma / torch.sqrt(var + eps)
    return weight * scale.view(-1, 1, 1, 1), bias * scale + beta


WRONG = {
    "11.global_magnitude_masks": [global_magnitude_masks_layer_wise, global_magnitude_masks_signed,
                                  global_magnitude_masks_transposed],
    "11.quantize_int8": [quantize_int8_symmetric, quantize_int8_unrounded,
                         quantize_int8_range_without_zero],
    "11.dequantize_int8": [dequantize_int8_plus, dequantize_int8_in_int8],
    "11.rank_for_budget": [rank_for_budget_float, rank_for_budget_uncapped, rank_for_budget_product],
    "11.fold_batch_norm": [fold_batch_norm_no_sqrt, fold_batch_norm_transposed, fold_batch_norm_no_mean],
}
