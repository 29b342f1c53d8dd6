"""The alarm state machine: pure functions over an alarm document and an event.

Nothing here reads a clock, a database or a broker: ``now`` (epoch seconds) is
always a parameter, the input alarm is never mutated, and every function returns
an :class:`Outcome` holding a new alarm document that the engine writes.

The alarm document (one open alarm per entity; JSON and BSON friendly)
-----------------------------------------------------------------------
``_id``               ``"<entity_id>:<key>"``, ``key`` being the id of the event that
                      opened it, so re-creating it from a redelivered event lands on
                      the same document
``entity_id``, ``connector``, ``connector_name``, ``component``, ``resource``
                      copied from the opening event (``resource`` is None for a component)
``creation_date``     when it opened
``last_update_date``  last time anything in it changed (an event or a beat)
``last_event_date``   ``timestamp`` of the last check event (the sender's clock)
``resolved``          None while open, then when it was resolved; the engine then
                      moves it out of the open alarms
``state``             the current state step (``val`` 0..3); it is the
                      ``changestate`` step while an operator's state is locked
``status``            the current status step (``val``: see OFF..CANCELLED)
``ack``, ``snooze``, ``canceled``, ``ticket``
                      None or the step that set them: ``snooze["val"]`` is the
                      wake-up time, ``canceled["val"]`` the time it will be resolved,
                      ``ticket["val"]`` the ticket number
``steps``             the history, oldest first (see below)
``dropped_steps``     state and status steps not kept because of ``hard_limit``
``output``, ``long_output``, ``events_count``
                      from the check events (``events_count`` counts them)
``tags``              the tags of every check event, first seen first
``last_problem_date`` when the state last became a problem (``val`` > 0), for stealthy
``state_changes``     times of the last ``flapping_freq`` state changes made by check
                      events within ``flapping_interval``, for flapping
``event_keys``        the keys of the last ``keys_kept`` events applied, for idempotency,
                      as one binary of their digests (see :mod:`canopsis.domain.eventkeys`)
``pbehavior``         None, or the planned behaviour the entity is in (``id``, ``name``,
                      ``type``, ``reason``, ``author``, ``since``): see below

Steps, their shape and the bounds on them are in :mod:`canopsis.domain.alarmsteps`;
the options (``stealthy_time``...) in :mod:`canopsis.domain.alarmconfig`.
Every time in the document is canopsis' clock (``now``) except
``last_event_date``, so a sender with a skewed clock cannot shorten a delay.

Rules
-----
- A check with state > 0 opens an alarm when the entity has no open one; a
  check with state 0 and no open alarm is ignored.
- Status, recomputed after every event and beat, is the first that holds of:
  CANCELLED (canceled), FLAPPING (at least ``flapping_freq`` state changes
  within the last ``flapping_interval``), ONGOING (state > 0), STEALTHY (state
  0, reached less than ``stealthy_time`` after the last problem state began,
  and OK for less than ``stealthy_time``), OFF.
- On beat: a snooze ends at its wake-up time; a cancelled alarm is resolved
  ``cancel_autosolve_delay`` after the cancel; an OFF alarm whose state has been
  0 for ``flapping_interval`` is resolved. A delay is over when ``now`` reaches
  its end (``now >= start + delay``).
- ``changestate`` locks the state until the alarm resolves: later checks update
  the output and counters but not the state; its state changes do not count
  for flapping. A state locked above 0 never resolves by itself (cancel it).
- Steps past ``hard_limit`` are counted, not kept (see
  :mod:`canopsis.domain.alarmsteps`); ``state``, ``status``, ``ack``... always
  hold the current steps.
- Planned behaviours: an event worked by the pbehavior engine carries
  ``pbehavior``, the one its entity is in (None when none). Applying it makes
  the alarm follow: a ``pbhleave`` step when the alarm leaves one, a
  ``pbhenter`` step (``val`` the pbehavior's id, ``a`` its author) when it
  enters one. A new alarm opened in maintenance is flagged at once. A
  ``pbehavior`` event does only that (ignored as ``pbehavior_unchanged`` when
  the alarm already follows). An alarm in a pbehavior is not a problem
  (:func:`is_problem`), whatever its state.
- Idempotency: :func:`apply_event` takes the event's ``key`` (e.g. the AMQP
  message id, the same on redelivery) and keeps the last ``keys_kept`` keys in
  the alarm, so a redelivered event is reported ``already_applied``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from canopsis.domain import alarmsteps, eventkeys
from canopsis.domain.alarmconfig import AlarmConfig
from canopsis.domain.alarmsteps import MAX_TAGS, SYSTEM_AUTHOR, Alarm, Event, Step
from canopsis.domain.values import is_number

OFF, ONGOING, STEALTHY, FLAPPING, CANCELLED = range(5)


@dataclass(frozen=True)
class Outcome:
    """What applying an event or a beat did; ``alarm`` is None only when there is none."""

    alarm: Alarm | None
    created: bool = False
    changed: bool = False
    new_steps: list[Step] = field(default_factory=list)
    ignored_reason: str | None = None


# Helpers for readers of alarms (REST layer, engine).


def is_acked(alarm: Alarm) -> bool:
    return alarm["ack"] is not None


def is_snoozed(alarm: Alarm, now: float) -> bool:
    """True while the snooze runs, even before a beat clears an expired one."""
    return alarm["snooze"] is not None and now < alarm["snooze"]["val"]


def is_cancelled(alarm: Alarm) -> bool:
    return alarm["canceled"] is not None


def in_pbehavior(alarm: Alarm) -> bool:
    return alarm.get("pbehavior") is not None


#: :func:`in_pbehavior` as a MongoDB query on the open alarms (the alerts engine indexes
#: ``pbehavior.id``, held by the few alarms in a pbehavior)
IN_PBEHAVIOR_QUERY = {"pbehavior.id": {"$exists": True}}


def is_problem(alarm: Alarm) -> bool:
    """An open alarm, neither cancelled nor in a pbehavior, whose state is not OK."""
    return (
        alarm["resolved"] is None
        and not is_cancelled(alarm)
        and not in_pbehavior(alarm)
        and alarm["state"]["val"] > 0
    )


# Events.


def apply_event(
    alarm: Alarm | None, event: Event, now: float, cfg: AlarmConfig, key: str
) -> Outcome:
    """Apply a normalized event to the entity's open alarm (None when it has none).

    ``key`` identifies the event and must be the same when it is delivered again.
    """
    if event["event_type"] not in HANDLERS:
        return Outcome(alarm, ignored_reason="unsupported_event_type")
    if alarm is None or alarm["resolved"] is not None:
        if event["event_type"] == "check" and event["state"] > 0:
            return _applied(None, _new_alarm(event, now, key), event, now, cfg, key)
        return Outcome(alarm, ignored_reason="no_open_alarm")
    if eventkeys.known(alarm["event_keys"], key):
        return Outcome(alarm, ignored_reason="already_applied")
    return _applied(alarm, _copy(alarm), event, now, cfg, key)


def _applied(
    old: Alarm | None, new: Alarm, event: Event, now: float, cfg: AlarmConfig, key: str
) -> Outcome:
    """Run the event's handler on ``new``, a copy of ``old`` (None: a new alarm)."""
    reason = HANDLERS[event["event_type"]](new, event, now, cfg)
    if reason is not None:
        return Outcome(old, ignored_reason=reason)
    if event["event_type"] != "pbehavior":
        _follow_pbehavior(new, event, now, cfg)
    _refresh_status(new, now, cfg, alarmsteps.author(event), alarmsteps.message(event))
    new["event_keys"] = eventkeys.added(new["event_keys"], key, cfg.keys_kept)
    new["last_update_date"] = now
    old_steps = old["steps"] if old else []
    return Outcome(new, old is None, True, new["steps"][len(old_steps) :])


