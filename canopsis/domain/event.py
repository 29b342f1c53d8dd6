"""The event model: what an event is, how it is checked and normalised.

:func:`validate` lists every problem of an event as a :class:`FieldError`
(the field and a reason a sender can act on); :func:`normalize` returns a new,
complete event or those errors. Each known field follows its rule in
:data:`FIELDS` (:mod:`canopsis.domain.eventfields`), which gives both these
checks and :data:`SCHEMA`, the JSON Schema the REST API publishes. Choices
made where the design leaves room:

- Identifier fields are non-blank strings without control characters (they
  end up in logs, routing keys and ids). ``connector`` and ``connector_name``
  cannot hold ``.``, so that the first four words of a routing key are always
  connector, connector name, event type and source type; ``component`` cannot
  hold ``/``, which separates the parts of entity ids
  (:mod:`canopsis.domain.entityid`); ``resource`` may (escaped in its id). The
  routing key must fit AMQP's 255 bytes.
- ``resource`` is required and checked only for a resource event; a component
  event's ``resource`` is dropped by :func:`normalize`.
- An integral float such as ``2.0`` is accepted where an integer is expected
  and stored as an int; a boolean or a string is not.
- :func:`normalize` keeps at most ``max_output`` bytes of each output
  (:data:`MAX_OUTPUT_BYTES` by default, the cleaner's ``max_output_bytes``):
  a longer one is cut on a character boundary and ends with
  ``… [truncated: <its size> bytes]`` (:func:`truncate`).
- Top-level keys cannot start with ``$`` or hold a NUL character, and no
  nested key can hold a NUL (MongoDB refuses them, and the event is stored);
  any other unknown key is kept as extra information.

A normalised event is a new dict (the input is never changed; nested values
are shared) with ``timestamp`` (``now`` when absent), ``state_type`` (1 when
absent), ``state`` (0 when absent, except for operator actions, which carry no
state unless they change it), ``tags`` as a list of ``"key:value"`` (``"key"``
for an empty value) without duplicates, ``perf_data`` kept as sent and its
metrics appended to ``perf_data_array`` (skipping entries already there, so
normalising twice changes nothing), and the computed ``routing_key`` and
``entity_id``, which replace any value the sender gave. The fields of
:data:`INTERNAL_FIELDS` are canopsis' (the pbehavior engine sets
``pbehavior``): a sender's are dropped. A ``pbehavior`` event asks the alarm
of its entity to follow the planned behaviour the entity is in (the pbehavior
engine sends them when a period starts or ends).
"""

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from canopsis.domain import entityid
from canopsis.domain.eventfields import (
    NAME,
    Duration,
    Level,
    Metrics,
    PerfData,
    Rule,
    Tags,
    Text,
    Timestamp,
    event_schema,
    integer,
    is_key,
)
from canopsis.domain.jsonvalues import describe, json_type, unstorable
from canopsis.domain.perfdata_parser import parse_perfdata
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

_WORDS = "which separates the words of the routing key"
_OUTPUT = f"cut to the cleaner's max_output_bytes ({MAX_OUTPUT_BYTES} by default)"
#: the rule of each known field, in the order they are checked
FIELDS: dict[str, Rule] = {
    "connector": Text(identifier=True, excluded=".", why=_WORDS),
    "connector_name": Text(identifier=True, excluded=".", why=_WORDS),
    "event_type": Text(identifier=True, choices=EVENT_TYPES, noun="event type"),
    "source_type": Text(identifier=True, choices=SOURCE_TYPES, noun="source type"),
    "component": Text(
        identifier=True,
        excluded="/",
        why="which separates resource and component in the entity id",
        description="may be dotted (a host name)",
    ),
    "resource": Text(identifier=True, description="for a resource event; may hold '/'"),
    "state": Level(STATE_NAMES, "0 info, 1 minor, 2 major, 3 critical"),
    "state_type": Level(STATE_TYPE_NAMES, "0 soft, 1 hard (the default)"),
    "duration": Duration("seconds"),
    "timestamp": Timestamp(
        MAX_FUTURE,
        f"epoch seconds (not milliseconds), at most {MAX_FUTURE} s ahead; default: arrival time",
    ),
    "output": Text(blank=True, description=_OUTPUT),
    "long_output": Text(blank=True, description=_OUTPUT),
    "author": Text(),
    "ticket": Text(),
    "tags": Tags(
        MAX_TAG_BYTES,
        f"labels of at most {MAX_TAG_BYTES} bytes; an object's become key:value "
        "(key alone for an empty value)",
    ),
    "perf_data": PerfData("Nagios perf data: label=value[UOM];warn;crit;min;max ..."),
    "perf_data_array": Metrics(
        {
            "value": ("number",),
            "unit": ("string",),
            "warn": ("number", "string"),
            "crit": ("number", "string"),
            "min": ("number",),
            "max": ("number",),
        },
        "metrics, as canopsis.domain.perfdata_parser reads them (null: unknown)",
    ),
}
REQUIRED = ("connector", "connector_name", "event_type", "source_type", "component")
#: fields required by some event types
REQUIRED_FOR = {"state": ("check", "changestate"), "duration": ("snooze",)}
SCHEMA = event_schema(
    FIELDS,
    REQUIRED,
    REQUIRED_FOR,
    "An event (canopsis.domain.event); the routing key it makes "
    "(connector.connector_name.event_type.source_type.component[.resource]) must fit "
    f"{MAX_ROUTING_KEY_BYTES} bytes.",
)
_IDENTITY = (*REQUIRED, "resource")
_OTHERS = [(field, rule) for field, rule in FIELDS.items() if field not in _IDENTITY]

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
    assert isinstance(raw, dict)  # validate found no problem: it is an object
    event = {k: v for k, v in raw.items() if k not in INTERNAL_FIELDS}
    if event["source_type"] == "component":
        event.pop("resource", None)
    event.setdefault("timestamp", now)
    event.setdefault("state_type", STATE_TYPE_HARD)
    if event["event_type"] not in ACTION_TYPES:
        event.setdefault("state", STATE_INFO)
    for key in ("state", "state_type", "duration"):
        if key in event:
            event[key] = integer(event[key])
    for key in ("output", "long_output"):
        if key in event:
            event[key] = truncate(event[key], max_output)
    if "tags" in event:
        event["tags"] = Tags.as_list(event["tags"])
    if "perf_data" in event or "perf_data_array" in event:
        event["perf_data_array"] = _metrics(event)
    event["routing_key"] = routing_key(event)
    event["entity_id"] = entity_id(event)
    return event, []


