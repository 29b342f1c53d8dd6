"""The alerts engine: one open alarm per entity, driven by :mod:`canopsis.domain.alarm`.

Collections (:mod:`canopsis.store.alarms`): ``alarms`` holds the open alarms (one per entity, unique
``entity_id``); a resolved alarm moves to ``alarms_resolved``, so the open set
stays small and the alarm list stays fast.

A batch: :meth:`Alerts.prepare` loads the open alarms of the batch's entities
in one query, but for the entities this worker knows have none: only the
worker that handles an entity's events opens alarms for it, so an entity found
without one, or whose alarm this worker saw resolved, has none until this
worker opens one (most checks are about such entities); each event is applied in memory with
:func:`canopsis.domain.alarm.apply_event`, its ``event_id`` as the idempotency key;
:meth:`Alerts.flush` writes each changed alarm once. The event is passed on
with ``alarm_id`` set when it concerned an alarm; an event that changed
nothing is counted by reason (``ignored_<reason>`` in the engine's own
check).

Writes are guarded by a revision: each alarm carries ``rev``, incremented by
every write, and an update applies only to the revision it was computed from.
Events of one entity are always handled by one worker (see
:mod:`canopsis.runtime.topology`), but the beat of another worker may touch the same
alarm; when a write finds another revision, the batch raises
:class:`~canopsis.runtime.engine.Retry` and is worked again on fresh documents (the
event keys already stored make the events applied before a no-op). A new
alarm is an insert: a second open alarm for an entity is refused by the
unique index, which retries the batch the same way.

Disabled entities: the context engine drops their events, so their open alarms
would stay as they are without a sign; :func:`canopsis.store.alarms.flag_entity_disabled` sets
``entity_disabled: true`` on them (the REST API when an entity is disabled,
and the context engine at each beat for alarms opened by events already past
it then) and clears it when the entity is enabled again.

Beat: the alarms that time can change (snoozed, cancelled, stealthy,
flapping, back to OK, or resolved but not yet moved) get
:func:`canopsis.domain.alarm.on_beat`; snooze expiry, end of stealthy and flapping,
and resolution happen there, computed from the times stored on the alarm,
so a restart loses no pending expiry. A resolved alarm is copied to
``alarms_resolved`` first and then deleted from ``alarms``: a crash between
the two leaves it in both, and the next beat finishes the move. Resolved
alarms are deleted ``resolved_retention_days`` after their resolution (a TTL
index on ``resolved_at``).
"""

import dataclasses
import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo import InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from canopsis.domain import alarm as alarms
from canopsis.domain import alarmconfig, eventkeys
from canopsis.runtime import storage
from canopsis.runtime.engine import Engine, Retry
from canopsis.store import alarmcounts
from canopsis.store.alarms import OPEN, RESOLVED, ensure_indexes

log = logging.getLogger("canopsis.engines.alerts")


def timed_query() -> dict:
    """The open alarms that the passing of time can change (see :func:`alarm.on_beat`)."""
    return {
        "$or": [
            {"resolved": {"$ne": None}},
            {"snooze": {"$ne": None}},
            {"canceled": {"$ne": None}},
            {"status.val": {"$in": [alarms.STEALTHY, alarms.FLAPPING]}},
            {"state.val": 0},
        ]
    }


