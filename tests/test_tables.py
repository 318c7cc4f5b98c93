"""cnnlab.tables.Table: text and HTML rendering, alignment, footer, notes and bad input."""

import re

import pytest

from cnnlab.tables import Table


def _cells(page: str, tag: str) -> list[tuple[str, str]]:
    """(alignment, text) of every ``tag`` cell in an HTML table."""
    return re.findall(rf'<{tag} style="text-align:(\w+)">(.*?)</{tag}>', page)


def test_table_renders_rows_as_text_and_escaped_html():
    rows = [{"layer": "conv<1>", "params": 34944, "ratio": 219.6457},
            {"layer": "fc", "params": 4097000, "note": "no ratio"}]
    table = Table(rows, title="AlexNet", formats={"ratio": "{:.1f}"})
    assert table.columns == ["layer", "params", "ratio", "note"]
    text = str(table)
    assert text.splitlines()[0] == "AlexNet"
    assert "34,944" in text and "4,097,000" in text and "219.6" in text and "219.65" not in text
    page = table._repr_html_()
    assert "conv&lt;1&gt;" in page and "<caption>AlexNet</caption>" in page
    assert page.count("<tr>") == len(rows) + 1


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"rows": []}, ValueError, "rows"),
    ({"rows": [("a", 1)]}, TypeError, "rows"),
    ({"rows": [{"a": 1}], "formats": {"b": "{:.1f}"}}, ValueError, "formats"),
    ({"rows": [{"a": 1}], "footer": {"b": 2}}, ValueError, "footer"),
    ({"rows": [{"a": 1}], "footer": [("a", 2)]}, TypeError, "footer"),
])
def test_table_rejects_bad_rows(kwargs, error, name):
    with pytest.raises(error, match=name):
        Table(**kwargs)


def test_numbers_sit_right_and_text_left():
    rows = [{"name": "a", "count": 7, "note": "short"},
            {"name": "a longer name", "count": 1234567, "note": "x"}]
    table = Table(rows)
    header, rule, *body = str(table).splitlines()
    assert set(rule) == {"-"} and len(rule) >= max(len(line) for line in body)
    count_end = header.index("count") + len("count")
    for line, row in zip(body, rows, strict=True):
        assert line.startswith(row["name"] + " ")
        assert line[:count_end].endswith(" " + f"{row['count']:,}")
        assert line.index(row["note"]) == header.index("note")
    assert _cells(table._repr_html_(), "th") == [("left", "name"), ("right", "count"),
                                                 ("left", "note")]
    assert [align for align, _ in _cells(table._repr_html_(), "td")] == [
        "left", "right", "left"] * len(rows)


def test_formats_apply_to_numbers_and_text_in_a_number_column_sits_right():
    rows = [{"class": "cat", "accuracy": 87.25}, {"class": "dog", "accuracy": "n/a"}]
    table = Table(rows, formats={"accuracy": "{:.1f}%"})
    header, _, cat, dog = str(table).splitlines()
    assert cat.endswith(" " + f"{87.25:.1f}%") and dog.endswith(" n/a")
    assert len(cat) == len(dog) == len(header)
    assert _cells(table._repr_html_(), "td")[1::2] == [("right", f"{87.25:.1f}%"),
                                                      ("right", "n/a")]


def test_footer_follows_a_rule_and_uses_the_column_formats():
    rows = [{"layer": "conv", "params": 1000, "ratio": 0.5},
            {"layer": "fc", "params": 20000, "ratio": 2.0}]
    totals = {"layer": "Total", "params": sum(row["params"] for row in rows)}
    table = Table(rows, formats={"ratio": "{:.2f}"}, footer=totals)
    lines = str(table).splitlines()
    assert len(lines) == 1 + 1 + len(rows) + 1 + 1
    assert lines[-2] == lines[1] and set(lines[-2]) == {"-"}
    assert lines[-1].split() == ["Total", f"{totals['params']:,}"]
    params_end = lines[0].index("params") + len("params")
    assert lines[-1][:params_end].endswith(f"{totals['params']:,}")
    page = table._repr_html_()
    footer = re.search(r"<tfoot>(.*)</tfoot>", page).group(1)
    assert _cells(footer, "th") == [("left", "Total"), ("right", f"{totals['params']:,}"),
                                    ("right", "")]
    assert "<tfoot>" not in Table(rows)._repr_html_()


def test_notes_come_last_in_text_and_html():
    notes = "FLOPs = 2 x MACs; <counted> per image"
    table = Table([{"a": 1}], title="t", notes=notes, footer={"a": 1})
    assert str(table).splitlines()[-1] == notes
    page = table._repr_html_()
    assert page.endswith("</table><p>FLOPs = 2 x MACs; &lt;counted&gt; per image</p>")
    assert "<p>" not in Table([{"a": 1}])._repr_html_()
