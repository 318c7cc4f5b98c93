"""Stored outputs of solutions/ must not depend on the machine that made them.

A float printed with many significant digits carries the rounding of one CPU's BLAS, LAPACK or
vectorised kernels; another CPU prints other last digits and strict nbval fails there. Cells
whose output legitimately varies are marked ``# NBVAL_IGNORE_OUTPUT`` and are not compared.
"""

import json
import re
from pathlib import Path

import pytest

SOLUTIONS = sorted((Path(__file__).parents[1] / "solutions").glob("*.ipynb"))
MOST_DIGITS = 6
# A decimal number: digits (maybe grouped by commas), a point, digits, maybe an exponent.
DECIMAL = re.compile(r"(?<![\w.])-?(\d{1,3}(?:,\d{3})+|\d+)\.(\d+)(?:[eE][+-]?\d+)?(?![\w.])")


def significant_digits(whole: str, fraction: str) -> int:
    digits = (whole.replace(",", "").lstrip("-") + fraction).lstrip("0")
    return len(digits)


def compared_text(cell: dict) -> str:
    """The text nbval compares for a cell: streams and text/plain results."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}):
            parts.append("".join(output["data"]["text/plain"]))
    return "\n".join(parts)


def too_precise(text: str) -> list[str]:
    return [match.group(0) for match in DECIMAL.finditer(text)
            if significant_digits(match.group(1), match.group(2)) > MOST_DIGITS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_stored_outputs_carry_only_stable_digits(path):
    cells = json.loads(path.read_text())["cells"]
    found = {}
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "NBVAL_IGNORE_OUTPUT" in source:
            continue
        numbers = too_precise(compared_text(cell))
        if numbers:
            found[index] = numbers[:3]
    assert not found, (f"{path.name}: cells print floats with more than {MOST_DIGITS} significant "
                       f"digits, which another CPU may print differently: {found}. Round them, "
                       "or mark the cell # NBVAL_IGNORE_OUTPUT and assert its claim in a cell.")


def test_the_scan_finds_what_it_should():
    assert too_precise("eigenvalue 0.0006479213 and 3.14159265") == ["0.0006479213", "3.14159265"]
    assert too_precise("0.000647921 has six") == []
    assert too_precise("854,196,224 MACs, R = 368.64, 1.000, 8.409x, 62.0%") == []
    assert too_precise("loss 1.2345678e-05") == ["1.2345678e-05"]
