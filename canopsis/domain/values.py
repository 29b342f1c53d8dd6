"""What kind of JSON value a value is: the number checks every document shares.

JSON numbers arrive as ``int`` or ``float``; ``True`` and ``False`` are ints to
Python but booleans to a sender, so none of these checks takes them for numbers.
Python's ``json`` also reads ``NaN`` and ``Infinity``: each check says whether
it takes them.
"""

import math


def is_number(value: object) -> bool:
    """An int or a float, not a boolean; NaN and the infinities included."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_comparable_number(value: object) -> bool:
    """A number that orders with the others: NaN excluded, the infinities included."""
    return is_number(value) and value == value


def is_finite_number(value: object) -> bool:
    """A number that is neither NaN nor infinite (a time, a duration, a measure).

    Any int is finite, however many digits it has (``math.isfinite`` of a huge one
    would raise, converting it to a float)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_integer(value)


def is_integer(value: object) -> bool:
    """An int, not a boolean (``1.0`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)
