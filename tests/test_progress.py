"""cnnlab.progress: a finished notebook bar leaves its final state as text, nothing else changes."""

import pytest

from cnnlab import progress as progress_module
from cnnlab.progress import progress_bar


class Handle:
    """Stands in for IPython's DisplayHandle: records what the bar's display became."""

    def __init__(self):
        self.updates = []

    def update(self, obj, raw=False):
        assert raw
        self.updates.append(obj)


@pytest.fixture
def handle(monkeypatch):
    pytest.importorskip("ipywidgets")
    shown = Handle()
    monkeypatch.setattr(progress_module, "display", lambda widget, display_id: shown)
    return shown


def test_a_finished_notebook_bar_becomes_a_line_of_text(handle):
    for _ in progress_module._TextWhenDone(range(3), desc="epoch 1 train", unit="batch",
                                           leave=False):
        pass
    [final] = handle.updates
    assert set(final) == {"text/plain"}
    assert final["text/plain"].startswith("epoch 1 train: 100%") and "3/3" in final["text/plain"]


def test_an_interrupted_bar_keeps_its_widget(handle):
    for step in progress_module._TextWhenDone(range(5), desc="fit"):
        if step == 2:
            break
    assert handle.updates == []  # the red, unfinished bar stays what it was


def test_outside_a_notebook_it_is_plain_tqdm(capsys):
    assert [step for step in progress_bar(range(3), desc="plain")] == [0, 1, 2]
    assert "plain: 100%" in capsys.readouterr().err