def _new_alarm(event: Event, now: float, key: str) -> Alarm:
    """An empty alarm in state 0, status OFF: the opening check fills it."""
    origin = alarmsteps.from_event("stateinc", event, now, 0)
    return {
        "_id": f"{event['entity_id']}:{key}",
        "entity_id": event["entity_id"],
        "connector": event["connector"],
        "connector_name": event["connector_name"],
        "component": event["component"],
        "resource": event.get("resource"),
        "creation_date": now,
        "last_update_date": now,
        "last_event_date": now,
        "resolved": None,
        "state": origin,
        "status": {**origin, "_t": "statusinc", "val": OFF},
        "ack": None,
        "snooze": None,
        "canceled": None,
        "ticket": None,
        "steps": [],
        "dropped_steps": 0,
        "output": "",
        "long_output": "",
        "events_count": 0,
        "tags": [],
        "last_problem_date": None,
        "state_changes": [],
        "event_keys": b"",
        "pbehavior": None,
    }


def _copy(alarm: Alarm) -> Alarm:
    """A copy safe to change: lists are copied, steps are never mutated so they are shared."""
    return {k: list(v) if isinstance(v, list) else v for k, v in alarm.items()}


# Event handlers: change the alarm copy in place, return a reason to ignore the event or None.


def _check(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> None:
    alarm["output"] = event.get("output", "")
    alarm["long_output"] = event.get("long_output", "")
    alarm["last_event_date"] = event.get("timestamp", now)
    alarm["events_count"] += 1
    new_tags = [t for t in dict.fromkeys(event.get("tags") or []) if t not in alarm["tags"]]
    alarm["tags"] += new_tags[: max(0, MAX_TAGS - len(alarm["tags"]))]
    state, current = event["state"], alarm["state"]
    if current["_t"] == "changestate" or state == current["val"]:
        return
    kind = "stateinc" if state > current["val"] else "statedec"
    _set_state(alarm, alarmsteps.from_event(kind, event, now, state), cfg)
    recent = [t for t in alarm["state_changes"] if t > now - cfg.flapping_interval]
    alarm["state_changes"] = [*recent, now][-cfg.flapping_freq :]


def _ack(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> None:
    alarm["ack"] = _operator_step(alarm, "ack", event, now, cfg)


def _undoer(field: str, action: str, refusal: str) -> Callable[..., str | None]:
    """The handler of ``action``, which clears ``field`` (``refusal`` when it is not set)."""

    def undo(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> str | None:
        if alarm[field] is None:
            return refusal
        alarm[field] = None
        _operator_step(alarm, action, event, now, cfg)
        return None

    return undo


def _snooze(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> str | None:
    duration = event.get("duration")
    if not is_number(duration) or duration <= 0:
        return "invalid_duration"
    alarm["snooze"] = _operator_step(alarm, "snooze", event, now, cfg, now + duration)
    return None


def _cancel(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> str | None:
    if alarm["canceled"] is not None:
        return "already_cancelled"
    deadline = now + cfg.cancel_autosolve_delay
    alarm["canceled"] = _operator_step(alarm, "cancel", event, now, cfg, deadline)
    return None


def _declareticket(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> None:
    alarm["ticket"] = _operator_step(alarm, "declareticket", event, now, cfg, event.get("ticket"))


def _assocticket(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> str | None:
    ticket = event.get("ticket")
    if not isinstance(ticket, str) or not ticket:
        return "missing_ticket"
    alarm["ticket"] = _operator_step(alarm, "assocticket", event, now, cfg, ticket)
    return None


def _changestate(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> str | None:
    state = event.get("state")
    if type(state) is not int or not 0 <= state <= 3:
        return "invalid_state"
    _set_state(alarm, alarmsteps.from_event("changestate", event, now, state), cfg)
    return None


def _comment(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> None:
    _operator_step(alarm, "comment", event, now, cfg)


def _pbehavior(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> str | None:
    return None if _follow_pbehavior(alarm, event, now, cfg) else "pbehavior_unchanged"


def _follow_pbehavior(alarm: Alarm, event: Event, now: float, cfg: AlarmConfig) -> bool:
    """Make the alarm follow the event's ``pbehavior``; True when it changed."""
    if "pbehavior" not in event:
        return False
    current, wanted = alarm.get("pbehavior"), event["pbehavior"]
    if (current or {}).get("id") == (wanted or {}).get("id"):
        return False
    if current is not None:
        message = f"left {current['type']} {current['name']!r}"
        step = alarmsteps.new("pbhleave", now, SYSTEM_AUTHOR, message, current["id"])
        alarmsteps.append(alarm, step, cfg.hard_limit)
    if wanted is not None:
        message = f"entered {wanted['type']} {wanted['name']!r}: {wanted['reason']}"
        step = alarmsteps.new("pbhenter", now, wanted["author"], message, wanted["id"])
        alarmsteps.append(alarm, step, cfg.hard_limit)
    alarm["pbehavior"] = None if wanted is None else {**wanted, "since": now}
    return True


HANDLERS: dict[str, Callable[[Alarm, Event, float, AlarmConfig], str | None]] = {
    "check": _check,
    "ack": _ack,
    "ackremove": _undoer("ack", "ackremove", "not_acked"),
    "snooze": _snooze,
    "cancel": _cancel,
    "uncancel": _undoer("canceled", "uncancel", "not_cancelled"),
    "declareticket": _declareticket,
    "assocticket": _assocticket,
    "changestate": _changestate,
    "comment": _comment,
    "pbehavior": _pbehavior,
}


# Beat.


def on_beat(alarm: Alarm, now: float, cfg: AlarmConfig) -> Outcome:
    """Apply the passing of time to an open alarm: snooze end, status, resolution."""
    if alarm["resolved"] is not None:
        return Outcome(alarm, ignored_reason="resolved")
    new = _copy(alarm)
    if new["snooze"] is not None and now >= new["snooze"]["val"]:
        new["snooze"] = None
    _refresh_status(new, now, cfg, SYSTEM_AUTHOR, "periodic check")
    if _resolvable(new, now, cfg):
        new["resolved"] = now
    if new == alarm:
        return Outcome(alarm)
    new["last_update_date"] = now
    return Outcome(new, changed=True, new_steps=new["steps"][len(alarm["steps"]) :])


def _resolvable(alarm: Alarm, now: float, cfg: AlarmConfig) -> bool:
    if alarm["canceled"] is not None:
        return now >= alarm["canceled"]["val"]
    ok_since = alarm["state"]["t"]
    return alarm["status"]["val"] == OFF and now >= ok_since + cfg.flapping_interval


# State, status and steps.


def _status_value(alarm: Alarm, now: float, cfg: AlarmConfig) -> int:
    if alarm["canceled"] is not None:
        return CANCELLED
    recent_changes = [t for t in alarm["state_changes"] if t > now - cfg.flapping_interval]
    if len(recent_changes) >= cfg.flapping_freq:
        return FLAPPING
    state = alarm["state"]
    if state["val"] > 0:
        return ONGOING
    brief_problem = state["t"] - alarm["last_problem_date"] < cfg.stealthy_time
    if brief_problem and now < state["t"] + cfg.stealthy_time:
        return STEALTHY
    return OFF


def _refresh_status(alarm: Alarm, now: float, cfg: AlarmConfig, author: str, message: str) -> None:
    value, current = _status_value(alarm, now, cfg), alarm["status"]["val"]
    if value != current:
        kind = "statusinc" if value > current else "statusdec"
        alarm["status"] = alarmsteps.new(kind, now, author, message, value)
        alarmsteps.append(alarm, alarm["status"], cfg.hard_limit)


def _set_state(alarm: Alarm, step: Step, cfg: AlarmConfig) -> None:
    alarm["state"] = step
    if step["val"] > 0:
        alarm["last_problem_date"] = step["t"]
    alarmsteps.append(alarm, step, cfg.hard_limit)


def _operator_step(
    alarm: Alarm, kind: str, event: Event, now: float, cfg: AlarmConfig, val: Any = None
) -> Step:
    step = alarmsteps.from_event(kind, event, now, val)
    alarmsteps.append(alarm, step, cfg.hard_limit)
    return step
