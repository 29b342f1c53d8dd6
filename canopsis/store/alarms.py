"""The alarms: ``alarms`` holds the open ones (one per entity), ``alarms_resolved`` the others.

The alerts engine writes them (see :mod:`canopsis.engines.alerts`); the REST API lists,
counts and reads them with the :class:`Filters` of its query parameters. A disabled
entity's open alarms are flagged by :func:`flag_entity_disabled` (the REST API when an
entity is disabled, the context engine at each beat).
"""

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from canopsis.domain.values import is_number

OPEN = "alarms"
RESOLVED = "alarms_resolved"
STATES = range(4)
STATUSES = range(5)
#: the fields never answered (internal to the alerts engine)
HIDDEN = {"event_keys": 0, "rev": 0, "written_by": 0}
#: the equality filters, the indexed ones first (see :func:`query`)
EQUALITIES = ("component", "connector_name", "resource", "connector")

#: indexes of the open alarms no longer kept: each index costs the embedded database about
#: 0.3 ms on every alarm write, indexed value changed or not, and these few-valued ones
#: (a state or status matches a quarter of the alarms or more) or rarely sorted on saved
#: little on reads
DROPPED_INDEXES = ("creation_date_-1", "state.val_-1", "status.val_-1")
#: a newest-first page is looked for among the alarms updated within each of these spans
#: (seconds) before all of them: everything in a span is newer than everything out of it,
#: so a full page found there is the page. A query costs the embedded database every
#: alarm it matches, sort and limit or not (secantusd-rs reads and orders every match;
#: 100,000 open alarms: ~250 ms, ~6 µs an alarm), so the spans start at a quarter of a
#: second, where a live site (every check refreshes its open alarm's last_update_date)
#: finds a page even in an alarm storm, and grow fourfold, so a miss costs a fraction of
#: the next try; the last is 18 h
RECENT_SPANS = tuple(4.0**power / 4 for power in range(10))
#: an unfiltered total at least this large is counted again only once it is
#: TOTAL_MAX_AGE_S old, or TOTAL_AGE_FACTOR times what counting took if longer (so
#: counting takes at most a tenth of the server's time): counting reads every alarm on
#: the embedded database (~100 ms for 10,000, ~1 s for 100,000), and a list that large
#: changes faster than an operator reads it
LARGE_TOTAL = 1000
TOTAL_MAX_AGE_S = 2.0
TOTAL_AGE_FACTOR = 10


def ensure_indexes(db: Database) -> None:
    """The indexes of the open and resolved alarms (the REST API's filters and sorts).

    Open alarms are written on every event about them, so they keep only the
    indexes that reads cannot do without: the entity (the engine's lookups, one
    open alarm per entity), ``last_update_date`` (the default newest-first list),
    the component and the connector (the selective filters), the alarms in a
    pbehavior (few). A state or status filter alone, or a sort on
    ``creation_date``, reads the open alarms.
    """
    opened = db[OPEN]
    opened.create_index("entity_id", unique=True)
    opened.create_index([("last_update_date", DESCENDING)])
    opened.create_index([("component", ASCENDING), ("resource", ASCENDING)])
    opened.create_index("connector_name")
    opened.create_index("pbehavior.id", sparse=True)  # the few alarms in a pbehavior
    existing = opened.index_information()
    for name in DROPPED_INDEXES:
        if name in existing:
            opened.drop_index(name)
    resolved = db[RESOLVED]
    resolved.create_index([("entity_id", ASCENDING), ("resolved", DESCENDING)])
    resolved.create_index([("resolved", DESCENDING)])


def flag_entity_disabled(
    db: Database, entity_ids: list[str], flag: bool, still_disabled: list[str] = ()
) -> int:
    """Set ``entity_disabled`` to ``flag`` on the open alarms that the events of
    ``entity_ids`` reach (their own, and a component's resources'), but, when clearing
    it, on those of an entity or component of ``still_disabled``; the number changed.

    ``rev`` is incremented: a write of the alerts engine computed from an alarm before is
    refused by its revision and its batch worked again on the fresh alarm, so the flag is
    not lost.
    """
    changed = 0
    for name in ("entity_id", "component"):  # each first, so that its index serves
        query: dict = {name: {"$in": entity_ids}, "entity_disabled": {"$ne": flag}}
        if not flag and still_disabled:
            for other in ("entity_id", "component"):
                query.setdefault(other, {})["$nin"] = list(still_disabled)
        update = {"$set": {"entity_disabled": flag}, "$inc": {"rev": 1}}
        changed += db[OPEN].update_many(query, update).modified_count
    return changed


