"""The event model: what an event is, how it is checked and normalised.

:func:`validate` lists every problem of an event as a :class:`FieldError`
(the field and a reason a sender can act on); :func:`normalize` returns a new,
complete event or those errors. Choices made where the design leaves room:

- Identifier fields (``connector``, ``connector_name``, ``component``,
  ``resource``) and ``event_type``/``source_type`` are non-blank strings without
  control characters (they end up in logs, routing keys and ids). ``connector``
  and ``connector_name`` cannot hold ``.`` so that the first four words of a
  routing key are always connector, connector name, event type and source
  type; ``component`` and ``resource`` may (host names are dotted).
  ``component`` cannot hold ``/``, which separates the parts of entity ids
  (:mod:`canopsis.domain.entityid`); ``resource`` may (``disk /var``), escaped in its
  id. The routing key must fit AMQP's 255 bytes.
- ``resource`` is required and checked only for a resource event; a component
  event's ``resource`` is dropped by :func:`normalize`.
- ``state`` (0..3), ``state_type`` (0 soft, 1 hard) and ``duration`` (seconds,
  > 0) are integers; an integral float such as ``2.0`` is accepted and stored
  as an int, a boolean or a string is not. ``state`` is required for ``check``
  and ``changestate``; ``duration`` for ``snooze``.
- ``timestamp`` is a finite number of epoch seconds, > 0 and at most
  :data:`MAX_FUTURE` seconds after ``now`` (a clock a little ahead is tolerated,
  milliseconds are not).
- ``tags`` are labels: a list of strings, or an object of string keys to string
  values, which :func:`normalize` turns into ``"key:value"`` (``"key"`` for an
  empty value) so that a normalised event has one shape, the list the alarms
  and the event-filter rules work on; duplicates are dropped, order is kept.
- ``perf_data`` is a string :func:`~canopsis.domain.perfdata_parser.parse_perfdata`
  reads; its error becomes the reason. ``perf_data_array`` entries are objects
  shaped like :meth:`~canopsis.domain.perfdata_parser.Metric.as_dict`: a non-blank
  ``metric`` and a ``value`` that is a finite number or null (unknown, like
  perfdata's ``U``); ``unit``, ``warn``, ``crit``, ``min``, ``max`` are typed
  the same way when present, and other keys are kept.
- ``output`` and ``long_output`` are strings and may be empty; ``author`` and
  ``ticket`` are non-blank strings. :func:`normalize` keeps at most
  ``max_output`` bytes of each output (:data:`MAX_OUTPUT_BYTES` by default, the
  cleaner's ``max_output_bytes``): a longer one is cut on a character boundary
  and ends with ``… [truncated: <its size> bytes]`` (:func:`truncate`), so that
  what an event brings into an alarm is bounded.
- A tag is at most :data:`MAX_TAG_BYTES` bytes (a label, not a text).
- Top-level keys cannot start with ``$`` or hold a NUL character, and no
  nested key can hold a NUL (MongoDB refuses them, and the event is stored);
  any other unknown key is kept as extra information.

A normalised event is a new dict (the input is never changed; nested values
are shared) with ``timestamp`` (``now`` when absent), ``state_type`` (1 when
absent), ``state`` (0 when absent, except for operator actions, which carry no
state unless they change it), ``perf_data`` kept as sent and its metrics
appended to ``perf_data_array`` (skipping entries already there, so normalising
twice changes nothing), and the computed ``routing_key`` and ``entity_id``,
which replace any value the sender gave. The fields of
:data:`INTERNAL_FIELDS` are canopsis' (the pbehavior engine sets
``pbehavior``): a sender's are dropped. A ``pbehavior`` event asks the alarm
of its entity to follow the planned behaviour the entity is in (the pbehavior
engine sends them when a period starts or ends).
"""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from canopsis.domain import entityid
from canopsis.domain.perfdata_parser import PerfdataError, parse_perfdata
from canopsis.domain.values import is_finite_number

