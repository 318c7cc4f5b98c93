def shift_block_params_eq_4_9_only(in_channels, out_channels, projection):
    """Eq. 4.9's 2 m M with M = in, m = out: the two 1x1s as if both were in x out, no norms."""
    return 2 * in_channels * out_channels + (in_channels * out_channels if projection else 0)


def shift_block_params_float(in_channels, out_channels, projection):
    """The right count, computed with a true division: a float, not a whole count."""
    norms = 4 * out_channels + (2 * out_channels if projection else 0)
    return out_channels * (in_channels * (2 if projection else 1) + out_channels) + norms / 1


def shift_block_params_no_projection(in_channels, out_channels, projection):
    """Forgets the projection shortcut's 1x1 and batch norm."""
    return in_channels * out_channels + out_channels**2 + 4 * out_channels


def shift_block_params_one_norm_value(in_channels, out_channels, projection):
    """One value per channel for each batch norm instead of a scale and a shift."""
    extra = in_channels * out_channels + out_channels if projection else 0
    return in_channels * out_channels + out_channels**2 + 2 * out_channels + extra


def _count(depth, rate):
    """ResNet{depth}-Shift-{rate}'s parameters, counted from its blocks (right, and fast)."""
    a, b, c = (max(1, int(w / rate)) for w in (16, 32, 64))
    n = (depth - 2) // 6
    block = shift_block_params_right
    return 29 * a + 10 * c + 10 + sum(block(i, o, True) + (n - 1) * block(o, o, False)
                                      for i, o in ((a, a), (a, b), (b, c)))


def shift_block_params_right(in_channels, out_channels, projection):
    return (in_channels * out_channels * (2 if projection else 1) + out_channels**2
            + 4 * out_channels + (2 * out_channels if projection else 0))


def _closest(depth, target, steps, scale):
    return min(steps, key=lambda step: (abs(_count(depth, step / scale) - target), step)) / scale


def shift_rate_for_budget_under(depth, target):
    """The smallest rate whose count stays within the budget, not the closest count."""
    return next(step for step in range(1, 6401) if _count(depth, step / 100) <= target) / 100


def shift_rate_for_budget_tenths(depth, target):
    """Searches a grid of 0.1 instead of 0.01."""
    return _closest(depth, target, range(1, 640), 10)


def shift_rate_for_budget_width(depth, target):
    """Returns the width multiplier 1 / r instead of the rate."""
    return round(1 / _closest(depth, target, range(1, 6401), 100), 2)


def shift_rate_for_budget_no_projections(depth, target):
    """Counts every block as an identity block: the three projections left out."""
    def count(rate):
        a, b, c = (max(1, int(w / rate)) for w in (16, 32, 64))
        return _count(depth, rate) - sum(i * o + 2 * o for i, o in ((a, a), (a, b), (b, c)))
    return min(range(1, 6401), key=lambda step: (abs(count(step / 100) - target), step)) / 100


def choose_variant_mean_only(table, max_ms):
    """Ignores the spread: a net whose mean fits but whose slow runs do not is chosen."""
    fits = [row for row in table if row["cpu_ms"][0] <= max_ms]
    return min(fits, key=lambda row: (row["params"], row["cpu_ms"][0]))["network"] if fits else None


def choose_variant_fastest(table, max_ms):
    """Picks the fastest net that fits instead of the smallest."""
    fits = [row for row in table if sum(row["cpu_ms"]) <= max_ms]
    return min(fits, key=lambda row: row["cpu_ms"][0])["network"] if fits else None


def choose_variant_empty_string(table, max_ms):
    """Right choice, but '' instead of None when nothing fits (and the first of equal sizes)."""
    fits = [row for row in table if sum(row["cpu_ms"]) <= max_ms]
    return min(fits, key=lambda row: row["params"])["network"] if fits else ""


WRONG = {
    "09.shift_block_params": [shift_block_params_eq_4_9_only, shift_block_params_float,
                              shift_block_params_no_projection,
                              shift_block_params_one_norm_value],
    "09.shift_rate_for_budget": [shift_rate_for_budget_under, shift_rate_for_budget_tenths,
                                 shift_rate_for_budget_width,
                                 shift_rate_for_budget_no_projections],
    "09.choose_variant": [choose_variant_mean_only, choose_variant_fastest,
                          choose_variant_empty_string],
}
