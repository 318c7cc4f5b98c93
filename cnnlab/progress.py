"""Progress bars that leave a line of text behind when they finish.

In a notebook tqdm draws a widget. A saved notebook keeps no live widget, so a reopened one shows
"Error displaying widget: model not found" wherever a bar was, and a stored solution shows each
bar frozen at the 0% it was first drawn with. :func:`progress_bar` is ``tqdm.auto.tqdm`` except that,
in a notebook, a finished bar replaces its widget with its final state as plain text: what a
reader of the saved notebook wants to see (how far it got, how long it took).
"""

from __future__ import annotations

from IPython.display import display
from tqdm.auto import tqdm as auto_tqdm
from tqdm.notebook import tqdm as notebook_tqdm

__all__ = ["progress_bar"]


class _TextWhenDone(notebook_tqdm):
    """tqdm's notebook bar, shown through a display handle so that closing it can rewrite it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "display": False})
        self._handle = None
        if not self.disable:
            self._handle = display(self.container, display_id=True)
            self.displayed = True

    def close(self):
        finished = not self.disable and self._handle is not None and self.n >= (self.total or 0)
        super().close()
        if finished:
            self._handle.update({"text/plain": self.format_meter(**self.format_dict)}, raw=True)
            self._handle = None


def progress_bar(*args, **kwargs):
    """A progress bar, as ``tqdm.auto.tqdm(*args, **kwargs)`` (see the module docstring)."""
    bar = _TextWhenDone if issubclass(auto_tqdm, notebook_tqdm) else auto_tqdm
    return bar(*args, **kwargs)
