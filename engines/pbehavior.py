"""The pbehavior engine: the planned behaviour each event's entity is in, and open alarms
following periods as they start and end.

Pbehaviors are the documents of ``pbehaviors`` (see :mod:`canopsis.domain.pbehavior`; one that does
not validate is logged and skipped). Every instance follows which are active with a
:class:`~canopsis.domain.pbehavior.Schedule`, reloading them every ``reload_interval`` seconds (an
edit through the API takes effect within it) and at the very time a period starts or ends.

- ``prepare`` loads the stored entities of the batch, in one query, while a pbehavior is
  active; an entity not stored yet (its first event: the context engine writes it when the
  batch is flushed) is matched as the context engine will store it. A batch
  holding a ``pbehavior`` event reloads the pbehaviors first, so the instance
  that works it sees what the beat that sent it saw.
- ``work`` sets ``pbehavior`` on ``check`` and ``pbehavior`` events: the
  :func:`~canopsis.domain.pbehavior.summary` of the pbehavior the entity is in, or null. The alerts
  engine makes the alarm follow it (see :mod:`canopsis.domain.alarm`), so an alarm opened during a
  maintenance is flagged from its first step. Other events pass unchanged.
- ``beat`` (once across instances, thanks to the beat lease) finds the open alarms whose
  pbehavior is not the one their entity is in, and publishes a ``pbehavior`` event for each
  entity; the pipeline brings it here, where it gets the entity's pbehavior, then to the
  alerts engine. An alarm whose entity sends nothing thus enters and leaves a period within
  one ``beat_interval`` of its edges. The same event is not published again for
  ``resend_after`` seconds, while the pipeline works through it.

The beat selects the entities of each active pbehavior with its filter as a MongoDB query on
``entities``; ``work`` matches the same filter in memory (:mod:`canopsis.domain.match`
gives both the same meaning).
"""

import logging
import time
from typing import Any

from pymongo.database import Database

from canopsis.domain import pbehavior
from canopsis.domain.alarm import IN_PBEHAVIOR_QUERY
from canopsis.domain.match import Pattern
from canopsis.runtime.engine import Engine
from canopsis.store.alarms import OPEN
from canopsis.store.entities import COLLECTION as ENTITIES
from canopsis.store.entities import new_entity
from canopsis.store.pbehaviors import COLLECTION

log = logging.getLogger("canopsis.engines.pbehavior")
#: the events that carry the entity's pbehavior
CARRIERS = ("check", "pbehavior")
_ALARM_FIELDS = ("entity_id", "connector", "connector_name", "component", "resource", "pbehavior")


class Pbehavior(Engine):
    options_spec = """
reload_interval = float(min=1, default=10)
resend_after = float(min=1, default=60)
"""

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        self.schedule = pbehavior.Schedule()
        #: the active pbehaviors, in the order they apply, and their compiled filters
        self.active: list[dict] = []
        self.patterns: dict[str, Pattern] = {}
        #: _id -> the last version of each stored pbehavior checked, and whether it is valid
        self.checked: dict[str, tuple[dict, bool]] = {}
        self.reload_at = 0.0
        #: entity id -> stored entity, for the batch in progress
        self.entities: dict[str, dict] = {}
        #: entity id -> (pbehavior id or None, when) of the pbehavior events published
        self.sent: dict[str, tuple[str | None, float]] = {}

    def setup(self) -> None:
        self.reload(time.time())

    def reload(self, now: float) -> None:
        """Read the pbehaviors, recompute those that changed or are due."""
        valid = []
        checked = {}
        for doc in self.db[COLLECTION].find():
            known = self.checked.get(doc["_id"])
            if known is None or known[0] != doc:
                problems = pbehavior.validate(doc)
                if problems:
                    reasons = "; ".join(str(p) for p in problems)
                    log.warning("pbehavior %s skipped: %s", doc["_id"], reasons)
                known = (doc, not problems)
            checked[doc["_id"]] = known
            if known[1]:
                valid.append(doc)
        self.checked = checked
        self.active = self.schedule.update(valid, now)
        self.patterns = {doc["_id"]: pbehavior.pattern(doc) for doc in self.active}
        change = self.schedule.next_change()
        self.reload_at = now + self.options["reload_interval"]
        if change is not None:
            self.reload_at = min(self.reload_at, change)

    def prepare(self, events: list[dict]) -> None:
        now = time.time()
        asked = any(e["event_type"] == "pbehavior" for e in events)
        if asked or now >= self.reload_at:
            self.reload(now)
        self.entities = {}
        if not self.active:
            return
        ids = sorted({e["entity_id"] for e in events if e["event_type"] in CARRIERS})
        if ids:
            found = self.db[ENTITIES].find({"_id": {"$in": ids}})
            self.entities = {doc["_id"]: doc for doc in found}

    def work(self, event: dict) -> dict:
        if event["event_type"] not in CARRIERS:
            return event
        return {**event, "pbehavior": self._view(event)}

    def _view(self, event: dict) -> dict | None:
        if not self.active:
            return None
        entity = self.entities.get(event["entity_id"])
        if entity is None:
            entity = {"_id": event["entity_id"], **new_entity(event["source_type"], event, 0)}
        found = pbehavior.applicable(self.active, entity, self.patterns)
        return None if found is None else pbehavior.summary(found)

    def beat(self, now: float) -> None:
        self.reload(now)
        wanted: dict[str, dict] = {}
        for doc in self.active:
            shown = pbehavior.summary(doc)
            for entity in self.db[ENTITIES].find(doc["filter"], {"_id": 1}):
                wanted.setdefault(entity["_id"], shown)
        query = {"$or": [IN_PBEHAVIOR_QUERY, {"entity_id": {"$in": sorted(wanted)}}]}
        self.sent = {
            eid: sent
            for eid, sent in self.sent.items()
            if now - sent[1] < self.options["resend_after"]
        }
        for alarm in self.db[OPEN].find(query, dict.fromkeys(_ALARM_FIELDS, 1)):
            eid = alarm["entity_id"]
            target = wanted.get(eid)
            target_id = None if target is None else target["id"]
            if (alarm.get("pbehavior") or {}).get("id") == target_id:
                continue
            sent = self.sent.get(eid)
            if sent is not None and sent[0] == target_id:
                continue
            self.emit(_event(alarm, target, now))
            self.sent[eid] = (target_id, now)
            self.counters["entered" if target else "left"] += 1


def _event(alarm: dict, target: dict | None, now: float) -> dict:
    """The ``pbehavior`` event asking the alarm's entity to follow ``target`` (None: none)."""
    event = {
        "event_type": "pbehavior",
        "connector": alarm["connector"],
        "connector_name": alarm["connector_name"],
        "source_type": "component" if alarm.get("resource") is None else "resource",
        "component": alarm["component"],
        "timestamp": now,
        "author": "canopsis",
        "output": f"enters {target['name']!r}" if target else "leaves its pbehavior",
    }
    if alarm.get("resource") is not None:
        event["resource"] = alarm["resource"]
    return event
