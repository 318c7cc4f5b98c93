"""Interactive cost calculators: a convolution calculator and a block comparator; and the
guideline chooser (:func:`guideline_chooser_widget`) around :func:`cnnlab.guidelines.recommend`.

Each is a plain function that returns rows of data (:func:`conv_calculator`,
:func:`compare_blocks`), so it can be tested and printed without a browser, plus a function that
wraps it in ipywidgets controls (:func:`conv_calculator_widget`, :func:`block_comparator_widget`).
Their rows are shown with :class:`cnnlab.tables.Table`, the chart with
:func:`cnnlab.plots.block_chart`.
"""

from __future__ import annotations

import html
import math

import matplotlib.pyplot as plt

from cnnlab import arithmetic, guidelines, layers, plots
from cnnlab.summary import cost_of
from cnnlab.tables import Table

__all__ = [
    "BLOCK_FORMATS",
    "RealOrFakeQuiz",
    "block_comparator_widget",
    "block_table",
    "compare_blocks",
    "conv_calculator",
    "conv_calculator_widget",
    "guideline_chooser_widget",
    "valid_groups",
]


# ---------------------------------------------------------------------------- convolution calculator


def conv_calculator(
    in_channels: int,
    out_channels: int,
    in_size: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = True,
    dtype_bytes: int = 4,
) -> list[dict]:
    """Every cost of one square ``nn.Conv2d``, each with its formula filled in with the numbers.

    Rows ``{"quantity", "formula", "value"}``; the values are :func:`cnnlab.arithmetic.conv2d`'s,
    so bad arguments raise its ValueError naming the argument.
    """
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False, got {bias!r}.")
    cost = arithmetic.conv2d(
        in_channels, out_channels, in_size, kernel_size, stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=bias, dtype_bytes=dtype_bytes,
    )
    m, n, f, k, g = in_channels, out_channels, in_size, kernel_size, groups
    out = cost.out_shape[1]
    per_filter = f"({m}/{g})*{k}^2" if g > 1 else f"{m}*{k}^2"
    return [
        {"quantity": "output size",
         "formula": f"floor(({f} + 2*{padding} - {dilation}*({k} - 1) - 1) / {stride}) + 1",
         "value": out},
        {"quantity": "output shape (C x H x W)", "formula": f"{n} filters, {out} x {out} each",
         "value": "x".join(map(str, cost.out_shape))},
        {"quantity": "parameters",
         "formula": f"{n}*{per_filter}" + (f" + {n} biases" if bias else ""),
         "value": cost.params},
        {"quantity": "MACs", "formula": f"{n}*{out}^2 outputs * {per_filter} each",
         "value": cost.macs},
        {"quantity": "FLOPs", "formula": "2 * MACs (a multiply and an add each)",
         "value": cost.flops},
        {"quantity": "activation memory (bytes)", "formula": f"{n}*{out}^2 * {dtype_bytes}",
         "value": cost.activation_bytes},
        {"quantity": "elements moved",
         "formula": f"input {m}*{f}^2 + weights {cost.params} + output {n}*{out}^2",
         "value": cost.elements_moved},
        {"quantity": "ratio R (MACs per element moved)", "formula": "MACs / elements moved",
         "value": cost.ratio},
        {"quantity": "FLOP per byte", "formula": f"FLOPs / ({dtype_bytes} * elements moved)",
         "value": cost.flop_per_byte},
    ]


# ---------------------------------------------------------------------------- block comparator


def compare_blocks(
    in_channels: int = 128,
    out_channels: int = 128,
    mid_channels: int = 64,
    kernel_size: int = 3,
    groups: int = 2,
    size: int = 32,
) -> list[dict]:
    """The five blocks of :func:`cnnlab.layers.same_job_blocks` for the same job, side by side.

    M = ``in_channels`` -> N = ``out_channels`` on an F x F map (``size``), K x K kernels,
    m = ``mid_channels`` inside the three bottleneck-shaped blocks, g = ``groups`` for the
    shuffle unit's 1x1 convolutions. Bare counts as in the dissertation (no bias, no batch norm,
    no shortcut), stride 1, measured from the modules. Rows: block, params, MACs, R, FLOP per
    byte, and params and MACs as a fraction of the standard convolution's (eqs. 3.3/3.6 for DSC;
    the bottleneck is what eqs. 3.9/3.12 and 3.17 compare shuffle and shift against).
    """
    blocks = layers.same_job_blocks(in_channels, out_channels, mid_channels,
                                    kernel_size=kernel_size, groups=groups, shortcut="none")
    costs = {name: cost_of(block, (in_channels, size, size)) for name, block in blocks.items()}
    standard = next(iter(costs.values()))
    return [
        {"block": name, "params": cost.params, "MACs": cost.macs, "R": cost.ratio,
         "FLOP/byte": cost.flop_per_byte, "params / standard": cost.params / standard.params,
         "MACs / standard": cost.macs / standard.macs}
        for name, cost in costs.items()
    ]


