"""The kinds of rules an event's fields follow: each checks a value and gives its JSON Schema.

:data:`canopsis.domain.event.FIELDS` is one table, field name -> rule, read
twice: :func:`canopsis.domain.event.validate` checks each field by its rule
(plain code: the cleaner runs it on every event, and it is about fifteen times
faster than a JSON Schema validator; the timestamp and the metrics, which read
numbers, are checked there), and :func:`event_schema` turns the same rules into
the JSON Schema the REST API publishes for an event. What a schema cannot say
(a timestamp at most a day ahead, perf data that parses, the size of the
routing key) is said in the descriptions.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeGuard

from canopsis.domain.jsonvalues import describe, json_type
from canopsis.domain.perfdata_parser import PerfdataError, parse_perfdata

_CONTROL = r"\x00-\x1f\x7f-\x9f"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")


def integer(value: object) -> int | None:
    """``value`` as an int when it is one or an integral float, else None (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def is_key(name: object) -> TypeGuard[str]:
    """Whether ``name`` can be a field name MongoDB stores (no leading ``$``, no NUL)."""
    return isinstance(name, str) and not name.startswith("$") and "\0" not in name


@dataclass(frozen=True, slots=True)
class Text:
    """A string, not empty nor blank unless ``blank``.

    An ``identifier`` holds no control character, none of the ``excluded``
    characters (``why`` tells what they separate) and, with ``choices``, is
    one of them (a ``noun``: "event type").
    """

    description: str = ""
    blank: bool = False
    identifier: bool = False
    excluded: str = ""
    why: str = ""
    choices: tuple[str, ...] = ()
    noun: str = ""

    def schema(self) -> dict:
        if self.choices:
            found = {"type": "string", "enum": list(self.choices)}
        elif self.identifier:
            chars = f"[^{_CONTROL}{self.excluded}]"
            last = f"[^\\s{_CONTROL}{self.excluded}]"
            found = {"type": "string", "pattern": f"^{chars}*{last}{chars}*$"}
        else:
            found = {"type": "string"} if self.blank else {"type": "string", "pattern": r"\S"}
        return _described(found, self.description)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {json_type(value)}"
        if not self.blank and not value.strip():
            return "must not be empty or blank"
        if not self.identifier:
            return None
        if _CONTROL_RE.search(value):
            return "must not hold control characters"
        if self.choices and value not in self.choices:
            expected = ", ".join(self.choices)
            return f"unknown {self.noun} {value!r}, expected one of: {expected}"
        for char in self.excluded:
            if char in value:
                return f"must not hold {char!r}, {self.why}"
        return None


#: a non-blank string
NAME = Text()


@dataclass(frozen=True, slots=True)
class Level:
    """An integer among ``names`` (number -> name); an integral float is taken as one."""

    names: dict[int, str]
    description: str = ""

    def schema(self) -> dict:
        found = {"type": "integer", "minimum": min(self.names), "maximum": max(self.names)}
        return _described(found, self.description)

    def problem(self, value: object) -> str | None:
        if integer(value) in self.names:
            return None
        choices = [f"{number} ({name})" for number, name in self.names.items()]
        allowed = ", ".join(choices[:-1]) + f" or {choices[-1]}"
        return f"must be {allowed}, got {describe(value)}"


@dataclass(frozen=True, slots=True)
class Duration:
    """A positive integer number of seconds; an integral float is taken as one."""

    description: str = ""

    def schema(self) -> dict:
        return _described({"type": "integer", "minimum": 1}, self.description)

    def problem(self, value: object) -> str | None:
        number = integer(value)
        if number is None or number <= 0:
            return f"must be a positive integer number of seconds, got {describe(value)}"
        return None


@dataclass(frozen=True, slots=True)
class Timestamp:
    """Epoch seconds, > 0 and at most ``ahead`` seconds after canopsis' clock."""

    ahead: int
    description: str = ""

    def schema(self) -> dict:
        return _described({"type": "number", "exclusiveMinimum": 0}, self.description)


@dataclass(frozen=True, slots=True)
class Tags:
    """Labels: a list of strings or an object of strings, each at most ``max_bytes`` bytes."""

    max_bytes: int
    description: str = ""

    def schema(self) -> dict:
        tag = {"type": "string", "pattern": r"^[^$\x00][^\x00]*$"}
        one_of = [
            {"type": "array", "items": tag},
            {"type": "object", "propertyNames": tag, "additionalProperties": {"type": "string"}},
        ]
        return _described({"oneOf": one_of}, self.description)

    def problems(self, tags: object) -> Iterator[tuple[str, str]]:
        if isinstance(tags, list):
            for index, tag in enumerate(tags):
                if problem := self.problem(tag):
                    yield f"tags[{index}]", problem
        elif isinstance(tags, dict):
            for key, value in tags.items():
                if problem := self.problem(key):
                    yield "tags", f"tag name {describe(key)} {problem}"
                elif not isinstance(value, str):
                    yield f"tags.{key}", f"must be a string, got {json_type(value)}"
        else:
            yield (
                "tags",
                f"must be an object of strings or a list of strings, got {json_type(tags)}",
            )

    def problem(self, tag: object) -> str | None:
        if not is_key(tag):
            return "must be a string without a leading '$' or a NUL"
        if len(tag.encode("utf-8", "surrogatepass")) > self.max_bytes:
            return f"must be at most {self.max_bytes} bytes (a label, not a text)"
        return NAME.problem(tag)

    @staticmethod
    def as_list(tags: list[str] | dict[str, str]) -> list[str]:
        """Valid tags as one list: ``key:value`` (``key`` for an empty value), no duplicate."""
        if isinstance(tags, dict):
            tags = [f"{key}:{value}" if value else key for key, value in tags.items()]
        return list(dict.fromkeys(tags))


@dataclass(frozen=True, slots=True)
class PerfData:
    """A Nagios perf data string (:mod:`canopsis.domain.perfdata_parser`)."""

    description: str = ""

    def schema(self) -> dict:
        return _described({"type": "string"}, self.description)

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {json_type(value)}"
        try:
            parse_perfdata(value)
        except PerfdataError as exc:
            return str(exc)
        return None


@dataclass(frozen=True, slots=True)
class Metrics:
    """A list of metric objects: a non-blank ``metric``, and ``fields`` (name -> the JSON
    kinds it may be, "number" or "string"; null always), ``value`` required."""

    fields: dict[str, tuple[str, ...]]
    description: str = ""

    def schema(self) -> dict:
        properties = {key: {"type": [*kinds, "null"]} for key, kinds in self.fields.items()}
        metric = {
            "type": "object",
            "required": ["metric", "value"],
            "properties": {"metric": {"type": "string", "pattern": r"\S"}, **properties},
            "additionalProperties": True,
        }
        return _described({"type": "array", "items": metric}, self.description)


Rule = Text | Level | Duration | Timestamp | Tags | PerfData | Metrics


def _described(schema: dict, description: str) -> dict:
    return {**schema, "description": description} if description else schema


def event_schema(
    fields: dict[str, Rule],
    required: tuple[str, ...],
    required_for: dict[str, tuple[str, ...]],
    description: str,
) -> dict:
    """The JSON Schema of an event whose ``fields`` follow their rules: ``required`` ones,
    ``resource`` for a resource event, and each of ``required_for`` for its event types."""
    conditions = [
        {
            "if": {"properties": {"event_type": {"enum": list(types)}}, "required": ["event_type"]},
            "then": {"required": [field]},
        }
        for field, types in required_for.items()
    ]
    resource = {"properties": {"source_type": {"const": "resource"}}, "required": ["source_type"]}
    checked = {"resource": fields["resource"].schema()}
    return {
        "type": "object",
        "description": description,
        "required": list(required),
        "properties": {
            # a resource is checked only in a resource event (allOf below)
            name: _described({"type": "string"}, rule.description)
            if name == "resource"
            else rule.schema()
            for name, rule in fields.items()
        },
        "propertyNames": {"pattern": "^([^$\\x00][^\\x00]*)?$"},
        "allOf": [
            {"if": resource, "then": {"required": ["resource"], "properties": checked}},
            *conditions,
        ],
        "additionalProperties": True,
    }
