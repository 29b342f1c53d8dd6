import math

import pytest

from canopsis.domain import schemas
from canopsis.domain.match import FieldError

SCHEMA = {
    "type": "object",
    "required": ["name", "match"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": schemas.NON_BLANK},
        "match": schemas.PATTERN,
        "size": {"type": "integer", "minimum": 1},
        "ratio": {"type": "number", "x-expected": "a finite number"},
        "kind": {"enum": ["a", "b"]},
        "note": {"type": ["string", "null"]},
        "items": {"type": "array", "items": {"type": "boolean"}, "maxItems": 2},
        "inner": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"x": {"type": "string"}},
        },
    },
}


def told(doc: object) -> list[str]:
    return [str(error) for error in schemas.problems(SCHEMA, doc)]


def test_a_valid_document_has_no_problem():
    doc = {"name": "n", "match": {}, "size": 2, "ratio": 0.5, "kind": "a", "note": None}
    assert told(doc | {"items": [True], "inner": {"x": "y"}}) == []


def test_missing_and_unknown_fields_are_named():
    assert told({"color": 1}) == [
        "name: missing",
        "match: missing (use {} to match every event)",
        "color: unknown field",
    ]
    assert told({"name": "n", "match": {}, "inner": {"y": 1}}) == ["inner.y: unknown field"]


def test_each_keyword_says_what_it_expects():
    doc = {"name": " ", "match": [], "size": 0, "kind": "c", "note": 3, "items": [1, True, 2]}
    assert told(doc) == [
        "name: must not be blank",
        "match: expected an object",
        "size: must be at least 1",
        "kind: expected one of a, b",
        "note: expected a string or null",
        "items.0: expected true or false",
        "items.2: expected true or false",
        "items: must be at most 2 items",
    ]
    assert schemas.problems(SCHEMA, None) == [FieldError("", "expected an object")]


@pytest.mark.parametrize("value", [True, 1.5, "1"])
def test_an_integer_is_an_int_never_a_boolean_nor_a_float(value):
    assert told({"name": "n", "match": {}, "size": value}) == ["size: expected an integer"]


@pytest.mark.parametrize("value", [math.inf, math.nan, False, "1"])
def test_a_number_is_finite_and_never_a_boolean(value):
    assert told({"name": "n", "match": {}, "ratio": value}) == ["ratio: expected a finite number"]


def test_any_int_is_a_number_however_large():
    assert told({"name": "n", "match": {}, "ratio": 10**400}) == []


def test_problems_are_field_errors_one_per_field():
    [error] = schemas.problems(SCHEMA, {"name": "", "match": {}})
    assert error == FieldError("name", "must not be blank")
    assert schemas.refused([error, FieldError("inner.x", "bad")]) == {"name", "inner"}


def test_a_pattern_ending_in_dollar_ends_at_the_end_of_the_text():
    schema = {"type": "string", "pattern": "^[a-z]{1,5}$", "x-expected": "a short word"}
    assert schemas.problems(schema, "word") == []
    assert schemas.problems(schema, "word\n") == [FieldError("", "expected a short word")]
    assert schemas.problems({"pattern": "^a\\$"}, "a$") == []


def test_the_engine_of_a_route_is_one_name():
    from canopsis.domain.eventfilter import validate_rule

    rule = {"_id": "r", "match": {}, "actions": [{"type": "route", "engine": "ticketing\n"}]}
    assert [error.field for error in validate_rule(rule)] == ["actions.0.engine"]


def test_a_user_name_is_checked_to_its_end():
    from canopsis.domain import auth_schemas

    user = {"name": "alice", "password": "p" * auth_schemas.MIN_PASSWORD, "role": "viewer"}
    assert schemas.problems(auth_schemas.NEW_USER, user) == []
    assert schemas.problems(auth_schemas.NEW_USER, {**user, "name": "alice\n"}) == [
        FieldError("name", "expected 1 to 64 characters of letters, digits, '.', '_', '@', '-'")
    ]
