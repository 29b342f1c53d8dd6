"""The JSON Schemas of the documents clients send, and their problems told by field.

A domain module that takes documents from clients keeps their JSON Schema
(draft 2020-12) beside its rules, e.g. :data:`canopsis.domain.heartbeat.SCHEMA`:
:func:`problems` checks a document against it with ``jsonschema`` and the REST
API publishes the same schema in its OpenAPI document. What a schema cannot
say (a pattern that compiles, a rule that can occur, a time zone, one field
against another) stays as code in the domain module, run after it.

Each problem is a :class:`~canopsis.domain.match.FieldError`: the field's
dotted path (``exdates.1``, ``entity.color``; empty for the whole document)
and a reason a sender can act on, one per field (the first found):
``missing`` for an absent required field (or the field schema's
``x-missing``), ``unknown field`` for one the schema does not list, and
``expected <x-expected>`` when the failing value's schema says what it
expects, else a reason made from the failing keyword (``expected a string``,
``expected one of a, b``, ``must not be blank``...). ``x-`` keywords are
annotations JSON Schema and OpenAPI 3.1 ignore.

In these schemas ``integer`` is an int and ``number`` a finite int or float,
never a boolean, as canopsis' own checks read them; a ``pattern`` ending in
``$`` ends at the end of the text, as in JSON Schema (not before a final newline).
"""

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from canopsis.domain.match import FieldError

#: the pattern of a string holding something other than white space
NON_BLANK = r"\S"
#: a pattern of :mod:`canopsis.domain.match` that events must match (compile_pattern checks
#: its operators)
PATTERN = {
    "type": "object",
    "description": "a pattern of canopsis.domain.match",
    "x-missing": "missing (use {} to match every event)",
}


def object_schema(
    properties: dict,
    required: Iterable[str] | None = None,
    description: str = "",
    more: bool = False,
) -> dict:
    """The schema of an object of ``properties``, ``required`` among them; other fields are
    refused unless ``more``."""
    schema: dict = {"type": "object"}
    if description:
        schema["description"] = description
    if required is not None:
        schema["required"] = list(required)
    return {**schema, "additionalProperties": more, "properties": properties}


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {
        "integer": lambda _checker, value: isinstance(value, int) and not isinstance(value, bool),
        "number": lambda _checker, value: (
            math.isfinite(value)
            if isinstance(value, float)
            else isinstance(value, int) and not isinstance(value, bool)
        ),
    }
)


@functools.cache
def _regex(pattern: str) -> re.Pattern:
    """``pattern`` as JSON Schema (ECMA-262) reads it: a final ``$`` ends the text, where
    Python's would also match before a final newline."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator, pattern: str, instance: object, schema: dict) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(
    Draft202012Validator, validators={"pattern": _pattern}, type_checker=_TYPES
)
_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_validators: dict[int, tuple[dict, Draft202012Validator]] = {}


def validator(schema: dict) -> Draft202012Validator:
    """The validator of ``schema`` (a module's constant), made once."""
    found = _validators.get(id(schema))
    if found is None or found[0] is not schema:
        _Validator.check_schema(schema)
        found = _validators[id(schema)] = (schema, _Validator(schema))
    return found[1]


def problems(schema: dict, doc: object) -> list[FieldError]:
    """Every field of ``doc`` that ``schema`` refuses, with the first reason found for it."""
    found: dict[str, str] = {}
    for error in validator(schema).iter_errors(doc):
        for field, reason in _told(error):
            found.setdefault(field, reason)
    return [FieldError(field, reason) for field, reason in found.items()]


def refused(errors: list[FieldError]) -> set[str]:
    """The top-level fields (``""`` for the document) some of ``errors`` are about."""
    return {error.field.split(".", 1)[0] for error in errors}


def _path(parts: Iterable[object]) -> str:
    return ".".join(str(part) for part in parts)


def _within(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _told(error: ValidationError) -> Iterator[tuple[str, str]]:
    path, node, keyword = _path(error.absolute_path), error.schema, error.validator
    if keyword == "required":
        fields = node.get("properties", {})
        for name in error.validator_value:
            if isinstance(error.instance, dict) and name not in error.instance:
                yield _within(path, name), fields.get(name, {}).get("x-missing", "missing")
    elif keyword == "additionalProperties" and error.validator_value is False:
        known = node.get("properties", {})
        patterns = [re.compile(p) for p in node.get("patternProperties", {})]
        for key in error.instance:
            if key not in known and not any(p.search(key) for p in patterns):
                yield _within(path, key), "unknown field"
    elif "x-expected" in node:
        yield path, f"expected {node['x-expected']}"
    else:
        yield path, _reason(keyword, error.validator_value, error)


def _reason(keyword: str, value: Any, error: ValidationError) -> str:
    if keyword == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        return "expected " + " or ".join(_NAMES.get(kind, kind) for kind in kinds)
    if keyword == "enum":
        return "expected one of " + ", ".join(_shown(choice) for choice in value)
    if keyword == "const":
        return f"expected {_shown(value)}"
    if keyword == "pattern" and value == NON_BLANK:
        return "must not be blank"
    if keyword == "minLength" and value == 1:
        return "must not be empty"
    bounds = {
        "minLength": "at least {} characters",
        "maxLength": "at most {} characters",
        "minimum": "at least {}",
        "maximum": "at most {}",
        "exclusiveMinimum": "greater than {}",
        "exclusiveMaximum": "less than {}",
        "minItems": "at least {} items",
        "maxItems": "at most {} items",
    }
    if keyword in bounds:
        return "must be " + bounds[keyword].format(value)
    return error.message


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