@dataclass
class Filters:
    """What selects alarms; None (or empty) selects on nothing."""

    opened: bool = True
    #: field of :data:`EQUALITIES` -> value
    equal: dict[str, str] = field(default_factory=dict)
    states: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    acked: bool | None = None
    snoozed: bool | None = None
    in_maintenance: bool | None = None
    entity_disabled: bool | None = None
    #: alarms with all of them
    tags: list[str] = field(default_factory=list)
    #: a case-insensitive substring of the component, resource or output
    search: str | None = None
    #: ``last_update_date`` at or after, at or before
    since: float | None = None
    until: float | None = None

    @property
    def collection(self) -> str:
        return OPEN if self.opened else RESOLVED

    def query(self, now: float | None = None) -> dict:
        """The MongoDB query: one flat document, the indexed equalities first.

        The embedded database's planner picks its index from the first condition (a
        connector's critical alarms out of 10,000: 2 ms this way, 190 ms state first,
        470 ms under an ``$and``).
        """
        query: dict = {name: self.equal[name] for name in EQUALITIES if name in self.equal}
        for path, values in (("state.val", self.states), ("status.val", self.statuses)):
            if values:
                query[path] = {"$in": values}
        if self.acked is not None:
            query["ack"] = {"$ne": None} if self.acked else None
        alternatives = []
        if self.snoozed is not None:
            now = time.time() if now is None else now
            if self.snoozed:
                query.update({"snooze": {"$ne": None}, "snooze.val": {"$gt": now}})
            else:
                alternatives.append([{"snooze": None}, {"snooze.val": {"$lte": now}}])
        if self.in_maintenance is not None:
            query["pbehavior.id"] = {"$exists": self.in_maintenance}
        if self.entity_disabled is not None:
            query["entity_disabled"] = True if self.entity_disabled else {"$ne": True}
        if self.tags:
            query["tags"] = {"$all": self.tags}
        if self.search:
            pattern = {"$regex": re.escape(self.search), "$options": "i"}
            alternatives.append([{name: pattern} for name in ("component", "resource", "output")])
        if len(alternatives) == 1:
            query["$or"] = alternatives[0]
        elif alternatives:
            query["$and"] = [{"$or": each} for each in alternatives]
        bounds = (("$gte", self.since), ("$lte", self.until))
        span = {op: value for op, value in bounds if value is not None}
        if span:
            query["last_update_date"] = span
        return query


def counts(db: Database, collection: str, query: dict) -> dict:
    """``total``, ``by_state``, ``by_status``, ``problems`` and ``in_pbehavior`` of the alarms
    of ``collection`` matching ``query``, from one aggregation."""
    kinds = {
        "state": "$state.val",
        "status": "$status.val",
        "cancelled": {"$ne": [{"$ifNull": ["$canceled", None]}, None]},
        "planned": {"$ne": [{"$ifNull": ["$pbehavior.id", None]}, None]},
    }
    pipeline = [{"$match": query}, {"$group": {"_id": kinds, "n": {"$sum": 1}}}]
    groups = db[collection].aggregate(pipeline)
    return tally(
        (
            g["_id"].get("state"),
            g["_id"].get("status"),
            g["_id"]["cancelled"],
            g["_id"]["planned"],
            g["n"],
        )
        for g in groups
    )


def tally(groups: Iterable[tuple[object, object, bool, bool, int]]) -> dict:
    """The counts of :func:`counts` from groups of alarms: each its state, status, whether
    cancelled and in a pbehavior, and how many alarms."""
    found = {
        "total": 0,
        "by_state": dict.fromkeys(map(str, STATES), 0),
        "by_status": dict.fromkeys(map(str, STATUSES), 0),
        "problems": 0,
        "in_pbehavior": 0,
    }
    for state, status, cancelled, planned, n in groups:
        found["total"] += n
        for name, value in (("state", state), ("status", status)):
            if str(value) in found[f"by_{name}"]:
                found[f"by_{name}"][str(value)] += n
        if planned:
            found["in_pbehavior"] += n
        # canopsis.domain.alarm.is_problem
        elif not cancelled and isinstance(state, int) and state > 0:
            found["problems"] += n
    return found


class Totals:
    """The number of alarms matching a query; a large unfiltered one is kept a while
    (see :data:`LARGE_TOTAL`)."""

    def __init__(self) -> None:
        #: collection -> (until when it holds, monotonic; its large unfiltered total)
        self.kept: dict[str, tuple[float, int]] = {}

    def count(self, db: Database, collection: str, query: dict) -> int:
        coll = db[collection]
        if query:
            return coll.count_documents(query)
        start = time.monotonic()
        until, total = self.kept.get(collection, (start, 0))
        if start < until:
            return total
        total = coll.estimated_document_count()
        if total >= LARGE_TOTAL:
            took = time.monotonic() - start
            self.kept[collection] = (start + max(TOTAL_MAX_AGE_S, TOTAL_AGE_FACTOR * took), total)
        return total


#: the values of the few-valued sort fields: a page sorted on one is made of the pages of
#: each value, newest first within a value (see :func:`page`)
FEW_VALUES = {"state.val": STATES}
NEWEST = ("last_update_date", -1)


