"""Heartbeats: raise an alarm when the events expected from a source stop coming.

Pure functions, like :mod:`canopsis.domain.alarm`: nothing here reads a clock or a
database, ``now`` (epoch seconds, canopsis' clock) is always a parameter and no
input is ever changed.

The definition document (collection ``heartbeats``)::

    {"_id": "agent-7",                          # required, a non-empty string
     "name": "agent-7 alive",                   # optional, defaults to the _id
     "description": "...",                      # optional, free text
     "match": {"connector_name": "agent-7"},    # required, see canopsis.domain.match
     "interval": 60,                            # required, seconds, > 0
     "component": "heartbeats",                 # optional, default "heartbeats"
     "output_late": "agent-7 is silent",        # optional, replaces the default output
     "output_ok": "agent-7 is back",            # optional, replaces the default output
     "parent": "relay-1"}                       # optional, the _id of a parent heartbeat

:data:`SCHEMA` says the same in JSON Schema (the REST API validates and publishes it).
``author`` (a string), ``created`` and ``updated`` (epoch seconds) may be stored
with it; any other key is an error. A definition may instead carry ``entity`` (an object
of ``connector``, ``connector_name``, ``source_type``, ``component`` and, for a
resource, ``resource``) to raise its alarm on that entity; :func:`announced`
builds such definitions, and ``component`` cannot be given with it.

The raised events are ``check`` events (``state_type`` hard, ``timestamp``
``now``) on, without ``entity``: connector ``canopsis``, connector_name
``heartbeat``, source_type ``resource``, component the definition's
``component``, resource its ``name``; so two definitions should not share a
name and component (:func:`check_tree` reports it). :func:`validate` builds one
and runs :func:`canopsis.domain.event.validate` on it, so a valid definition only
raises valid events.

Tracking state, one per definition: ``{"last_seen": epoch | None, "late": bool,
"since": epoch}``, made by :func:`new_state` when the definition is created.
:func:`observe` records a matching event (at ``now``, not the sender's
timestamp, so a skewed clock cannot hide a silence); :func:`evaluate`, called
periodically and after :func:`observe`, tells when the heartbeat turns late
(``now - last_seen > interval``, or ``now - since > interval`` when no event
was ever seen: exactly ``interval`` seconds of silence is still on time) and
returns a critical check event then, and an ok (state 0) check event when an
event comes after it was late. Only transitions raise an event, so the usual
alarm lifecycle (one alarm opened, then resolved) follows.

Self-announced heartbeats: an agent sends ``heartbeat`` events with an
``interval`` field (seconds); :func:`announced` turns one into a definition
keyed by the agent's entity, matching that entity's heartbeat events and
raising on the entity itself, so an agent silent longer than the interval it
announced gets an alarm saying how long it has been silent.

Trees: a parent heartbeat hears of its children through them, so its interval
(its timeout) must be greater than each child's interval, or the parent turns
late while a child is merely on time; :func:`check_tree` checks that over a set
of definitions, along with unknown parents, cycles, duplicate ids and two
definitions raising on the same entity.
"""

from collections.abc import Callable, Iterable
from typing import Any

from canopsis.domain import event as events
from canopsis.domain import schemas
from canopsis.domain.match import FieldError, Pattern, PatternError, compile_pattern
from canopsis.domain.schemas import NON_BLANK

Definition = dict[str, Any]
State = dict[str, Any]
Event = dict[str, Any]

CONNECTOR = "canopsis"
CONNECTOR_NAME = "heartbeat"
DEFAULT_COMPONENT = "heartbeats"
METADATA_FIELDS = frozenset({"author", "created", "updated"})
ENTITY_FIELDS = ("connector", "connector_name", "source_type", "component", "resource")

_SAMPLE_TIME = 1.0
_NAME = {"type": "string", "pattern": NON_BLANK, "x-expected": "a non-empty string"}
SCHEMA = schemas.object_schema(
    {
        "_id": _NAME,
        "name": _NAME,
        "description": {"type": "string"},
        "match": schemas.PATTERN,
        "interval": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "seconds",
            "x-expected": "a number of seconds greater than 0",
        },
        "component": _NAME,
        "entity": schemas.object_schema(
            {key: {"type": "string"} for key in ENTITY_FIELDS},
            description="the entity to raise the alarm on (instead of component)",
        ),
        "output_late": {"type": "string"},
        "output_ok": {"type": "string"},
        "parent": {**_NAME, "description": "the _id of a parent heartbeat"},
        "author": {"type": "string"},
        "created": {"type": "number"},
        "updated": {"type": "number"},
    },
    ["_id", "match", "interval"],
    "A heartbeat definition (see canopsis.domain.heartbeat).",
)


# Definitions.


def validate(doc: object) -> list[FieldError]:
    """Every problem of ``doc`` as a heartbeat definition, by field: :data:`SCHEMA`, then
    its pattern, its parent, and the events it would raise."""
    errors = schemas.problems(SCHEMA, doc)
    if not isinstance(doc, dict):
        return errors
    bad = schemas.refused(errors)
    if "parent" in doc and doc["parent"] == doc.get("_id") and "parent" not in bad:
        errors.append(FieldError("parent", "a heartbeat cannot be its own parent"))
    if "match" in doc and "match" not in bad:
        try:
            compile_pattern(doc["match"], "match")
        except PatternError as exc:
            errors.extend(exc.errors)
    if "entity" in doc and "component" in doc:
        errors.append(FieldError("component", "cannot be given with entity"))
    elif not bad & {"_id", "name", "component", "entity"}:
        errors.extend(_target_errors(doc))
    return errors


