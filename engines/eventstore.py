"""The event store: the history of state changes and actions, in ``events_log``.

The last engine of the chain: nothing passes on. It keeps what happened, not
every repeat:

- every event that is neither a ``check`` nor a ``perf`` (operator actions,
  ``log``, ``heartbeat``) is stored;
- a ``check`` is stored when its state differs from the last state stored for
  its entity (the first check of an entity always is);
- ``perf`` events are not stored: their metrics are the perfdata engine's.

The last stored check state of each entity is cached in memory; ``prepare``
loads it, in one aggregation, for the entities of a batch not in the cache
(the newest stored check by ``t``). The cache follows the order the events
are worked in, which is their order of arrival since one worker handles all
the events of an entity. A batch that fails leaves the cache as it was.

A document is the event without ``perf_data``/``perf_data_array``, with
``_id`` = its ``event_id``, ``t`` (its timestamp as a UTC date) and
``stored`` (when it arrived here, UTC)::

    {"_id": "9f1c...", "entity_id": "cpu/host1", "event_type": "check",
     "state": 2, ..., "t": <date>, "stored": <date>}

Documents are inserted, and an insert whose ``_id`` is already stored is
ignored: a batch redelivered after a crash writes nothing twice. (An upsert
with ``$setOnInsert`` would read an event's dotted keys, which the event model
allows, as paths, and could fail the batch for good.)

Retention: a TTL index on ``stored`` removes documents ``retention_days``
after they were stored; changing the option changes the index at the next
start.
"""

import time
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from canopsis.runtime import storage
from canopsis.runtime.engine import Engine
from canopsis.store.eventlog import COLLECTION, ensure_indexes

NOT_STORED_FIELDS = ("perf_data", "perf_data_array")


class EventStore(Engine):
    options_spec = "retention_days = integer(min=1, max=3650, default=30)\n"

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        #: entity id -> state of its last stored check
        self.last_state: dict[str, int] = {}
        self._batch_state: dict[str, int] = {}
        self._docs: list[dict] = []

    def setup(self) -> None:
        ensure_indexes(self.db)
        storage.ensure_ttl(self.db[COLLECTION], "stored", self.options["retention_days"] * 86400)

    def prepare(self, events: list[dict]) -> None:
        missing = {
            event["entity_id"]
            for event in events
            if event.get("event_type") == "check" and event["entity_id"] not in self.last_state
        }
        if not missing:
            return
        found = self.db[COLLECTION].aggregate(
            [
                {"$match": {"entity_id": {"$in": sorted(missing)}, "event_type": "check"}},
                {"$sort": {"entity_id": ASCENDING, "t": -1}},
                {"$group": {"_id": "$entity_id", "state": {"$first": "$state"}}},
            ]
        )
        self.last_state.update({doc["_id"]: doc["state"] for doc in found})

    def work(self, event: dict) -> None:
        kind = event.get("event_type")
        if kind == "perf":
            return None
        if kind == "check":
            entity = event["entity_id"]
            state = event.get("state")
            if state == self._batch_state.get(entity, self.last_state.get(entity)):
                return None
            self._batch_state[entity] = state
        self._docs.append(self._document(event, time.time()))
        return None

    def flush(self) -> None:
        storage.insert_new(self.db[COLLECTION], self._docs)  # the refused: stored before
        self.last_state.update(self._batch_state)
        self.discard()

    def discard(self) -> None:
        self._batch_state.clear()
        self._docs.clear()

    @staticmethod
    def _document(event: dict, now: float) -> dict:
        doc = {key: value for key, value in event.items() if key not in NOT_STORED_FIELDS}
        doc["_id"] = event["event_id"]
        doc["t"] = datetime.fromtimestamp(event["timestamp"], UTC)
        doc["stored"] = datetime.fromtimestamp(now, UTC)
        return doc
