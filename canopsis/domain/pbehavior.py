"""Planned behaviours ("pbehaviors"): periods when matching entities are in maintenance, paused
or inactive.

A pbehavior is a document::

    {"_id": "pb1", "name": "Saturday backup", "type": "maintenance",
     "reason": "weekly backup",
     "filter": {"component": "db1"},        # an entity pattern (canopsis.domain.match)
     "start": 1774062000, "end": 1774065600, # epoch seconds; end may be null
     "rrule": "FREQ=WEEKLY;BYDAY=SA",       # optional iCalendar RRULE value
     "exdates": [1774666800],               # occurrence starts to skip
     "tz": "Europe/Paris",                  # IANA time zone, default UTC
     "enabled": true}                       # default true

``author``, ``created`` and ``updated`` (:data:`METADATA_FIELDS`) are set by the REST API
(``author`` is shown on the alarms that enter it); any other key is an error. :data:`SCHEMA`
says the same in JSON Schema (the REST API validates and publishes it).

Without ``rrule`` the single period is ``[start, end)``, open-ended when ``end`` is null. With
``rrule`` (``end`` is then required) the first occurrence starts at ``start`` and every
occurrence lasts ``end - start`` seconds. Occurrences are computed by python-dateutil in the
pbehavior's time zone from the local wall-clock time of ``start``: a weekly 04:00 window stays at
04:00 local across daylight-saving changes, so its UTC time shifts. A local time that does not
exist (in the spring gap) is read with the offset before the change, an ambiguous one (in the
autumn overlap) as its first instance, as :mod:`zoneinfo` does. An occurrence whose start is one
of ``exdates`` is skipped. ``UNTIL`` in a rule must be in UTC (``...Z``), as RFC 5545 asks.

A rule must be able to occur: dateutil looks for the next occurrence up to year 9999, which
takes seconds for a rule no day of the calendar can fit (``FREQ=MINUTELY;BYMONTH=2;
BYMONTHDAY=30``), so :func:`validate` refuses those, checking the day-choosing parts of the rule
a year at a time. A rule whose days exist but that its ``INTERVAL`` never lands on (``FREQ=DAILY;
INTERVAL=7;BYDAY=MO`` from a Tuesday) is valid: its only occurrence is ``start``.

Several pbehaviors can be active on one entity at once: the one that applies is chosen by type,
``inactive`` first, then ``maintenance``, then ``pause``, then by ``_id``
(:func:`applicable`). :class:`Schedule` follows which pbehaviors are active as time passes,
recomputing a pbehavior only when it changed or when its next change is due.

The module is pure: no database and no clock, ``now`` is always a parameter. Work is bounded:
at most :data:`MAX_OCCURRENCES` occurrences of a rule are examined for one window, and
:func:`next_change` looks :data:`HORIZON` seconds ahead. A weekly, daily, hourly, minutely or
secondly rule without ``COUNT`` is expanded from a whole number of its steps (wall clock)
before the window rather than from ``start``, which gives the same occurrences without walking
through the years between; a monthly or yearly rule, or one with ``COUNT``, is expanded from
``start`` (10,000 monthly occurrences are 833 years).
"""

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from canopsis.domain import schemas
from canopsis.domain.event import LATEST
from canopsis.domain.match import FieldError, Pattern, PatternError, compile_pattern
from canopsis.domain.schemas import NON_BLANK

TYPES = ("maintenance", "pause", "inactive")
#: the order in which pbehaviors active on one entity apply
PRECEDENCE = ("inactive", "maintenance", "pause")
#: the parts of a rule that choose its days
_DAY_PARTS = ("BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYDAY", "WKST")
MAX_OCCURRENCES = 10_000
HORIZON = 400 * 86400.0