def _problems(event: dict, now: float) -> Iterator[_Problem]:
    yield from _key_problems(event)
    for key, value in event.items():  # a top-level key is checked by _key_problems
        yield from unstorable(value, str(key))
    identity = list(_identity_problems(event))
    yield from identity
    if not identity:
        yield from _routing_key_problems(event)
    event_type = event.get("event_type")
    for field, rule in _OTHERS:
        if field in event:
            yield from _checked(field, rule, event[field], now)
        elif event_type in REQUIRED_FOR.get(field, ()):
            yield field, f"is required for a {event_type} event"


def _located(field: str, reason: str | None) -> Iterator[_Problem]:
    if reason:
        yield field, reason


def _checked(field: str, rule: Rule, value: object, now: float) -> Iterable[_Problem]:
    """The problems of a field by its rule; the rules that read numbers are checked here."""
    if isinstance(rule, Timestamp):
        return _located(field, _timestamp_problem(value, rule, now))
    if isinstance(rule, Metrics):
        return _perf_data_array_problems(value, rule)
    if isinstance(rule, Tags):
        return rule.problems(value)
    return _located(field, rule.problem(value))


def _key_problems(event: dict) -> Iterator[_Problem]:
    for key in event:
        if not is_key(key):
            yield str(key), "a field name must be a string without a leading '$' or a NUL"


def _identity_problems(event: dict) -> Iterator[_Problem]:
    fields = _IDENTITY if event.get("source_type") == "resource" else REQUIRED
    for field in fields:
        if field not in event:
            yield field, "is required"
        else:
            yield from _located(field, FIELDS[field].problem(event[field]))


def _routing_key_problems(event: dict) -> Iterator[_Problem]:
    size = len(routing_key(event).encode())
    if size > MAX_ROUTING_KEY_BYTES:
        yield (
            "routing_key",
            f"connector, connector_name, component and resource are too long: the routing key "
            f"would be {size} bytes, AMQP allows {MAX_ROUTING_KEY_BYTES}",
        )


def _timestamp_problem(value: object, rule: Timestamp, now: float) -> str | None:
    if not is_finite_number(value):
        return f"must be a number of seconds since the epoch, got {describe(value)}"
    if value <= 0:
        return f"must be positive, got {value}"
    if value > now + rule.ahead:
        return (
            f"{value} is more than {rule.ahead} seconds in the future "
            "(seconds since the epoch are expected, not milliseconds)"
        )
    return None


def _perf_data_array_problems(entries: object, rule: Metrics) -> Iterator[_Problem]:
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
            yield from _located(f"{where}.metric", NAME.problem(entry["metric"]))
        if "value" not in entry:
            yield f"{where}.value", "is required"
        for key, kinds in rule.fields.items():
            value = entry.get(key)
            if not _is_one_of(value, kinds):
                expected = " or ".join(f"a {kind}" for kind in kinds)
                yield f"{where}.{key}", f"must be {expected} or null, got {describe(value)}"


def _metrics(event: dict) -> list:
    metrics = list(event.get("perf_data_array", []))
    for metric in parse_perfdata(event.get("perf_data", "")):
        entry = metric.as_dict()
        if entry not in metrics:
            metrics.append(entry)
    return metrics


def _is_one_of(value: object, kinds: tuple[str, ...]) -> bool:
    if value is None:
        return True
    return ("number" in kinds and is_finite_number(value)) or (
        "string" in kinds and isinstance(value, str)
    )
