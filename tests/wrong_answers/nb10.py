import torch


def encoder_params_float(variant, in_channels, out_channels, mid_channels, kernel_size=4,
                         groups=1):
    """The right counts, as floats (the division by g is not floored)."""
    k2 = kernel_size**2
    return {"conv": k2 * in_channels * out_channels,
            "dsc": k2 * in_channels + in_channels * out_channels,
            "shift": in_channels * mid_channels + mid_channels * out_channels,
            "shuffle": in_channels * mid_channels / groups + k2 * mid_channels
            + mid_channels * out_channels / groups}[variant] * 1.0


def encoder_params_dsc_full_depthwise(variant, in_channels, out_channels, mid_channels,
                                      kernel_size=4, groups=1):
    """Counts the depthwise conv as a full K^2 M M conv, and the shift's 3x3 as weights."""
    k2 = kernel_size**2
    return {"conv": k2 * in_channels * out_channels,
            "dsc": k2 * in_channels * in_channels + in_channels * out_channels,
            "shift": in_channels * mid_channels + 9 * mid_channels + mid_channels * out_channels,
            "shuffle": (in_channels * mid_channels + mid_channels * out_channels) // groups
            + k2 * mid_channels * mid_channels}[variant]


def skip_concat_up_first(skip, up):
    """The decoder's map first: the channels in the other order."""
    return torch.cat([up, skip], 1)


def skip_concat_transposed(skip, up):
    """Joins the right maps but hands back rows and columns swapped."""
    return torch.cat([skip, up], 1).transpose(2, 3)


def pixel_accuracy_unscaled(fake, real, tolerance=0.05):
    """Compares on [-1, 1] without halving the difference: twice as strict."""
    return 100 * ((fake - real).abs() <= tolerance).all(1).flatten(1).float().mean(1)


def pixel_accuracy_one_number(fake, real, tolerance=0.05):
    """One fraction for the whole batch, not a percentage per image."""
    return ((fake - real).abs() / 2 <= tolerance).all(1).float().mean()


def patch_rf_no_stride_one(n_layers):
    """Forgets the two stride-1 layers at the end."""
    side, jump = 1, 1
    for _ in range(n_layers):
        side += 3 * jump
        jump *= 2
    return side


def patch_rf_float(n_layers):
    """The right side as a float."""
    side, jump = 1.0, 1
    for stride in [2] * n_layers + [1, 1]:
        side += 3 * jump
        jump *= stride
    return side


WRONG = {
    "10.encoder_params": [encoder_params_float, encoder_params_dsc_full_depthwise],
    "10.skip_concat": [skip_concat_up_first, skip_concat_transposed],
    "10.pixel_accuracy": [pixel_accuracy_unscaled, pixel_accuracy_one_number],
    "10.patch_receptive_field": [patch_rf_no_stride_one, patch_rf_float],
}
