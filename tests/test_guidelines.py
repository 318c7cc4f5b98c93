"""cnnlab.guidelines: every branch of seed 002's fig. 29, and the chooser widget around it."""

import itertools

import pytest

from cnnlab import widgets
from cnnlab.guidelines import EVIDENCE, recommend


@pytest.mark.parametrize(("need", "techniques"), [
    ({}, ()),  # meets the requirements: nothing to do
    ({"low_power": True}, ()),  # a low-power target alone asks for nothing
    ({"faster": True}, ()),  # faster on a high-power platform: not these techniques
    ({"faster": True, "low_power": True}, ("shift",)),
    ({"smaller": True}, ("shift", "dsc", "shuffle")),
    ({"smaller": True, "low_power": True}, ("shift", "dsc", "shuffle")),
    ({"smaller": True, "faster": True}, ("shift",)),  # size with latency controlled
    ({"smaller": True, "faster": True, "low_power": True}, ("shift",)),
])
def test_every_branch_of_the_flowchart(need, techniques):
    advice = recommend(**need)
    assert advice.techniques == techniques
    assert advice.technique == (techniques[0] if techniques else None)
    assert advice.reason.endswith(".")
    assert set(advice.evidence) <= set(EVIDENCE)


def test_every_combination_is_covered_and_reasons_differ():
    reasons = {recommend(smaller=s, faster=f, low_power=p).reason
               for s, f, p in itertools.product([False, True], repeat=3)}
    assert len(reasons) == 6  # low_power changes nothing unless something is needed, or faster
    assert "high-power" in recommend(faster=True).reason
    assert "high-power" in recommend(smaller=True, faster=True).reason
    assert "high-power" not in recommend(smaller=True, faster=True, low_power=True).reason


def test_needs_must_be_booleans():
    with pytest.raises(TypeError, match="faster must be True or False"):
        recommend(faster="yes")


def test_chooser_widget_follows_the_function():
    ipywidgets = pytest.importorskip("ipywidgets")
    box = widgets.guideline_chooser_widget(links={"latency": "#latency", "size": "#size"})
    boxes = {child.description: child for child in box.children
             if isinstance(child, ipywidgets.Checkbox)}
    answer = next(child for child in box.children if isinstance(child, ipywidgets.HTML))
    assert "meets its requirements" in answer.value
    boxes["faster"].value = True
    boxes["low-power device"].value = True
    assert "<b>shift</b>" in answer.value and 'href="#latency"' in answer.value
    boxes["low-power device"].value = False
    assert "none of these" in answer.value
