"""Argument checks shared by the library, so every bad input gets the same kind of clear message:
it names the argument, shows what was given and says what is allowed."""

from __future__ import annotations

import numbers
from collections.abc import Sequence


def is_int(value: object) -> bool:
    """True for ints (numpy's too) but not for bools, which Python counts as ints."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(name: str, value: object, minimum: int | None = 1) -> int:
    """``value`` as an int, refusing bools, floats and anything below ``minimum`` (None: no bound)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}.")
    return value


def divides(divisor_name: str, divisor: int, name: str, value: int) -> None:
    """Refuse a group count (or similar) that does not divide a channel count."""
    if value % divisor:
        raise ValueError(
            f"{divisor_name}={divisor} must divide {name}={value}; "
            f"pick {divisor_name} from the divisors of {value}."
        )


def pair(name: str, value: object, minimum: int = 1) -> tuple[int, int]:
    """An int or a (height, width) pair of ints, as a pair (kernel sizes, strides, map sizes)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}.")
        return integer(name, value[0], minimum), integer(name, value[1], minimum)
    number = integer(name, value, minimum)
    return number, number