METADATA_FIELDS = frozenset({"author", "created", "updated"})
_REQUIRED = ("name", "type", "reason", "filter", "start")
_RRULE_PREFIX = "RRULE:"
#: seconds in one step of the frequencies whose rules can be expanded from later on
_STEPS = {"WEEKLY": 7 * 86400, "DAILY": 86400, "HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}
#: a rule expanded from later on starts this long before the window (daylight saving shifts)
_LEAD = 2 * 86400

Period = tuple[float, float]

_WHEN = f"epoch seconds from 0 to {LATEST}"
_EPOCH = {
    "type": "number",
    "minimum": 0,
    "maximum": LATEST,
    "description": "epoch seconds",
    "x-expected": _WHEN,
}
_TEXT = {"type": "string", "pattern": NON_BLANK}
SCHEMA = schemas.object_schema(
    {
        "_id": _TEXT,
        "name": _TEXT,
        "reason": {"type": "string"},
        "author": {"type": "string"},
        "created": {"type": "number"},
        "updated": {"type": "number"},
        "type": {"enum": list(TYPES)},
        "enabled": {"type": "boolean"},
        "filter": {"type": "object", "description": "an entity pattern of canopsis.domain.match"},
        "start": _EPOCH,
        "end": {
            **_EPOCH,
            "type": ["number", "null"],
            "description": "epoch seconds, after start; null: open-ended (not with rrule)",
            "x-expected": f"{_WHEN}, or null",
        },
        "exdates": {
            "type": "array",
            "items": _EPOCH,
            "description": "occurrence starts to skip",
            "x-expected": "a list of epoch seconds",
        },
        "tz": {"type": "string", "description": "IANA time zone of the rule, default UTC"},
        "rrule": {
            "type": ["string", "null"],
            "description": "an iCalendar RRULE value (FREQ=WEEKLY;BYDAY=SA); each occurrence "
            "lasts end - start",
        },
    },
    list(_REQUIRED),
    "A pbehavior (see canopsis.domain.pbehavior).",
)


def _zone(name: object) -> ZoneInfo | None:
    """The time zone called ``name``, or None when there is none."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _body(text: str) -> str:
    return text[len(_RRULE_PREFIX) :] if text.upper().startswith(_RRULE_PREFIX) else text


def _parts(body: str) -> dict[str, str]:
    """The ``KEY=VALUE`` parts of a rule, keys in upper case."""
    return dict(part.upper().split("=", 1) for part in body.split(";") if "=" in part)


def _dtstart(start: float, zone: ZoneInfo) -> datetime:
    """``start`` as dateutil's DTSTART: whole seconds, local to ``zone``."""
    return datetime.fromtimestamp(math.floor(start), zone)


def _parse_rule(text: str, start: float, zone: ZoneInfo) -> rrule:
    """The rule of ``text`` from ``start`` in ``zone``; ValueError with a reason when invalid."""
    body = _body(text)
    if ":" in body or "\n" in body:
        raise ValueError(
            "expected one RRULE value (start, exdates and tz give DTSTART, EXDATE and TZID)"
        )
    if "FREQ=" not in body.upper():
        raise ValueError("FREQ is required")
    try:
        rule = rrulestr(body, dtstart=_dtstart(start, zone))
    except TypeError as exc:  # dateutil's report of some missing or misplaced parts
        raise ValueError(str(exc)) from exc
    assert isinstance(rule, rrule)
    return rule


def _some_day_fits(body: str, dtstart: datetime) -> bool:
    """Whether some day fits the day-choosing parts of the rule ``body`` (a yearly check).

    dateutil expands a yearly rule a whole year at a time, so the search up to year 9999 for a
    rule that never occurs takes a fraction of a second, where the rule's own frequency (a
    minute, an hour) would take seconds.
    """
    parts = _parts(body)
    kept = {key: value for key, value in parts.items() if key in _DAY_PARTS}
    if parts.get("FREQ") == "MONTHLY" and "BYMONTH" not in kept:
        kept["BYMONTH"] = ",".join(str(month) for month in range(1, 13))  # BYDAY=1MO: per month
    text = ";".join(["FREQ=YEARLY", *(f"{key}={value}" for key, value in kept.items())])
    try:
        return next(iter(rrulestr(text, dtstart=dtstart)), None) is not None
    except ValueError:  # dateutil refuses some impossible combinations outright
        return False


def validate(doc: object) -> list[FieldError]:
    """Every problem of the pbehavior ``doc``, each with its field; empty when it is valid.

    :data:`SCHEMA` first, then what it cannot say: the filter, the end after the start, the
    time zone and the rule.
    """
    errors = schemas.problems(SCHEMA, doc)
    if not isinstance(doc, dict):
        return errors
    bad = schemas.refused(errors)
    if "filter" in doc and "filter" not in bad:
        try:
            compile_pattern(doc["filter"], "filter")
        except PatternError as exc:
            errors += exc.errors
    start, end = doc.get("start"), doc.get("end")
    if end is not None and not bad & {"start", "end"} and end <= start:
        errors.append(FieldError("end", "must be after start"))
    tz = doc.get("tz", "UTC")
    zone = _zone(tz)
    if zone is None and "tz" not in bad:
        errors.append(FieldError("tz", f"unknown time zone {tz!r}"))
    rule = doc.get("rrule")
    if rule is not None:
        if "rrule" not in bad:
            first = 0 if "start" in bad else start
            errors += [FieldError("rrule", reason) for reason in _rule_problems(rule, first, zone)]
        if end is None:
            errors.append(FieldError("end", "required with rrule"))
    return errors


def _rule_problems(rule: str, start: float, zone: ZoneInfo | None) -> list[str]:
    """Why ``rule`` from ``start`` in ``zone`` (UTC when None) is not a rule that can occur."""
    zone = zone or UTC
    try:
        _parse_rule(rule, start, zone)
        if not _some_day_fits(_body(rule), _dtstart(start, zone)):
            raise ValueError("no day of the calendar fits this rule: it can never occur")
    except ValueError as exc:
        return [str(exc)]
    return []


def _later_start(body: str, start: float, since: float, zone: ZoneInfo) -> datetime | None:
    """A DTSTART a whole number of the rule's steps after ``start``, well before ``since``.

    From it, the rule gives the same occurrences as from ``start``. None when the rule cannot
    be moved (``COUNT`` counts from the first occurrence, months and years vary in length) or
    ``since`` is near ``start``.
    """
    parts = _parts(body)
    step = _STEPS.get(parts["FREQ"])
    if step is None or "COUNT" in parts:
        return None
    step *= int(parts.get("INTERVAL", "1"))
    steps = math.floor((since - start - _LEAD) / step)
    if steps <= 0:
        return None
    local = _dtstart(start, zone).replace(tzinfo=None)
    return (local + timedelta(seconds=steps * step)).replace(tzinfo=zone)


def _occurrences(doc: dict, since: float) -> Iterator[float]:
    """The starts of the occurrences of a valid ``doc``, in order, exdates included.

    The first ones may be skipped up to ``since``, never one at or after it.
    """
    start = doc["start"]
    if doc.get("rrule") is None:
        yield start
        return
    zone = _zone(doc.get("tz", "UTC"))
    assert zone is not None
    fraction = start - math.floor(start)  # dateutil works in whole seconds
    later = _later_start(_body(doc["rrule"]), start, since, zone)
    if later is not None:
        rule = rrulestr(_body(doc["rrule"]), dtstart=later)
        yield from islice((o.timestamp() + fraction for o in rule), MAX_OCCURRENCES)
        return
    starts = (
        occurrence.timestamp() + fraction for occurrence in _parse_rule(doc["rrule"], start, zone)
    )
    first = next(starts, None)
    # start is the first occurrence, whether or not the rule gives it
    head = [start] if first is None or first == start else [start, first]
    yield from islice(chain(head, starts), MAX_OCCURRENCES)


def periods(doc: dict, start: float, end: float) -> list[Period]:
    """The active periods of the valid pbehavior ``doc`` within ``[start, end)``.

    Periods are clipped to the window, sorted, and overlapping or adjacent ones merged. A
    disabled pbehavior has none.
    """
    if not doc.get("enabled", True) or end <= start:
        return []
    duration = math.inf if doc.get("end") is None else doc["end"] - doc["start"]
    excluded = set(doc.get("exdates", ()))
    found: list[Period] = []
    for begin in _occurrences(doc, start - duration):
        if begin >= end:
            break
        if begin in excluded or begin + duration <= start:
            continue
        clipped = (max(begin, start), min(begin + duration, end))
        if found and clipped[0] <= found[-1][1]:
            found[-1] = (found[-1][0], max(found[-1][1], clipped[1]))
        else:
            found.append(clipped)
    return found


def active(doc: dict, now: float) -> bool:
    """Whether the valid pbehavior ``doc`` is active at ``now``."""
    return bool(periods(doc, now, math.nextafter(now, math.inf)))


def next_change(doc: dict, now: float) -> float | None:
    """The first time after ``now`` when :func:`active` changes, within :data:`HORIZON`."""
    limit = now + HORIZON
    found = periods(doc, now, limit)
    if not found:
        return None
    begin, finish = found[0]
    if begin > now:
        return begin
    return finish if finish < limit else None


def summary(doc: dict) -> dict:
    """What an alarm in the pbehavior ``doc`` shows of it."""
    shown = {key: doc[key] for key in ("name", "type", "reason")}
    return {"id": doc["_id"], **shown, "author": doc.get("author") or "canopsis"}


def applicable(docs: list[dict], entity: dict, patterns: dict[str, Pattern]) -> dict | None:
    """The pbehavior of ``docs`` (active ones, ordered by :func:`ordered`) that ``entity`` is in.

    ``patterns`` holds each one's compiled filter by ``_id``.
    """
    return next((doc for doc in docs if patterns[doc["_id"]].matches(entity)), None)


def in_effect(docs: Iterable[dict], entity: dict, now: float) -> dict | None:
    """The summary of the pbehavior of ``docs`` that ``entity`` is in at ``now``, or None.

    Documents that do not validate are skipped, as the pbehavior engine skips them.
    """
    running = ordered([doc for doc in docs if not validate(doc) and active(doc, now)])
    found = applicable(running, entity, {doc["_id"]: pattern(doc) for doc in running})
    return None if found is None else summary(found)


def ordered(docs: list[dict]) -> list[dict]:
    """``docs`` in the order they apply to one entity (see :data:`PRECEDENCE`)."""
    return sorted(docs, key=lambda doc: (PRECEDENCE.index(doc["type"]), str(doc["_id"])))


class Schedule:
    """Which pbehaviors are active, followed as time passes.

    :meth:`update` takes every stored pbehavior (valid ones) at each reload; a pbehavior is
    recomputed when its document changed or its next change is due, else its last answer
    stands.
    """

    def __init__(self) -> None:
        #: _id -> (document, active, next change or None)
        self._known: dict[str, tuple[dict, bool, float | None]] = {}

    def update(self, docs: list[dict], now: float) -> list[dict]:
        """The active pbehaviors among ``docs`` at ``now``, in the order they apply."""
        known = {}
        for doc in docs:
            entry = self._known.get(doc["_id"])
            if entry is None or entry[0] != doc or (entry[2] is not None and now >= entry[2]):
                entry = (doc, active(doc, now), next_change(doc, now))
            known[doc["_id"]] = entry
        self._known = known
        return ordered([doc for doc, is_active, _change in known.values() if is_active])

    def next_change(self) -> float | None:
        """The soonest time one of the pbehaviors of the last update changes, if any."""
        return min((change for _, _, change in self._known.values() if change), default=None)


def pattern(doc: dict) -> Pattern:
    """The compiled filter of the valid pbehavior ``doc``, to match many entities with."""
    return compile_pattern(doc["filter"], "filter")


def matches(doc: dict, entity: dict) -> bool:
    """Whether ``entity`` is one the valid pbehavior ``doc`` applies to."""
    return pattern(doc).matches(entity)
