"""The context: the entities events are about, kept in the ``entities`` collection
(:mod:`canopsis.store.entities`).

Every event names up to three entities, stored here with the ids of
:mod:`canopsis.domain.entityid`:

``connector``  ``_id`` ``"<connector>/<connector_name>/connector"``, ``name`` the
               connector_name, ``connector_type`` the connector
``component``  ``_id`` the component
``resource``   ``_id`` ``"<resource>/<component>"`` (``/`` and ``%`` in the resource
               escaped); ``component`` and ``depends``: ``[<component id>]`` (a resource
               depends on its component)

A component's resources (its ``impact`` in the REST API) are found by their
``component`` (indexed), not stored on it: a new resource writes nothing to
its component, and a component with thousands of resources stays small.

Each has ``type``, ``name``, ``connector`` (the connector's id; the
connector's own is its id), ``enabled`` (true when created), ``first_seen`` and
``last_seen`` (epoch seconds, canopsis' clock), and ``infos`` (an object free
for administrators and the REST API; the engine never writes it after
creation).

Writes: the entities a batch names that were not stored when it began are
inserted, in one ``insert_many`` (an insert costs the embedded database a
quarter of an update). One stored by then (another worker, or an earlier try
of the same batch) is updated instead, like a known entity: an idempotent
upsert (``$max`` of ``last_seen``), so a redelivered batch changes nothing twice. A
known entity is cached and writes only its ``last_seen``, and only when the
last written value is ``last_seen_every`` seconds old, so a flood of events
on known entities causes no entity writes.

A ``pbehavior`` event (canopsis' own, see :mod:`canopsis.engines.pbehavior`)
is not a sign of life of its entity: it changes no ``last_seen``.

Disabled entities: an event whose entity (or, for a resource, whose component)
has ``enabled: false`` is dropped and counted (``dropped_disabled`` in the
engine's own check). The disabled ids are reloaded on each beat
(``beat_interval``, 10 s by default), so an entity disabled or enabled through
the API takes effect within one beat. The beat also flags ``entity_disabled``
the open alarms of the disabled entities that lack it
(:func:`canopsis.store.alarms.flag_entity_disabled`): the REST API flags
those open when it disables an entity, this catches an alarm opened by an
event already past this engine then.
"""

import logging
import time
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from canopsis.runtime import storage
from canopsis.runtime.engine import Engine
from canopsis.store.alarms import flag_entity_disabled
from canopsis.store.entities import COLLECTION, disabled_ids, ensure_indexes, entity_ids, new_entity

log = logging.getLogger("canopsis.engines.context")


class Context(Engine):
    options_spec = """
last_seen_every = float(min=0, default=60)
cache_size = integer(min=100, default=200000)
"""

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        #: id -> last_seen written, for the entities known to exist
        self.known: dict[str, float] = {}
        self.disabled: set[str] = set()
        self.pending: dict[str, dict] = {}

    def setup(self) -> None:
        ensure_indexes(self.db)
        self._load_disabled()

    def beat(self, now: float) -> None:
        self._load_disabled()
        if self.disabled:
            flag_entity_disabled(self.db, sorted(self.disabled), True)

    def _load_disabled(self) -> None:
        self.disabled = set(disabled_ids(self.db))

    def prepare(self, events: list[dict]) -> None:
        unknown = {
            eid
            for event in events
            for eid in entity_ids(event)
            if eid is not None and eid not in self.known
        }
        if not unknown:
            return
        if len(self.known) + len(unknown) > self.options["cache_size"]:
            self.known.clear()
        found = self.db[COLLECTION].find(
            {"_id": {"$in": sorted(unknown)}}, {"enabled": 1, "last_seen": 1}
        )
        for doc in found:
            self.known[doc["_id"]] = doc.get("last_seen") or 0.0
            if doc.get("enabled") is False:
                self.disabled.add(doc["_id"])

    def work(self, event: dict) -> dict | None:
        connector, component, resource = entity_ids(event)
        if event["entity_id"] in self.disabled or component in self.disabled:
            self.counters["dropped_disabled"] += 1
            return None
        if event["event_type"] == "pbehavior":  # canopsis' own, not a sign of life
            return event
        now = time.time()
        self._seen(connector, "connector", event, now)
        self._seen(component, "component", event, now)
        if resource is not None:
            self._seen(resource, "resource", event, now)
        return event

    def _seen(self, eid: str, kind: str, event: dict, now: float) -> None:
        """Record that ``eid`` was seen: a write when it is new or its ``last_seen`` is due."""
        entry = self.pending.get(eid)
        if entry is None:
            written = self.known.get(eid)
            if written is None:
                entry = {"insert": new_entity(kind, event, now)}
            elif now - written < self.options["last_seen_every"]:
                return
            else:
                entry = {}
            self.pending[eid] = entry
        entry["last_seen"] = max(entry.get("last_seen", 0.0), now)

    def flush(self) -> None:
        if not self.pending:
            return
        new = [eid for eid, entry in self.pending.items() if "insert" in entry]
        stored = [eid for eid, entry in self.pending.items() if "insert" not in entry]
        self._update(stored + self._insert(new))
        for eid, entry in self.pending.items():
            self.known[eid] = entry["last_seen"]
        self.pending.clear()

    def _insert(self, eids: list[str]) -> list[str]:
        """Insert the entities ``eids``, absent when the batch began; those stored by then."""
        docs = [
            {"_id": eid, **self.pending[eid]["insert"], "last_seen": self.pending[eid]["last_seen"]}
            for eid in eids
        ]
        return [eids[i] for i in storage.insert_new(self.db[COLLECTION], docs)]

    def _update(self, eids: list[str]) -> None:
        """One idempotent upsert of ``last_seen`` per entity of ``eids``."""
        writes = []
        for eid in eids:
            entry = self.pending[eid]
            update: dict[str, Any] = {"$max": {"last_seen": entry["last_seen"]}}
            if "insert" in entry:
                update["$setOnInsert"] = entry["insert"]
            writes.append(UpdateOne({"_id": eid}, update, upsert=True))
        if writes:
            self.db[COLLECTION].bulk_write(writes, ordered=False)

    def discard(self) -> None:
        """A failed batch: forget it, and which entities this worker believed stored (a
        database that crashed before the batch was made durable lost some)."""
        self.pending.clear()
        self.known.clear()