ACTION_TYPES = (
    "ack",
    "ackremove",
    "cancel",
    "uncancel",
    "snooze",
    "declareticket",
    "assocticket",
    "changestate",
    "comment",
)
EVENT_TYPES = ("check", "perf", "log", *ACTION_TYPES, "heartbeat", "pbehavior")
#: set by canopsis on the way (the planned behaviour of the entity): a sender's is dropped
INTERNAL_FIELDS = ("pbehavior",)
SOURCE_TYPES = ("component", "resource")

STATE_INFO, STATE_MINOR, STATE_MAJOR, STATE_CRITICAL = range(4)
STATE_NAMES = {
    STATE_INFO: "info",
    STATE_MINOR: "minor",
    STATE_MAJOR: "major",
    STATE_CRITICAL: "critical",
}
STATE_TYPE_SOFT, STATE_TYPE_HARD = range(2)
STATE_TYPE_NAMES = {STATE_TYPE_SOFT: "soft", STATE_TYPE_HARD: "hard"}

MAX_FUTURE = 86400
#: the last epoch second a date can hold (9999-12-31T23:59:59Z)
LATEST = 253_402_300_799
MAX_ROUTING_KEY_BYTES = 255
#: bytes of ``output`` and ``long_output`` :func:`normalize` keeps by default
MAX_OUTPUT_BYTES = 64 * 1024
MAX_TAG_BYTES = 1024

_NO_DOT = ("connector", "connector_name")
_NO_SLASH = ("component",)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_METRIC_FIELDS = {
    "value": ("number",),
    "unit": ("string",),
    "warn": ("number", "string"),
    "crit": ("number", "string"),
    "min": ("number",),
    "max": ("number",),
}

_Problem = tuple[str, str]


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


def routing_key(event: dict) -> str:
    """``<connector>.<connector_name>.<event_type>.<source_type>.<component>[.<resource>]``."""
    parts = [event[key] for key in ("connector", "connector_name", "event_type", "source_type")]
    parts.append(event["component"])
    if event["source_type"] == "resource":
        parts.append(event["resource"])
    return ".".join(parts)


def entity_id(event: dict) -> str:
    """The id of the resource or component ``event`` is about (:mod:`canopsis.domain.entityid`)."""
    if event["source_type"] == "resource":
        return entityid.resource_id(event["resource"], event["component"])
    return entityid.component_id(event["component"])


def validate(raw: object, now: float | None = None) -> list[FieldError]:
    """Every problem of ``raw`` as an event; ``now`` (epoch seconds) defaults to the clock."""
    if not isinstance(raw, dict):
        return [FieldError("", "event must be a JSON object")]
    now = time.time() if now is None else now
    return [FieldError(field, reason) for field, reason in _problems(raw, now)]