def _target_errors(defn: Definition) -> list[FieldError]:
    """The problems of the events ``defn`` would raise, on the definition's fields."""
    if "entity" in defn:
        where = {key: f"entity.{key}" for key in ENTITY_FIELDS} | {"routing_key": "entity"}
    else:
        where = {"component": "component", "resource": "name", "routing_key": "name"}
    sample = _raised(defn, events.STATE_CRITICAL, "", _SAMPLE_TIME)
    return [
        FieldError(where.get(error.field, "entity"), error.reason)
        for error in events.validate(sample, _SAMPLE_TIME)
    ]


def pattern(defn: Definition) -> Pattern:
    """The compiled ``match`` of ``defn`` (a valid definition), to reuse over many events."""
    return compile_pattern(defn["match"])


def matches(defn: Definition, event: Event) -> bool:
    """Whether ``event`` matches the pattern of ``defn`` (a valid definition)."""
    return pattern(defn).matches(event)


def announced(event: Event) -> tuple[Definition | None, list[FieldError]]:
    """The definition a ``heartbeat`` event with an ``interval`` announces.

    ``(None, [])`` when ``event`` (a valid event) announces nothing, ``(None,
    errors)`` when its interval is not usable, else the definition, whose
    ``_id`` and ``name`` are the entity id of the event.
    """
    if event.get("event_type") != "heartbeat" or "interval" not in event:
        return None, []
    entity = {key: event[key] for key in ENTITY_FIELDS if key in event}
    if entity.get("source_type") != "resource":
        entity.pop("resource", None)
    key = events.entity_id(entity)
    defn = {
        "_id": key,
        "name": key,
        "match": {"event_type": "heartbeat", **entity},
        "interval": event["interval"],
        "entity": entity,
    }
    errors = validate(defn)
    return (None, errors) if errors else (defn, [])


# Tracking.


def new_state(now: float) -> State:
    """The state of a heartbeat created at ``now``: nothing seen yet, on time."""
    return {"last_seen": None, "late": False, "since": now}


def observe(defn: Definition, state: State, event: Event, now: float) -> State:
    """The state after ``event`` arrived at ``now``: unchanged when it does not match."""
    if not matches(defn, event):
        return state
    return state | {"last_seen": now}


def evaluate(defn: Definition, state: State, now: float) -> tuple[State, Event | None]:
    """The state at ``now`` and the check event to send when it turned late or back on time."""
    seen = state["last_seen"]
    silent = now - (state["since"] if seen is None else seen)
    late = silent > defn["interval"]
    if late == state["late"]:
        return state, None
    if late:
        output = defn.get("output_late") or _late_output(defn, silent, seen is None)
        return state | {"late": True}, _raised(defn, events.STATE_CRITICAL, output, now)
    output = defn.get("output_ok") or (
        f"heartbeat {defn.get('name', defn['_id'])!r}: events received again "
        f"(expected every {_seconds(defn['interval'])})"
    )
    return state | {"late": False}, _raised(defn, events.STATE_INFO, output, now)


def _late_output(defn: Definition, silent: float, never: bool) -> str:
    since = "no event since the heartbeat was created" if never else "no event"
    return (
        f"heartbeat {defn.get('name', defn['_id'])!r}: {since} {_seconds(silent)} ago, "
        f"expected every {_seconds(defn['interval'])}"
    )


def _raised(defn: Definition, state: int, output: str, now: float) -> Event:
    entity = defn.get("entity") or {
        "connector": CONNECTOR,
        "connector_name": CONNECTOR_NAME,
        "source_type": "resource",
        "component": defn.get("component", DEFAULT_COMPONENT),
        "resource": defn.get("name", defn["_id"]),
    }
    return {
        **entity,
        "event_type": "check",
        "state": state,
        "state_type": events.STATE_TYPE_HARD,
        "timestamp": now,
        "output": output,
    }


# Sets of definitions.


def check_tree(defs: Iterable[Definition]) -> list[FieldError]:
    """The problems of a set of valid definitions taken together, fields named ``<_id>.<key>``.

    Duplicate ids, two definitions raising on one entity, unknown parents,
    cycles, and a parent whose interval is not greater than a child's.
    """
    errors: list[FieldError] = []
    by_id: dict[str, Definition] = {}
    by_entity: dict[str, str] = {}
    for defn in defs:
        key = defn["_id"]
        if key in by_id:
            errors.append(FieldError(f"{key}._id", "another heartbeat has this _id"))
            continue
        by_id[key] = defn
        entity = events.entity_id(_raised(defn, events.STATE_INFO, "", _SAMPLE_TIME))
        if entity in by_entity:
            reason = f"raises on entity {entity!r}, as heartbeat {by_entity[entity]!r} does"
            errors.append(FieldError(f"{key}.name", reason))
        else:
            by_entity[entity] = key
    for key, defn in by_id.items():
        if "parent" in defn:
            errors.extend(_parent_errors(key, defn, by_id.get))
    return errors


def _parent_errors(
    key: str, defn: Definition, find: Callable[[str], Definition | None]
) -> list[FieldError]:
    parent = find(defn["parent"])
    if parent is None:
        return [FieldError(f"{key}.parent", f"unknown heartbeat {defn['parent']!r}")]
    errors = []
    if parent["interval"] <= defn["interval"]:
        reason = (
            f"the interval of parent {parent['_id']!r} ({_seconds(parent['interval'])}) must be "
            f"greater than the interval of its child {key!r} ({_seconds(defn['interval'])})"
        )
        errors.append(FieldError(f"{key}.parent", reason))
    seen = {key}
    while parent is not None and "parent" in parent:
        if parent["_id"] in seen:
            errors.append(FieldError(f"{key}.parent", "the parents form a cycle"))
            break
        seen.add(parent["_id"])
        parent = find(parent["parent"])
    return errors


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"
