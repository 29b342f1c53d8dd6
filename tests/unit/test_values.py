import math

import pytest

from canopsis.domain.values import is_comparable_number, is_finite_number, is_integer, is_number

CASES = [
    # value, number, comparable, finite, integer
    (1, True, True, True, True),
    (-2.5, True, True, True, False),
    (1.0, True, True, True, False),
    (True, False, False, False, False),
    (math.inf, True, True, False, False),
    (math.nan, True, False, False, False),
    ("1", False, False, False, False),
    (None, False, False, False, False),
]


@pytest.mark.parametrize(("value", "number", "comparable", "finite", "integer"), CASES)
def test_each_check_says_which_json_values_it_takes(value, number, comparable, finite, integer):
    assert is_number(value) is number
    assert is_comparable_number(value) is comparable
    assert is_finite_number(value) is finite
    assert is_integer(value) is integer
