def size_true_division(size, kernel_size, stride=1, padding=0):
    """Forgets the floor: 224 with an 11x11 stride-4 kernel gives 54.25."""
    return (size + 2 * padding - kernel_size) / stride + 1


def size_as_float(size, kernel_size, stride=1, padding=0):
    """The right size, as a float (55.0): a size is a whole number of positions."""
    return float((size + 2 * padding - kernel_size) // stride + 1)


def size_padding_once(size, kernel_size, stride=1, padding=0):
    """Pads one side only."""
    return (size + padding - kernel_size) // stride + 1


def size_without_plus_one(size, kernel_size, stride=1, padding=0):
    """Counts the steps between windows instead of the windows."""
    return (size + 2 * padding - kernel_size) // stride


def params_ignoring_groups(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """Every filter sees every input map."""
    return out_channels * in_channels * kernel_size**2 + (out_channels if bias else 0)


def params_kernel_not_squared(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """A K x K filter counted as K weights per map."""
    return out_channels * in_channels // groups * kernel_size + (out_channels if bias else 0)


def params_bias_always(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """Ignores ``bias=False``."""
    return out_channels * in_channels // groups * kernel_size**2 + out_channels


def _out(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) // stride + 1


def macs_on_input_size(in_channels, out_channels, in_size, kernel_size, stride=1, padding=0,
                       groups=1):
    """Uses the input size where the output size belongs."""
    return out_channels * in_size**2 * in_channels // groups * kernel_size**2


def macs_counting_flops(in_channels, out_channels, in_size, kernel_size, stride=1, padding=0,
                        groups=1):
    """Counts a multiply and an add separately (FLOPs, not MACs)."""
    out = _out(in_size, kernel_size, stride, padding)
    return 2 * out_channels * out**2 * in_channels // groups * kernel_size**2


def macs_ignoring_groups(in_channels, out_channels, in_size, kernel_size, stride=1, padding=0,
                         groups=1):
    """A grouped convolution priced as a full one."""
    out = _out(in_size, kernel_size, stride, padding)
    return out_channels * out**2 * in_channels * kernel_size**2


def savings_kernel_not_squared(out_channels, kernel_size):
    """1/N + 1/K."""
    return 1 / out_channels + 1 / kernel_size


def savings_as_factor(out_channels, kernel_size):
    """How many times fewer, instead of the ratio."""
    return 1 / (1 / out_channels + 1 / kernel_size**2)


def savings_depthwise_only(out_channels, kernel_size):
    """Forgets the pointwise part."""
    return 1 / kernel_size**2


def ratio_with_flops(in_channels, out_channels, size, kernel_size):
    """FLOPs over elements: twice eq. 3.13."""
    macs = in_channels * out_channels * size**2 * kernel_size**2
    return 2 * macs / (size**2 * (in_channels + out_channels) + kernel_size**2 * in_channels
                       * out_channels)


def ratio_without_weights(in_channels, out_channels, size, kernel_size):
    """Counts only the feature maps as memory traffic."""
    macs = in_channels * out_channels * size**2 * kernel_size**2
    return macs / (size**2 * (in_channels + out_channels))


def ratio_without_output(in_channels, out_channels, size, kernel_size):
    """Forgets that the output is written."""
    macs = in_channels * out_channels * size**2 * kernel_size**2
    return macs / (size**2 * in_channels + kernel_size**2 * in_channels * out_channels)


def _shares(rows, is_conv, is_linear):
    total_bytes = sum(r["activation_bytes"] for r in rows)
    total_params = sum(r["params"] for r in rows)
    conv = sum(r["activation_bytes"] for r in rows if is_conv(r["type"]))
    linear = sum(r["params"] for r in rows if is_linear(r["type"]))
    return conv / total_bytes, linear / total_params


def memory_pools_count_as_conv(rows):
    """Counts pooling layers' maps as convolution memory."""
    return _shares(rows, lambda t: t == "Conv2d" or "Pool" in t, lambda t: t == "Linear")


def memory_params_in_conv(rows):
    """Reports the convolutions' parameter share instead of the linear layers'."""
    return _shares(rows, lambda t: t == "Conv2d", lambda t: t == "Conv2d")


def memory_as_percent(rows):
    """Percentages, not fractions."""
    conv, linear = _shares(rows, lambda t: t == "Conv2d", lambda t: t == "Linear")
    return 100 * conv, 100 * linear


WRONG = {
    "01.conv_output_size": [size_true_division, size_as_float, size_padding_once, size_without_plus_one],
    "01.conv_params": [params_ignoring_groups, params_kernel_not_squared, params_bias_always],
    "01.conv_macs": [macs_on_input_size, macs_counting_flops, macs_ignoring_groups],
    "01.dsc_savings": [savings_kernel_not_squared, savings_as_factor, savings_depthwise_only],
    "01.compute_to_memory_ratio": [ratio_with_flops, ratio_without_weights, ratio_without_output],
    "01.where_memory_goes": [memory_pools_count_as_conv, memory_params_in_conv, memory_as_percent],
}