# One number format for the block comparison, wherever it is shown.
BLOCK_FORMATS = {"R": "{:.2f}", "FLOP/byte": "{:.2f}", "params / standard": "{:.3f}",
                 "MACs / standard": "{:.3f}"}


def block_table(rows: list[dict], title: str = "") -> Table:
    """:func:`compare_blocks` rows as a table, in the comparator's number formats."""
    return Table(rows, formats=BLOCK_FORMATS, title=title)


def valid_groups(in_channels: int, out_channels: int, mid_channels: int, most: int = 16) -> list[int]:
    """Group counts the shuffle unit accepts for these widths (they must divide M, m and N)."""
    common = math.gcd(in_channels, out_channels, mid_channels)
    return [g for g in range(1, min(common, most) + 1) if common % g == 0]


# ---------------------------------------------------------------------------- widgets


def _explorer(controls: dict, compute, render) -> object:
    """Controls on top, ``render(compute(**values))`` below, refreshed on every change.

    A bad combination (groups not dividing channels, a kernel larger than the padded input) does
    not raise: the library's message appears above the output, which keeps showing the last valid
    choice, so the learner sees both what to change and what they had.
    """
    import ipywidgets as widgets

    out, problem = widgets.Output(), widgets.HTML()

    def refresh(_change=None) -> None:
        try:
            result = compute(**{name: control.value for name, control in controls.items()})
        except (TypeError, ValueError) as error:
            problem.value = (f"<b>Not a valid layer:</b> {html.escape(str(error))} "
                             "<i>(below: the last valid choice)</i>")
            return
        problem.value = ""
        with out:
            out.clear_output(wait=True)
            render(result)

    for control in controls.values():
        control.observe(refresh, names="value")
    refresh()
    boxes = list(controls.values())
    return widgets.VBox([widgets.HBox(boxes[i:i + 4]) for i in range(0, len(boxes), 4)]
                        + [problem, out])
def _int_box(description: str, value: int, low: int, high: int):
    import ipywidgets as widgets

    return widgets.BoundedIntText(value=value, min=low, max=high, description=description,
                                  style={"description_width": "initial"},
                                  layout=widgets.Layout(width="190px"))


def conv_calculator_widget(
    in_channels: int = 3, out_channels: int = 64, in_size: int = 32, kernel_size: int = 3,
    stride: int = 1, padding: int = 1, groups: int = 1,
):
    """:func:`conv_calculator` behind number boxes (C_in, C_out, input size, K, stride, padding,
    groups) and a bias checkbox; returns the ipywidgets box to display."""
    import ipywidgets as widgets
    from IPython.display import display

    controls = {
        "in_channels": _int_box("C_in", in_channels, 1, 4096),
        "out_channels": _int_box("C_out", out_channels, 1, 4096),
        "in_size": _int_box("input size", in_size, 1, 1024),
        "kernel_size": _int_box("K", kernel_size, 1, 31),
        "stride": _int_box("stride", stride, 1, 16),
        "padding": _int_box("padding", padding, 0, 32),
        "groups": _int_box("groups", groups, 1, 4096),
        "bias": widgets.Checkbox(value=True, description="bias"),
    }
    return _explorer(controls, conv_calculator, lambda rows: display(Table(rows)))


def block_comparator_widget(
    in_channels: int = 128, out_channels: int = 128, mid_channels: int = 64, kernel_size: int = 3,
    groups: int = 2, size: int = 32,
):
    """:func:`compare_blocks` behind sliders for M, N, m, K, g and F, with its table and chart.

    The g slider offers only the group counts that divide M, N and m (:func:`valid_groups`),
    updated as those move.
    """
    import ipywidgets as widgets
    from IPython.display import display

    def slider(description: str, value: int, low: int, high: int, step: int = 1):
        return widgets.IntSlider(value=value, min=low, max=high, step=step,
                                 description=description, continuous_update=False)

    controls = {
        "in_channels": slider("M", in_channels, 8, 512, 8),
        "out_channels": slider("N", out_channels, 8, 512, 8),
        "mid_channels": slider("m", mid_channels, 4, 256, 4),
        "kernel_size": slider("K", kernel_size, 1, 7, 2),
        "groups": widgets.SelectionSlider(
            options=valid_groups(in_channels, out_channels, mid_channels), value=groups,
            description="g", continuous_update=False),
        "size": slider("F", size, 4, 112, 4),
    }

    def offer_valid_groups(_change=None) -> None:
        g = controls["groups"]
        options = valid_groups(controls["in_channels"].value, controls["out_channels"].value,
                               controls["mid_channels"].value)
        g.options, g.value = options, g.value if g.value in options else options[-1]

    for name in ("in_channels", "out_channels", "mid_channels"):
        controls[name].observe(offer_valid_groups, names="value")

    def render(rows: list[dict]) -> None:
        display(block_table(rows))
        fig = plots.block_chart(rows)
        display(fig)
        plt.close(fig)

    return _explorer(controls, compare_blocks, render)


