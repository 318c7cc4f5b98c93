import torch


def lenet_shapes_channels_last(size, kernel_size=5):
    """(height, width, channels) instead of (channels, height, width)."""
    shapes, side = [], size
    for index, channels in enumerate((6, 16, 120)):
        side = side - kernel_size + 1
        shapes.append((side, side, channels))
        if index < 2:
            side //= 2
            shapes.append((side, side, channels))
    return shapes


def lenet_shapes_off_by_one(size, kernel_size=5):
    """n - k instead of n - k + 1 for the convolutions."""
    shapes, side = [], size
    for index, channels in enumerate((6, 16, 120)):
        side = side - kernel_size
        shapes.append((channels, side, side))
        if index < 2:
            side //= 2
            shapes.append((channels, side, side))
    return shapes


def lenet_shapes_true_division(size, kernel_size=5):
    """Pooling as n / 2, which is wrong for odd sides."""
    shapes, side = [], size
    for index, channels in enumerate((6, 16, 120)):
        side = side - kernel_size + 1
        shapes.append((channels, side, side))
        if index < 2:
            side = side / 2
            shapes.append((channels, side, side))
    return shapes


def conv_params_no_bias(in_channels, out_channels, kernel_size, bias=True):
    """Forgets the biases."""
    return in_channels * out_channels * kernel_size**2


def conv_params_kernel_not_squared(in_channels, out_channels, kernel_size, bias=True):
    """k weights per input map instead of k x k."""
    return in_channels * out_channels * kernel_size + (out_channels if bias else 0)


def conv_params_bias_per_input(in_channels, out_channels, kernel_size, bias=True):
    """One bias per input and output map pair."""
    return out_channels * in_channels * (kernel_size**2 + (1 if bias else 0))


def grouped_ignores_groups(in_channels, out_channels, kernel_size, groups, bias=True):
    """Counts the convolution as if it were not grouped."""
    return out_channels * in_channels * kernel_size**2 + (out_channels if bias else 0)


def grouped_divides_twice(in_channels, out_channels, kernel_size, groups, bias=True):
    """Divides both the filters and their depth by the groups."""
    weights = (out_channels // groups) * (in_channels // groups) * kernel_size**2
    return weights + (out_channels if bias else 0)


def grouped_divides_bias(in_channels, out_channels, kernel_size, groups, bias=True):
    """Shares biases between groups."""
    weights = out_channels * (in_channels // groups) * kernel_size**2
    return weights + (out_channels // groups if bias else 0)


def pca_rows_not_columns(image, eigval, eigvec, alpha):
    """Treats the rows of eigvec as the eigenvectors."""
    return image + (eigvec.T @ (alpha * eigval)).view(3, 1, 1)


def pca_forgets_eigval(image, eigval, eigvec, alpha):
    """Scales the eigenvectors by alpha only."""
    return image + (eigvec @ alpha).view(3, 1, 1)


def pca_multiplies(image, eigval, eigvec, alpha):
    """Scales the image instead of shifting it."""
    return image * (1 + (eigvec @ (alpha * eigval)).view(3, 1, 1))


def pca_per_pixel_noise(image, eigval, eigvec, alpha):
    """Draws a different offset for every pixel."""
    noise = torch.randn(image.shape[1:], generator=torch.Generator().manual_seed(0))
    return image + (eigvec @ (alpha * eigval)).view(3, 1, 1) * (1 + noise)


WRONG = {
    "02.lenet_output_shapes": [lenet_shapes_channels_last, lenet_shapes_off_by_one,
                               lenet_shapes_true_division],
    "02.conv_params": [conv_params_no_bias, conv_params_kernel_not_squared,
                       conv_params_bias_per_input],
    "02.grouped_conv_params": [grouped_ignores_groups, grouped_divides_twice,
                               grouped_divides_bias],
    "02.pca_lighting": [pca_rows_not_columns, pca_forgets_eigval, pca_multiplies,
                        pca_per_pixel_noise],
}
