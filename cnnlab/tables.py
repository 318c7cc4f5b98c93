"""One way to show a table, in a notebook (HTML) and in a terminal (aligned text).

The explorers, :class:`cnnlab.summary.Summary`, :class:`cnnlab.train.Evaluation` and the
notebooks' "seed says / we compute" comparisons all render through :class:`Table`, so every table
in the course reads the same.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Table"]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Table:
    """Rows (dicts sharing keys) shown as a table; ``formats`` maps a column to a format string
    for its numbers.

    Integers get thousands separators and floats four significant digits unless told otherwise;
    text is shown as given. A column holding numbers sits right, so digits line up, and any text
    in it (a marker like "n/a") with them; other columns sit left. ``footer`` (totals, say) comes
    after a rule; ``notes`` is a line under the table for what the columns cannot say.
    """

    rows: Sequence[Mapping[str, object]]
    title: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)
    footer: Mapping[str, object] | None = None
    notes: str = ""

    def __post_init__(self):
        if not self.rows:
            raise ValueError("rows must hold at least one dict.")
        if any(not isinstance(row, Mapping) for row in self.rows):
            raise TypeError("rows must be dicts (column name -> value).")
        if self.footer is not None and not isinstance(self.footer, Mapping):
            raise TypeError(f"footer must be a dict (column name -> value) or None, "
                            f"got {type(self.footer).__name__}.")
        for argument, names in (("formats", self.formats), ("footer", self.footer or {})):
            unknown = set(names) - set(self.columns)
            if unknown:
                raise ValueError(f"{argument} names columns the rows lack: {sorted(unknown)}; "
                                 f"columns are {self.columns}.")

    @property
    def columns(self) -> list[str]:
        """Column names in first-seen order across all rows."""
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def _cell(self, column: str, value: object) -> str:
        if value is None:
            return ""
        if not _is_number(value):
            return str(value)
        if column in self.formats:
            return self.formats[column].format(value)
        return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"

    def _grid(self) -> tuple[list[list[str]], list[str] | None, list[bool]]:
        """Body and footer texts, and which columns sit right: those holding numbers."""
        lines = [*self.rows, *([self.footer] if self.footer is not None else [])]
        right = [any(_is_number(line.get(c)) for line in lines) for c in self.columns]
        body = [[self._cell(c, row.get(c)) for c in self.columns] for row in self.rows]
        footer = (None if self.footer is None
                  else [self._cell(c, self.footer.get(c)) for c in self.columns])
        return body, footer, right

    def __str__(self) -> str:
        body, footer, right = self._grid()
        grid = [self.columns, *body, *([footer] if footer is not None else [])]
        widths = [max(map(len, column)) for column in zip(*grid, strict=True)]

        def line(cells: list[str]) -> str:
            return "  ".join(
                text.rjust(width) if flush_right else text.ljust(width)
                for text, width, flush_right in zip(cells, widths, right, strict=True)
            ).rstrip()

        rule = "-" * max(len(line(cells)) for cells in grid)
        lines = [line(self.columns), rule, *map(line, body)]
        if footer is not None:
            lines += [rule, line(footer)]
        return "\n".join([*([self.title] if self.title else []), *lines,
                          *([self.notes] if self.notes else [])])

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        body, footer, right = self._grid()

        def row(tag: str, cells: list[str]) -> str:
            return "<tr>" + "".join(
                f'<{tag} style="text-align:{"right" if flush_right else "left"}">'
                f"{html.escape(text)}</{tag}>"
                for text, flush_right in zip(cells, right, strict=True)
            ) + "</tr>"

        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        foot = "" if footer is None else f"<tfoot>{row('th', footer)}</tfoot>"
        notes = f"<p>{html.escape(self.notes)}</p>" if self.notes else ""
        return (f"<table>{caption}<thead>{row('th', self.columns)}</thead>"
                f"<tbody>{''.join(row('td', line) for line in body)}</tbody>{foot}</table>{notes}")
