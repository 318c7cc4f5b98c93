import torch

from cnnlab.ops import shift_reference


def _directions(channels, kernel_size, every_channel=False):
    """(dy, dx) per channel, interleaved; leftovers stay (0, 0) unless `every_channel`."""
    k2 = kernel_size * kernel_size
    used = channels if every_channel else channels // k2 * k2
    return [((c % k2) // kernel_size - kernel_size // 2, (c % k2) % kernel_size - kernel_size // 2)
            if c < used else (0, 0) for c in range(channels)]


def _spans(d, n):
    d = max(-n, min(n, d))
    return slice(max(-d, 0), n - max(d, 0)), slice(max(d, 0), n - max(-d, 0))


def _moved(x, table, sign=1, negate_columns=True):
    """out[c, y, x] = x[c, y + sign*dy, x + sign*dx] (dx keeps its sign unless negate_columns)."""
    out = torch.zeros_like(x)
    height, width = x.shape[-2:]
    for c, (dy, dx) in enumerate(table):
        (y_out, y_in), (x_out, x_in) = _spans(sign * dy, height), _spans(
            (sign if negate_columns else 1) * dx, width)
        out[:, c, y_out, x_out] = x[:, c, y_in, x_in]
    return out


def shift_with_roll(x, kernel_size):
    """torch.roll: what leaves one side comes back on the other instead of zeros."""
    out = x.clone()
    for c, (dy, dx) in enumerate(_directions(x.shape[1], kernel_size)):
        out[:, c] = torch.roll(x[:, c], shifts=(-dy, -dx), dims=(-2, -1))
    return out


def shift_contiguous(x, kernel_size):
    """Gives each direction a block of adjacent channels (the other grouping)."""
    return shift_reference(x, kernel_size, grouping="contiguous")


def shift_content_the_other_way(x, kernel_size):
    """Reads out[y, x] = x[y - dy, x - dx]: the picture moves along (dy, dx), not against it."""
    return _moved(x, _directions(x.shape[1], kernel_size), sign=-1)


def shift_rows_and_columns_swapped(x, kernel_size):
    """Takes d // K as the column offset and d % K as the row offset: the picture transposed."""
    return shift_reference(x.transpose(-1, -2), kernel_size).transpose(-1, -2)


def shift_every_channel(x, kernel_size):
    """Shifts the leftover channels too (c mod K^2 for every c)."""
    return _moved(x, _directions(x.shape[1], kernel_size, every_channel=True))


def backward_is_the_forward(grad, kernel_size):
    """Sends the gradient the same way as the forward instead of back."""
    return _moved(grad, _directions(grad.shape[1], kernel_size))


def backward_negates_rows_only(grad, kernel_size):
    """Negates dy but forgets dx."""
    return _moved(grad, _directions(grad.shape[1], kernel_size), sign=-1, negate_columns=False)


def backward_with_roll(grad, kernel_size):
    """The right direction, but wrapped around instead of zero-filled."""
    out = grad.clone()
    for c, (dy, dx) in enumerate(_directions(grad.shape[1], kernel_size)):
        out[:, c] = torch.roll(grad[:, c], shifts=(dy, dx), dims=(-2, -1))
    return out


def figures_without_the_write(seconds, nbytes, copy_seconds):
    """Counts the bytes read but not the bytes written."""
    return nbytes / seconds / 1e9, seconds / copy_seconds


def figures_in_gibibytes(seconds, nbytes, copy_seconds):
    """Divides by 2^30 instead of 10^9."""
    return 2 * nbytes / seconds / 2**30, seconds / copy_seconds


def figures_ratio_upside_down(seconds, nbytes, copy_seconds):
    """Gives the copy's time over the operator's (a speed, not a cost)."""
    return 2 * nbytes / seconds / 1e9, copy_seconds / seconds


WRONG = {
    "08.shift": [shift_with_roll, shift_contiguous, shift_content_the_other_way,
                 shift_rows_and_columns_swapped, shift_every_channel],
    "08.shift_backward": [backward_is_the_forward, backward_negates_rows_only, backward_with_roll],
    "08.memory_figures": [figures_without_the_write, figures_in_gibibytes,
                          figures_ratio_upside_down],
}
