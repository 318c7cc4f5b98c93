"""The calculators' logic against real torch layers, their tables and charts, and the widgets."""

import matplotlib
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import arithmetic, plots, widgets

matplotlib.use("Agg")


def _macs(module: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() // 2


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------- convolution calculator

CONV_CONFIGS = [
    dict(in_channels=3, out_channels=96, in_size=227, kernel_size=11, stride=4),
    dict(in_channels=96, out_channels=256, in_size=27, kernel_size=5, padding=2, groups=2),
    dict(in_channels=16, out_channels=16, in_size=20, kernel_size=3, padding=2, dilation=2,
         groups=16, bias=False),
    dict(in_channels=8, out_channels=12, in_size=9, kernel_size=4, stride=3, padding=1),
]


@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_conv_calculator_agrees_with_a_real_conv2d(config):
    values = {row["quantity"]: row["value"] for row in widgets.conv_calculator(**config)}
    layer_args = {k: v for k, v in config.items() if k != "in_size"}
    conv = nn.Conv2d(**layer_args, device="meta")  # shapes and counts, no arithmetic
    x = torch.zeros(1, config["in_channels"], config["in_size"], config["in_size"], device="meta")
    out = conv(x)
    assert values["output size"] == out.shape[-1]
    assert values["output shape (C x H x W)"] == "x".join(map(str, out.shape[1:]))
    assert values["parameters"] == _params(conv)
    assert values["MACs"] == _macs(conv, x)
    assert values["FLOPs"] == 2 * values["MACs"]
    assert values["activation memory (bytes)"] == out.numel() * out.element_size()
    moved = x.numel() + _params(conv) + out.numel()
    assert values["elements moved"] == moved
    assert values["ratio R (MACs per element moved)"] == pytest.approx(values["MACs"] / moved)
    assert values["FLOP per byte"] == pytest.approx(values["FLOPs"] / (4 * moved))


def test_conv_calculator_fills_the_formulas_with_the_numbers():
    rows = widgets.conv_calculator(3, 96, 227, 11, stride=4)
    size_row = next(row for row in rows if row["quantity"] == "output size")
    assert "227" in size_row["formula"] and "11" in size_row["formula"]
    params_row = next(row for row in rows if row["quantity"] == "parameters")
    assert "biases" in params_row["formula"]


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    (dict(in_channels=6, out_channels=8, in_size=8, kernel_size=3, groups=4), ValueError,
     "groups"),
    (dict(in_channels=3, out_channels=8, in_size=4, kernel_size=7), ValueError, "kernel_size"),
    (dict(in_channels=-3, out_channels=8, in_size=8, kernel_size=3), ValueError, "in_channels"),
    (dict(in_channels=3, out_channels=8, in_size=8, kernel_size=3, bias="yes"), TypeError,
     "bias"),
])
def test_conv_calculator_names_the_bad_argument(kwargs, error, name):
    with pytest.raises(error, match=name):
        widgets.conv_calculator(**kwargs)


# ---------------------------------------------------------------------------- block comparator


