"""The course as a learner meets it: JupyterLab in Chromium, Run > Run All Cells from the menu, and
what the page then shows.

The notebooks run as handed out, exercises unsolved. A stub raises only when called, and the
check cell after it catches that and prints "not solved yet", so a learner who runs everything
first sees no error box at all; any error output is therefore a failure, with no exceptions
allowed. The copies are served from a temporary folder, so JupyterLab's autosave never writes
outputs into notebooks/. A last test runs a deliberately broken notebook to show that every
kind of problem the checks look for is reported.
"""

import os
import re
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from cnnlab import widgets
from cnnlab.config import REPO_ROOT
from tests.jupyterlab_browser import (
    CHROMIUM,
    finished_bars,
    jupyter_lab,
    open_notebook,
    problems,
    run_all_cells,
    screenshot,
)
from tests.notebook_factory import write_notebook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (Debian: apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One server per test worker, on copies of notebooks/, in the environment `make test` gives."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO_ROOT / "notebooks", root / "notebooks")
    scratch = tmp_path_factory.mktemp("jupyter")
    env = {"CNNLAB_PROFILE": "smoke", "OMP_NUM_THREADS": "1",
           "CNNLAB_CHECKPOINTS": str(scratch / "checkpoints"),
           "TORCH_EXTENSIONS_DIR": os.environ.get("TORCH_EXTENSIONS_DIR",
                                                  str(REPO_ROOT / ".cache" / "torch_extensions"))}
    with jupyter_lab(root, scratch, env) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _run_as_a_learner(page, lab, path, shot) -> bool:
    """Open and run ``path`` as a learner would; whether a progress widget was drawn meanwhile."""
    open_notebook(page, lab, path)
    saw_widget = run_all_cells(page)
    screenshot(page, shot)  # before the checks, so a failure leaves its picture behind
    return saw_widget


def test_start_here_runs_clean_with_live_progress_bars(lab, page, tmp_path):
    saw_widget = _run_as_a_learner(page, lab, "notebooks/00_start_here.ipynb",
                                   tmp_path / "00_start_here.png")
    assert saw_widget, "training's progress bar was never drawn as a widget"
    assert problems(page) == []
    bars = finished_bars(page)  # and once finished, it left its final line as text
    assert any(bar.startswith("fit: 100%") for bar in bars), f"training's progress bar: {bars}"
    assert page.locator(".jp-OutputArea-output img").count() >= 3  # samples, curves, confusion


def _comparator(page):
    return page.locator(".jp-CodeCell").filter(has_text="widgets.block_comparator_widget()")


def _move_size_slider(comparator):
    """F one step (4) up with the arrow key; the standard convolution's MACs before and after,
    as compare_blocks gives them for what the sliders then read."""
    readouts = {}
    for slider in comparator.locator(".widget-slider").all():
        label = slider.locator(".widget-label").text_content()
        readouts[label] = int(slider.locator(".widget-readout").text_content())
    names = dict(M="in_channels", N="out_channels", m="mid_channels", K="kernel_size", g="groups",
                 F="size")
    values = {names[label]: value for label, value in readouts.items()}
    before = widgets.compare_blocks(**values)[0]["MACs"]
    size = comparator.locator(".widget-slider").filter(
        has=comparator.page.locator(".widget-label", has_text=re.compile("^F$")))
    size.locator(".noUi-handle").press("ArrowRight")
    expect(size.locator(".widget-readout")).to_have_text(str(values["size"] + 4))
    after = widgets.compare_blocks(**{**values, "size": values["size"] + 4})[0]["MACs"]
    return before, after


def test_counting_explorers_render_as_controls_and_follow_the_keyboard(lab, page, tmp_path):
    _run_as_a_learner(page, lab, "notebooks/01_counting.ipynb", tmp_path / "01_counting.png")
    assert problems(page) == []
    assert page.locator(".jp-OutputArea-output img").count() >= 3
    calculator = page.locator(".jp-CodeCell").filter(has_text="widgets.conv_calculator_widget(")
    expect(calculator.locator(".widget-output table")).to_have_count(1)
    expect(calculator.locator(".widget-text input[type=number]")).to_have_count(7)
    expect(calculator.locator(".widget-checkbox input[type=checkbox]")).to_have_count(1)
    expect(_comparator(page).locator(".widget-slider")).to_have_count(6)
    output = _comparator(page).locator(".widget-output")
    expect(output.locator("table")).to_have_count(1)
    expect(output.locator("img")).to_have_count(1)
    before, after = _move_size_slider(_comparator(page))
    expect(output).to_contain_text(f"{after:,}")
    expect(output).not_to_contain_text(f"{before:,}")
    expect(output.locator("img")).to_have_count(1)  # the chart was redrawn, not replaced
    expect(_comparator(page)).not_to_contain_text("Not a valid layer")


BROKEN = (  # cell sources, and what the checks must say about each (by 1-based cell number)
    ('print("fine")', []),
    ('import sys\nprint("a warning", file=sys.stderr)', ["stderr box"]),
    ("from tqdm.std import tqdm\nfor _ in tqdm(range(3)):\n    pass",
     ["stderr box", "progress bar printed as text"]),
    ("from IPython.display import HTML, display\ndisplay(HTML('<img src=\"missing.png\">'))",
     ["image not loaded"]),
    # A view of a model the kernel never made: what a reopened notebook shows for closed bars.
    ('display({"application/vnd.jupyter.widget-view+json": {"model_id": "0" * 32,'
     ' "version_major": 2, "version_minor": 0}}, raw=True)', ["widget not rendered"]),
    # What JupyterLab falls back to when it has no widget manager: the bundle's text.
    ("import ipywidgets\ndisplay({'text/plain': repr(ipywidgets.IntSlider(3))}, raw=True)",
     ["widget shown as text"]),
    ("1 / 0", ["error output"]),
    ('print("after the error")', ["not run"]),
)


def test_the_checks_report_each_kind_of_breakage(lab, page, tmp_path):
    write_notebook(lab.root / "broken.ipynb", *(source for source, _ in BROKEN))
    _run_as_a_learner(page, lab, "broken.ipynb", tmp_path / "broken.png")
    found = problems(page)
    kinds = sorted(": ".join(problem.split(": ")[:2]) for problem in found)
    assert kinds == sorted(f"cell {n}: {kind}" for n, (_, expected) in enumerate(BROKEN, 1)
                           for kind in expected), found
    assert "cell 7: error output: ZeroDivisionError: division by zero" in found