def guideline_chooser_widget(links: dict[str, str] | None = None):
    """Seed 002's fig. 29 as three checkboxes (smaller? faster? low-power device?) and the
    advice of :func:`cnnlab.guidelines.recommend`, each piece of evidence linked to ``links``
    (evidence key -> URL or ``#anchor`` of the cell that measured it)."""
    import ipywidgets as widgets

    links = links or {}
    boxes = {"smaller": widgets.Checkbox(description="smaller"),
             "faster": widgets.Checkbox(description="faster"),
             "low_power": widgets.Checkbox(description="low-power device")}
    answer = widgets.HTML()

    def refresh(_change=None) -> None:
        advice = guidelines.recommend(**{name: box.value for name, box in boxes.items()})
        tried = " then ".join(f"<b>{html.escape(t)}</b>" for t in advice.techniques)
        evidence = [f'<a href="{html.escape(links[key])}">{html.escape(guidelines.EVIDENCE[key])}'
                    "</a>" if key in links else html.escape(guidelines.EVIDENCE[key])
                    for key in advice.evidence]
        answer.value = (f"<p>Try: {tried or 'none of these techniques'}</p>"
                        f"<p>{html.escape(advice.reason)}</p>"
                        + (f"<p>Evidence: {'; '.join(evidence)}</p>" if evidence else ""))

    for box in boxes.values():
        box.observe(refresh, names="value")
    refresh()
    return widgets.VBox([*boxes.values(), answer])


# ---------------------------------------------------------------------------- real-or-fake quiz


class RealOrFakeQuiz:
    """A small perceptual study, as seed 002 ran one for pix2pix (section 5.4): images shown
    one at a time in a shuffled order, each answered "real" or "fake"; ``answers`` records
    ``(index, is_fake, said_fake)`` per image. :meth:`error_rate` is the seed's perceptual
    error: the share of *generated* images taken for real.

    ``images`` are C x H x W tensors in [-1, 1]; ``is_fake`` says which were generated.
    :meth:`answer` is what the buttons call, so the quiz can be driven without a browser.
    """

    def __init__(self, images, is_fake, *, seed: int = 0):
        if len(images) != len(is_fake) or not len(images):
            raise ValueError(f"give one is_fake flag per image: {len(images)} images, "
                             f"{len(is_fake)} flags.")
        import random

        self.images, self.is_fake = list(images), [bool(f) for f in is_fake]
        self.order = random.Random(seed).sample(range(len(self.images)), len(self.images))
        self.answers: list[tuple[int, bool, bool]] = []
        self._widget = None

    @property
    def done(self) -> bool:
        return len(self.answers) == len(self.images)

    def answer(self, said_fake: bool) -> None:
        """Record the answer for the image on show and move to the next one."""
        if self.done:
            raise RuntimeError("every image has been answered; build a new quiz to play again.")
        index = self.order[len(self.answers)]
        self.answers.append((index, self.is_fake[index], bool(said_fake)))
        if self._widget is not None:
            self._show()

    def error_rate(self) -> float | None:
        """Share of the answered generated images that were called real (None before any)."""
        fakes = [said for _, fake, said in self.answers if fake]
        return None if not fakes else sum(not said for said in fakes) / len(fakes)

    def _show(self) -> None:
        out, status = self._widget.children[1], self._widget.children[2]
        with out:
            out.clear_output(wait=True)
            if self.done:
                rate = self.error_rate()
                print(f"done: {len(self.answers)} answers; generated images taken for real: "
                      + ("none shown" if rate is None else f"{100 * rate:.0f}%"))
            else:
                image = self.images[self.order[len(self.answers)]]
                plots.image_grid([(image + 1) / 2], ncols=1, size=2.5)
                plt.show()
        status.value = f"image {min(len(self.answers) + 1, len(self.images))} of {len(self.images)}"

    def widget(self):
        """Buttons, the image on show and a counter; answers land in ``answers``."""
        import ipywidgets as widgets

        real, fake = widgets.Button(description="real"), widgets.Button(description="fake")
        real.on_click(lambda _: self.answer(False) if not self.done else None)
        fake.on_click(lambda _: self.answer(True) if not self.done else None)
        self._widget = widgets.VBox([widgets.HBox([real, fake]), widgets.Output(),
                                     widgets.Label()])
        self._show()
        return self._widget