def _torch_blocks(m_in: int, n_out: int, mid: int, k: int, g: int) -> dict[str, nn.Module]:
    """The five blocks from plain torch layers (no bias, no BN, no shortcut)."""
    pad = (k - 1) // 2

    def conv(cin, cout, kernel, groups=1):
        return nn.Conv2d(cin, cout, kernel, padding=(kernel - 1) // 2, groups=groups, bias=False)

    return {
        f"conv {k}x{k}": conv(m_in, n_out, k),
        "DSC": nn.Sequential(conv(m_in, m_in, k, m_in), conv(m_in, n_out, 1)),
        "bottleneck": nn.Sequential(conv(m_in, mid, 1), conv(mid, mid, k), conv(mid, n_out, 1)),
        f"shuffle unit (g={g})": nn.Sequential(conv(m_in, mid, 1, g), nn.ChannelShuffle(g),
                                 nn.Conv2d(mid, mid, k, padding=pad, groups=mid, bias=False),
                                 conv(mid, n_out, 1, g)),
        "shift module": nn.Sequential(conv(m_in, mid, 1), conv(mid, n_out, 1)),  # shift is free
    }


@pytest.mark.parametrize(("m_in", "n_out", "mid", "k", "g", "size"), [
    (128, 128, 64, 3, 2, 32),
    (32, 64, 16, 5, 4, 12),
    (24, 24, 12, 3, 3, 7),
])
def test_compare_blocks_agrees_with_torch_layers(m_in, n_out, mid, k, g, size):
    rows = {row["block"]: row for row in widgets.compare_blocks(m_in, n_out, mid, k, g, size)}
    x = torch.zeros(1, m_in, size, size)
    modules = _torch_blocks(m_in, n_out, mid, k, g)
    assert rows.keys() == modules.keys()
    standard = rows[f"conv {k}x{k}"]
    for name, module in modules.items():
        assert module(x).shape == (1, n_out, size, size)
        assert rows[name]["params"] == _params(module), name
        assert rows[name]["MACs"] == _macs(module, x), name
        assert rows[name]["params / standard"] == pytest.approx(
            rows[name]["params"] / standard["params"])


def test_compare_blocks_reproduces_the_dissertations_savings_ratios():
    m_in, mid, k, g = 128, 64, 3, 2
    rows = {row["block"]: row for row in widgets.compare_blocks(m_in, m_in, mid, k, g, 32)}
    assert rows["DSC"]["MACs / standard"] == pytest.approx(arithmetic.savings_dsc(m_in, k))
    bottleneck = rows["bottleneck"]
    assert rows["shuffle unit (g=2)"]["params"] / bottleneck["params"] == pytest.approx(
        arithmetic.savings_shuffle(m_in, mid, k, g))
    assert rows["shift module"]["MACs"] / bottleneck["MACs"] == pytest.approx(
        arithmetic.savings_shift(m_in, mid, k))
    assert rows["DSC"]["R"] == pytest.approx(arithmetic.ratio_dsc(m_in, 32, k))
    assert rows["shift module"]["R"] == pytest.approx(arithmetic.ratio_shift(m_in, mid, 32))


def test_compare_blocks_names_groups_that_do_not_divide():
    with pytest.raises(ValueError, match="groups"):
        widgets.compare_blocks(in_channels=128, mid_channels=64, groups=3)


def test_block_chart_labels_three_panels():
    rows = widgets.compare_blocks()
    fig = plots.block_chart(rows)
    assert len(fig.axes) == 3
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "log", "linear"]
    for ax in fig.axes:
        assert ax.get_ylabel() and ax.get_title()
        assert [t.get_text() for t in ax.get_xticklabels()] == [row["block"] for row in rows]
    fig.canvas.draw()
    log_labels = [t.get_text() for ax in fig.axes[:2] for t in ax.get_yticklabels()]
    assert log_labels and not any("$" in text for text in log_labels)  # plain text, no mathtext


# ---------------------------------------------------------------------------- widgets


def _controls(box) -> dict:
    import ipywidgets as widgets

    return {child.description: child for row in box.children if isinstance(row, widgets.HBox)
            for child in row.children}


def _problem(box) -> str:
    import ipywidgets as widgets

    return next(child.value for child in box.children if isinstance(child, widgets.HTML))


def test_conv_calculator_widget_recomputes_and_keeps_the_last_valid_layer(capsys):
    pytest.importorskip("ipywidgets")
    box = widgets.conv_calculator_widget(in_channels=3, out_channels=96, in_size=227,
                                         kernel_size=11, stride=4, padding=0)
    controls = _controls(box)
    assert {"C_in", "C_out", "input size", "K", "stride", "padding", "groups", "bias"} <= set(
        controls)
    assert "34,944" in capsys.readouterr().out and _problem(box) == ""
    controls["bias"].value = False
    assert "34,848" in capsys.readouterr().out
    controls["groups"].value = 2  # 3 input channels cannot be split in two
    message = _problem(box)
    assert message.startswith("<b>Not a valid layer:</b>") and "groups=2" in message
    assert not message.split("</b> ")[1].startswith(("'", '"'))  # plain text, not a str repr
    assert capsys.readouterr().out == ""  # the last valid table stays as it was
    controls["groups"].value = 1
    assert _problem(box) == "" and "34,848" in capsys.readouterr().out


def test_block_comparator_widget_offers_only_valid_group_counts(capsys):
    pytest.importorskip("ipywidgets")
    box = widgets.block_comparator_widget()
    controls = _controls(box)
    assert set(controls) == {"M", "N", "m", "K", "g", "F"}
    assert "shuffle unit (g=2)" in capsys.readouterr().out
    assert list(controls["g"].options) == [1, 2, 4, 8, 16]  # the divisors of gcd(128, 128, 64)
    controls["m"].value = 12  # gcd(128, 128, 12) = 4
    assert list(controls["g"].options) == [1, 2, 4] and controls["g"].value == 2
    controls["g"].value = 4
    assert "shuffle unit (g=4)" in capsys.readouterr().out and _problem(box) == ""
    controls["m"].value = 20  # gcd(128, 128, 20) = 4: g = 4 still divides, and is kept
    assert controls["g"].value == 4
    controls["N"].value = 72  # gcd(128, 72, 20) = 4 again; N = 8 * 9 never allows 8
    assert list(controls["g"].options) == [1, 2, 4]
    controls["m"].value = 24  # gcd(128, 72, 24) = 8
    assert list(controls["g"].options) == [1, 2, 4, 8]


def test_static_table_and_comparator_share_one_formatter():
    rows = widgets.compare_blocks()
    text = str(widgets.block_table(rows))
    assert "368.64" in text and "1.000" in text and "0.119" in text
    assert widgets.valid_groups(24, 36, 12) == [1, 2, 3, 4, 6, 12]