def truncate(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else its start cut on a character
    boundary and ``… [truncated: <size> bytes]``, the whole at most ``limit`` bytes."""
    if len(text) * 4 <= limit:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    suffix = f"… [truncated: {len(data)} bytes]"
    keep = max(0, limit - len(suffix.encode()))
    return data[:keep].decode("utf-8", "ignore") + suffix


def normalize(
    raw: object, now: float, max_output: int = MAX_OUTPUT_BYTES
) -> tuple[dict | None, list[FieldError]]:
    """A new, complete event from ``raw``, or ``None`` and every problem.

    ``output`` and ``long_output`` are cut to ``max_output`` bytes (:func:`truncate`).
    """
    errors = validate(raw, now)
    if errors:
        return None, errors
    event = {k: v for k, v in raw.items() if k not in INTERNAL_FIELDS}
    if event["source_type"] == "component":
        event.pop("resource", None)
    event.setdefault("timestamp", now)
    event.setdefault("state_type", STATE_TYPE_HARD)
    if event["event_type"] not in ACTION_TYPES:
        event.setdefault("state", STATE_INFO)
    for key in ("state", "state_type", "duration"):
        if key in event:
            event[key] = _integer(event[key])
    for key in ("output", "long_output"):
        if key in event:
            event[key] = truncate(event[key], max_output)
    if "tags" in event:
        event["tags"] = _tag_list(event["tags"])
    if "perf_data" in event or "perf_data_array" in event:
        event["perf_data_array"] = _metrics(event)
    event["routing_key"] = routing_key(event)
    event["entity_id"] = entity_id(event)
    return event, []


def _problems(event: dict, now: float) -> Iterator[_Problem]:
    yield from _key_problems(event)
    for key, value in event.items():  # a top-level key is checked by _key_problems
        yield from ((path, NUL_KEY) for path in nul_keys(value, str(key)))
    identity = list(_identity_problems(event))
    yield from identity
    if not identity:
        yield from _routing_key_problems(event)
    yield from _state_problems(event)
    yield from _duration_problems(event)
    if "timestamp" in event:
        yield from _located("timestamp", _timestamp_problem(event["timestamp"], now))
    for key in ("output", "long_output"):
        if key in event and not isinstance(event[key], str):
            yield key, f"must be a string, got {json_type(event[key])}"
    for key in ("author", "ticket"):
        if key in event:
            yield from _located(key, _text_problem(event[key]))
    if "tags" in event:
        yield from _tags_problems(event["tags"])
    if "perf_data" in event:
        yield from _located("perf_data", _perf_data_problem(event["perf_data"]))
    if "perf_data_array" in event:
        yield from _perf_data_array_problems(event["perf_data_array"])


NUL_KEY = "a field name cannot hold a NUL character"


def nul_keys(value: object, path: str = "") -> Iterator[str]:
    """The paths of the keys holding a NUL, which MongoDB cannot store, at any depth."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\0" in key:
            yield where
        yield from nul_keys(item, where)


def _located(field: str, reason: str | None) -> Iterator[_Problem]:
    if reason:
        yield field, reason


def _key_problems(event: dict) -> Iterator[_Problem]:
    for key in event:
        if not _is_key(key):
            yield str(key), "a field name must be a string without a leading '$' or a NUL"


def _identity_problems(event: dict) -> Iterator[_Problem]:
    fields = ["connector", "connector_name", "event_type", "source_type", "component"]
    if event.get("source_type") == "resource":
        fields.append("resource")
    for field in fields:
        if field not in event:
            yield field, "is required"
        else:
            yield from _located(field, _identifier_problem(field, event[field]))


def _identifier_problem(field: str, value: object) -> str | None:
    problem = _text_problem(value)
    if problem:
        return problem
    if _CONTROL_RE.search(value):
        return "must not hold control characters"
    if field == "event_type" and value not in EVENT_TYPES:
        return f"unknown event type {value!r}, expected one of: {', '.join(EVENT_TYPES)}"
    if field == "source_type" and value not in SOURCE_TYPES:
        return f"unknown source type {value!r}, expected one of: {', '.join(SOURCE_TYPES)}"
    if field in _NO_DOT and "." in value:
        return "must not hold '.', which separates the words of the routing key"
    if field in _NO_SLASH and "/" in value:
        return "must not hold '/', which separates resource and component in the entity id"
    return None


def _routing_key_problems(event: dict) -> Iterator[_Problem]:
    size = len(routing_key(event).encode())
    if size > MAX_ROUTING_KEY_BYTES:
        yield (
            "routing_key",
            f"connector, connector_name, component and resource are too long: the routing key "
            f"would be {size} bytes, AMQP allows {MAX_ROUTING_KEY_BYTES}",
        )


def _state_problems(event: dict) -> Iterator[_Problem]:
    event_type = event.get("event_type")
    if "state" in event:
        yield from _located("state", _choice_problem(event["state"], STATE_NAMES))
    elif event_type in ("check", "changestate"):
        yield "state", f"is required for a {event_type} event"
    if "state_type" in event:
        yield from _located("state_type", _choice_problem(event["state_type"], STATE_TYPE_NAMES))


def _duration_problems(event: dict) -> Iterator[_Problem]:
    if "duration" in event:
        value = _integer(event["duration"])
        if value is None or value <= 0:
            got = _describe(event["duration"])
            yield "duration", f"must be a positive integer number of seconds, got {got}"
    elif event.get("event_type") == "snooze":
        yield "duration", "is required for a snooze event"


def _choice_problem(value: object, names: dict[int, str]) -> str | None:
    if _integer(value) in names:
        return None
    choices = [f"{number} ({name})" for number, name in names.items()]
    allowed = ", ".join(choices[:-1]) + f" or {choices[-1]}"
    return f"must be {allowed}, got {_describe(value)}"


def _timestamp_problem(value: object, now: float) -> str | None:
    if not is_finite_number(value):
        return f"must be a number of seconds since the epoch, got {_describe(value)}"
    if value <= 0:
        return f"must be positive, got {value}"
    if value > now + MAX_FUTURE:
        return (
            f"{value} is more than {MAX_FUTURE} seconds in the future "
            "(seconds since the epoch are expected, not milliseconds)"
        )
    return None


def _tag_list(tags: list[str] | dict[str, str]) -> list[str]:
    if isinstance(tags, dict):
        tags = [f"{key}:{value}" if value else key for key, value in tags.items()]
    return list(dict.fromkeys(tags))


def _tags_problems(tags: object) -> Iterator[_Problem]:
    if isinstance(tags, list):
        for index, tag in enumerate(tags):
            yield from _located(f"tags[{index}]", _tag_problem(tag))
    elif isinstance(tags, dict):
        for key, value in tags.items():
            if problem := _tag_problem(key):
                yield "tags", f"tag name {_describe(key)} {problem}"
            elif not isinstance(value, str):
                yield f"tags.{key}", f"must be a string, got {json_type(value)}"
    else:
        yield "tags", f"must be an object of strings or a list of strings, got {json_type(tags)}"


def _tag_problem(tag: object) -> str | None:
    if not _is_key(tag):
        return "must be a string without a leading '$' or a NUL"
    if len(tag.encode("utf-8", "surrogatepass")) > MAX_TAG_BYTES:
        return f"must be at most {MAX_TAG_BYTES} bytes (a label, not a text)"
    return _text_problem(tag)


def _is_key(name: object) -> bool:
    return isinstance(name, str) and not name.startswith("$") and "\0" not in name


def _perf_data_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {json_type(value)}"
    try:
        parse_perfdata(value)
    except PerfdataError as exc:
        return str(exc)
    return None


def _perf_data_array_problems(entries: object) -> Iterator[_Problem]:
    if not isinstance(entries, list):
        yield "perf_data_array", f"must be a list of objects, got {json_type(entries)}"
        return
    for index, entry in enumerate(entries):
        where = f"perf_data_array[{index}]"
        if not isinstance(entry, dict):
            yield where, f"must be an object, got {json_type(entry)}"
            continue
        if "metric" not in entry:
            yield f"{where}.metric", "is required"
        else:
            yield from _located(f"{where}.metric", _text_problem(entry["metric"]))
        if "value" not in entry:
            yield f"{where}.value", "is required"
        for key, kinds in _METRIC_FIELDS.items():
            value = entry.get(key)
            if not _is_one_of(value, kinds):
                expected = " or ".join(f"a {kind}" for kind in kinds)
                yield f"{where}.{key}", f"must be {expected} or null, got {_describe(value)}"


def _metrics(event: dict) -> list:
    metrics = list(event.get("perf_data_array", []))
    for metric in parse_perfdata(event.get("perf_data", "")):
        entry = metric.as_dict()
        if entry not in metrics:
            metrics.append(entry)
    return metrics


def _text_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {json_type(value)}"
    if not value.strip():
        return "must not be empty or blank"
    return None


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _is_one_of(value: object, kinds: tuple[str, ...]) -> bool:
    if value is None:
        return True
    return ("number" in kinds and is_finite_number(value)) or (
        "string" in kinds and isinstance(value, str)
    )


def json_type(value: object) -> str:
    """How a JSON value is named in an error message ('a number', 'null'...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        text = repr(value)
        return text if len(text) <= 60 else f"{text[:57]}..."
    return json_type(value)
