"""Alarm steps, and the bounds that keep an alarm document small.

A step is ``{"_t": type, "t": now, "a": author, "m": message, "val": value}``.
``a`` is the event's ``author``, else ``"<connector>.<connector_name>"``, and
``"canopsis"`` (:data:`SYSTEM_AUTHOR`) for what a beat does; ``m`` is the
event's ``output``.

Bounds:

- An alarm keeps up to :data:`MAX_STEPS` steps in all. Once ``steps`` holds
  ``hard_limit`` steps (an option, see :mod:`canopsis.domain.alarmconfig`),
  state and status steps are no longer appended, and past :data:`MAX_STEPS`
  no step is: the first one dropped appends a single ``hardlimit`` step, then
  each is counted in ``dropped_steps``.
- A step's message ``m`` and value are cut to :data:`MAX_STEP_TEXT` bytes and
  its author to :data:`MAX_AUTHOR` bytes (:func:`canopsis.domain.event.truncate`,
  the cut said at the end); an alarm keeps its first :data:`MAX_TAGS` tags.
  With outputs cut by the cleaner, no sequence of events can grow an alarm
  past MongoDB's document limit.
"""

from typing import Any

from canopsis.domain.event import truncate

Alarm = dict[str, Any]
Event = dict[str, Any]
Step = dict[str, Any]

SYSTEM_AUTHOR = "canopsis"
STATE_STEPS = ("stateinc", "statedec", "statusinc", "statusdec")
#: steps an alarm keeps at most, operator steps included (``hard_limit`` is at most this)
MAX_STEPS = 1000
#: bytes kept of a step's message and of a text value (a ticket), and of its author
MAX_STEP_TEXT = 1024
MAX_AUTHOR = 256
#: tags an alarm keeps (the first seen)
MAX_TAGS = 100


def append(alarm: Alarm, step: Step, hard_limit: int) -> None:
    """Append a step; past ``hard_limit`` steps, state and status steps are only counted,
    and past :data:`MAX_STEPS` every step is."""
    count = len(alarm["steps"])
    limit = hard_limit if step["_t"] in STATE_STEPS else MAX_STEPS
    if count < limit:
        alarm["steps"].append(step)
        return
    if alarm["dropped_steps"] == 0:
        dropped = "state and status steps" if limit < MAX_STEPS else "steps"
        text = f"{limit} steps reached: further {dropped} are counted"
        alarm["steps"].append(new("hardlimit", step["t"], SYSTEM_AUTHOR, text, limit))
    alarm["dropped_steps"] += 1


def new(kind: str, now: float, by: str, text: str, val: Any) -> Step:
    """A step, its texts cut to the bounds."""
    if isinstance(val, str):
        val = truncate(val, MAX_STEP_TEXT)
    return {
        "_t": kind,
        "t": now,
        "a": truncate(by, MAX_AUTHOR),
        "m": truncate(text, MAX_STEP_TEXT),
        "val": val,
    }


def from_event(kind: str, event: Event, now: float, val: Any) -> Step:
    """A step made by an event: its author, its output as the message."""
    return new(kind, now, author(event), message(event), val)


def author(event: Event) -> str:
    return event.get("author") or f"{event['connector']}.{event['connector_name']}"


def message(event: Event) -> str:
    return event.get("output") or ""