class Alerts(Engine):
    #: the alarm options (defaults and bounds in :mod:`canopsis.domain.alarmconfig`), and
    #: this engine's own
    options_spec = alarmconfig.options_spec() + (
        "resolved_retention_days = integer(min=1, max=36500, default=365)\n"
    )
    #: entities remembered without an open alarm, at most (then forgotten at once)
    no_alarm_size = 200_000

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        self.cfg = alarmconfig.AlarmConfig.from_options(options)
        #: the same, keeping every key of the batch in memory (see :meth:`_store`)
        self.batch_cfg = dataclasses.replace(self.cfg, keys_kept=sys.maxsize)
        #: entity id -> events applied to its alarm in the batch in progress
        self.applied: Counter[str] = Counter()
        #: entity id -> open alarm (None: none) for the batch in progress
        self.current: dict[str, dict | None] = {}
        #: entity id -> the alarm as loaded (its revision), for the entities changed
        self.loaded: dict[str, dict | None] = {}
        self.changed: set[str] = set()
        #: entities known to have no open alarm (see the module doc)
        self.no_alarm: set[str] = set()
        #: this process's counts of the open alarms (made by :meth:`setup`), and whether a
        #: batch recorded there is not settled yet (it failed)
        self.ledger: alarmcounts.Ledger
        self.unsettled = False

    def setup(self) -> None:
        ensure_indexes(self.db)
        self.ledger = alarmcounts.Ledger(self.db, f"{self.name}/{self.outbox.place or '-'}")
        alarmcounts.ensure_base(self.db)
        self.ledger.recover()
        days = self.options["resolved_retention_days"]
        storage.ensure_ttl(self.db[RESOLVED], "resolved_at", days * 86400)

    def prepare(self, events: list[dict]) -> None:
        missing = {e["entity_id"] for e in events if e["entity_id"] not in self.current}
        for eid in missing & self.no_alarm:
            self.current[eid] = None
        missing -= self.no_alarm
        if not missing:
            return
        found = {
            doc["entity_id"]: doc
            for doc in self.db[OPEN].find({"entity_id": {"$in": sorted(missing)}})
        }
        for eid in missing:
            self.current[eid] = found.get(eid)
        if len(self.no_alarm) + len(missing) > self.no_alarm_size:
            self.no_alarm.clear()
        self.no_alarm |= missing - set(found)

    def work(self, event: dict) -> dict:
        eid = event["entity_id"]
        if eid not in self.current:
            self.prepare([event])
        before = self.current[eid]
        key = event.get("event_id") or event["routing_key"]
        outcome = alarms.apply_event(before, event, time.time(), self.batch_cfg, key)
        if outcome.ignored_reason:
            self.counters[f"ignored_{outcome.ignored_reason}"] += 1
        if outcome.changed:
            self.applied[eid] += 1
            self.loaded.setdefault(eid, before)
            self.current[eid] = outcome.alarm
            self.changed.add(eid)
            if outcome.created:
                self.counters["alarms_created"] += 1
        if outcome.alarm is not None and outcome.ignored_reason != "no_open_alarm":
            event = {**event, "alarm_id": outcome.alarm["_id"]}
        return event

    def flush(self) -> None:
        try:
            self._store()
        except BaseException:
            self.discard()
            raise
        for eid in self.changed:
            if self.current[eid]["resolved"] is None:
                self.no_alarm.discard(eid)
            else:
                self.no_alarm.add(eid)
        self._forget_batch()

    def _store(self) -> None:
        """Write each changed alarm, its counts recorded first (see
        :mod:`canopsis.store.alarmcounts`); Retry when another process changed or opened one.

        An alarm keeps the keys of ``keys_kept`` events before the batch and of every
        event of the batch: the batch is what is delivered again if it is not
        acknowledged, however many of its events are about one alarm.
        """
        if self.unsettled:
            self.ledger.recover()
            self.unsettled = False
        moves, writes, changes = [], [], []
        for eid in sorted(self.changed):
            before, after = self.loaded[eid], self.current[eid]
            kept = self.cfg.keys_kept + self.applied[eid]
            after = {**after, "event_keys": eventkeys.last(after["event_keys"], kept)}
            if before is not None and before["_id"] != after["_id"]:
                moves.append(before)
                changes.append((before["_id"], 0, alarmcounts.change(before, None)))
                before = None
            write = _write(before, after, self.ledger.owner)
            writes.append(write)
            rev = 1 if before is None else before.get("rev", 0) + 1
            changes.append((after["_id"], rev, alarmcounts.change(before, after)))
        if not writes:
            return
        self.ledger.begin(changes)
        self.unsettled = True
        for before in moves:
            _move(self.db, before)
        try:
            result = self.db[OPEN].bulk_write(writes, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != storage.DUPLICATE_KEY for e in exc.details["writeErrors"]):
                raise
            raise Retry("an alarm was opened by another process during the batch") from None
        expected = sum(isinstance(w, ReplaceOne) for w in writes)
        if result.matched_count != expected:
            raise Retry(
                f"{expected - result.matched_count} alarms changed by another process during "
                "the batch"
            )
        self.ledger.commit()
        self.unsettled = False

    def discard(self) -> None:
        """A failed batch: forget it, and what this worker believed of its entities."""
        self._forget_batch()
        self.no_alarm.clear()

    def _forget_batch(self) -> None:
        self.current.clear()
        self.loaded.clear()
        self.changed.clear()
        self.applied.clear()

    def beat(self, now: float) -> None:
        moved = 0
        for doc in self.db[OPEN].find(timed_query()):
            outcome = alarms.on_beat(doc, now, self.cfg)
            alarm = outcome.alarm if outcome.changed else doc
            if outcome.changed and not _replace(self.db, self.ledger, doc, alarm):
                continue
            if alarm["resolved"] is not None:
                moved += _move_counted(self.db, self.ledger, alarm)
        if moved:
            log.info("%d resolved alarms moved to %s", moved, RESOLVED)


def _write(before: dict | None, after: dict, owner: str) -> InsertOne | ReplaceOne:
    """The write by ``owner`` turning ``before`` (as loaded; None: a new alarm) into
    ``after``."""
    if before is None:
        return InsertOne({**after, "rev": 1, alarmcounts.WRITTEN_BY: owner})
    query = {"_id": before["_id"], "rev": before.get("rev", 0)}
    return ReplaceOne(query, _next_rev(before, after, owner))


def _next_rev(before: dict, after: dict, owner: str) -> dict:
    return {**after, "rev": before.get("rev", 0) + 1, alarmcounts.WRITTEN_BY: owner}


def _replace(db: Database, ledger: alarmcounts.Ledger, before: dict, after: dict) -> bool:
    """Write ``after`` if ``before``'s revision is still the stored one, its counts recorded
    first."""
    rev = before.get("rev", 0) + 1
    ledger.begin([(before["_id"], rev, alarmcounts.change(before, after))])
    query = {"_id": before["_id"], "rev": before.get("rev", 0)}
    written = db[OPEN].replace_one(query, _next_rev(before, after, ledger.owner)).matched_count
    if written:
        ledger.commit()
    else:
        ledger.recover()
    return written == 1


def _move_counted(db: Database, ledger: alarmcounts.Ledger, alarm: dict) -> int:
    """:func:`_move`, its counts recorded first."""
    ledger.begin([(alarm["_id"], 0, alarmcounts.change(alarm, None))])
    moved = _move(db, alarm)
    if moved:
        ledger.commit()
    else:  # another process moved it, and counted it
        ledger.recover()
    return moved


def _move(db: Database, alarm: dict) -> int:
    """Copy a resolved alarm to ``alarms_resolved``, then delete it from the open ones.

    The copy gets ``resolved_at``, the resolution as a date, for the retention's TTL index.
    """
    resolved_at = datetime.fromtimestamp(alarm["resolved"], UTC)
    db[RESOLVED].replace_one(
        {"_id": alarm["_id"]}, {**alarm, "resolved_at": resolved_at}, upsert=True
    )
    return db[OPEN].delete_one({"_id": alarm["_id"]}).deleted_count