def page(
    db: Database,
    collection: str,
    query: dict,
    order: tuple[str, int],
    skip: int,
    limit: int,
    with_steps: bool = False,
    after: list | None = None,
) -> list[dict]:
    """The alarms of ``collection`` matching ``query``, sorted by ``order`` (a field and a
    direction) then ``_id``, from ``skip`` on, at most ``limit``; without their steps unless
    ``with_steps``. Given ``after``, the start of a walk through the pages (epoch seconds)
    then the :func:`position` of an alarm in that order, the page holds the alarms after it
    not updated since the walk started (keyset paging: an alarm updated meanwhile, which
    may have moved ahead, was or will be seen by the next walk; one that was not is never
    answered twice nor skipped, whatever changes around it).

    Newest first, the recent ones are looked at first (:data:`RECENT_SPANS`). Sorted on a
    field of :data:`FEW_VALUES` (the state), the alarms of each value in turn, newest first
    within a value: each value's page is then found among the recent alarms too.
    """
    projection = dict(HIDDEN) if with_steps else {**HIDDEN, "steps": 0}
    coll = db[collection]
    field, direction = order
    if after is not None:
        since, *where = after
        query = _also(query, NEWEST[0], {"$lte": since})
    if field not in FEW_VALUES:
        if after is not None:
            query = _beyond(query, field, direction, where)
        return _newest(coll, query, order, skip, limit, projection)
    found: list[dict] = []
    for value in sorted(FEW_VALUES[field], reverse=direction < 0):
        one = _also(query, field, value)
        if after is not None:
            if value == where[0]:
                one = _beyond(one, NEWEST[0], NEWEST[1], where[1:])
            elif (value - where[0]) * direction < 0:
                continue
        wanted = skip + limit - len(found)
        found += _newest(coll, one, NEWEST, 0, wanted, projection)
        if len(found) >= skip + limit:
            break
    return found[skip : skip + limit]


def position(alarm: dict, field: str) -> list:
    """Where ``alarm`` stands in a :func:`page` sorted on ``field``: the values it is
    sorted by, then its ``_id``."""
    if field in FEW_VALUES:
        return [_value(alarm, field), alarm.get(NEWEST[0]), alarm["_id"]]
    return [_value(alarm, field), alarm["_id"]]


def is_position(values: list, field: str) -> bool:
    """Whether ``values`` (read from a client) are a :func:`position` in a page sorted on
    ``field``."""
    if not values or not isinstance(values[-1], str):
        return False
    keys = values[:-1]
    if field in FEW_VALUES:
        value, date = keys if len(keys) == 2 else (None, None)
        return value in FEW_VALUES[field] and is_number(value) and is_number(date)
    return len(keys) == 1 and (keys[0] is None or isinstance(keys[0], str) or is_number(keys[0]))


def _value(alarm: dict, path: str) -> object:
    for name in path.split("."):
        alarm = alarm.get(name) if isinstance(alarm, dict) else None
    return alarm


def _beyond(query: dict, field: str, direction: int, after: list) -> dict:
    """``query`` and after ``after`` (a value of ``field``, an ``_id``) in the order of
    ``field`` then ``_id``, both in ``direction``; a missing ``field`` (null) sorts first."""
    value, last_id = after
    op = "$gt" if direction > 0 else "$lt"
    tie = {field: value, "_id": {op: last_id}}
    if value is None:
        beyond = [{field: {"$ne": None}}] if direction > 0 else []
    else:
        beyond = [{field: {op: value}}, *([{field: None}] if direction < 0 else [])]
    clause = {"$or": [*beyond, tie]}
    if "$or" in query:
        return {**query, "$and": [*query.get("$and", []), clause]}
    return {**query, **clause}


def _newest(coll, query: dict, order: tuple[str, int], skip: int, limit: int, projection) -> list:
    sort = [order, ("_id", order[1])]
    spans = RECENT_SPANS if order == NEWEST else ()
    now = time.time()
    for span in spans:
        recent = _also(query, "last_update_date", {"$gte": now - span})
        found = list(coll.find(recent, projection).sort(sort).skip(skip).limit(limit))
        if len(found) == limit:
            return found
    return list(coll.find(query, projection).sort(sort).skip(skip).limit(limit))


def _also(query: dict, field: str, condition: object) -> dict:
    """``query`` and ``field`` matching ``condition`` too, flat when it is free."""
    if field in query:
        return {**query, "$and": [*query.get("$and", []), {field: condition}]}
    return {**query, field: condition}


def find_any(db: Database, alarm_id: str) -> dict | None:
    """The open or resolved alarm ``alarm_id``, or None."""
    for collection in (OPEN, RESOLVED):
        alarm = db[collection].find_one({"_id": alarm_id}, HIDDEN)
        if alarm is not None:
            return alarm
    return None


def find_open(db: Database, alarm_ids: list[str]) -> dict[str, dict]:
    """Alarm id -> open alarm, for those of ``alarm_ids`` that are open."""
    found = db[OPEN].find({"_id": {"$in": alarm_ids}, "resolved": None}, HIDDEN)
    return {doc["_id"]: doc for doc in found}


def of_entity(db: Database, entity_id: str) -> dict | None:
    """The open alarm of ``entity_id`` without its steps, or None."""
    query = {"entity_id": entity_id, "resolved": None}
    return db[OPEN].find_one(query, {**HIDDEN, "steps": 0})
