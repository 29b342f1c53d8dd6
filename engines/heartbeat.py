"""The heartbeat engine: an alarm when the events expected from a source stop coming.

Definitions are the documents of ``heartbeats`` (:mod:`canopsis.domain.heartbeat`
checks them; one that does not validate is logged at each reload and
skipped). The engine sees every event and passes it on unchanged:

- ``work`` notes, for each definition an event matches, that it was seen now
  (only events a source sends of itself count: :data:`SIGNS_OF_LIFE`; an
  operator's ack or canopsis' own ``pbehavior`` event on its entity does not);
  a ``heartbeat`` event carrying ``interval`` also announces a definition for
  its own entity (:func:`canopsis.domain.heartbeat.announced`), stored with
  ``author: "announced"``;
- ``flush`` writes the batch's sightings to ``heartbeat_states``
  (``{_id: definition id, last_seen, late, since}``; ``$max`` of
  ``last_seen``, so a redelivered batch changes nothing) and the announced
  definitions;
- ``beat`` (every ``beat_interval``, once across workers thanks to the beat
  lease) reloads the definitions and evaluates each: when one turns late it
  publishes a critical ``check`` event, when events come back an ok one
  (:func:`canopsis.domain.heartbeat.evaluate`); the event is published before the
  state is written, so a crash in between repeats the event rather than
  losing it. Everything is computed from stored times: a restart loses no
  pending timeout.

A source stopping is seen within ``interval`` plus one ``beat_interval``.
"""

import logging
import time
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from canopsis.domain import heartbeat
from canopsis.domain.match import Pattern
from canopsis.runtime.engine import Engine
from canopsis.store.heartbeats import DEFINITIONS, STATES

log = logging.getLogger("canopsis.engines.heartbeat")

SIGNS_OF_LIFE = ("check", "perf", "log", "heartbeat")


class Heartbeat(Engine):
    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        self.definitions: list[dict] = []
        #: (definition id, compiled match) of the stored definitions
        self.patterns: list[tuple[str, Pattern]] = []
        self.seen: dict[str, float] = {}
        self.announced: dict[str, dict] = {}

    def setup(self) -> None:
        self.reload()

    def reload(self) -> None:
        usable = []
        for doc in self.db[DEFINITIONS].find():
            problems = heartbeat.validate(doc)
            if problems:
                reasons = "; ".join(str(p) for p in problems)
                log.warning("heartbeat %s skipped: %s", doc.get("_id"), reasons)
            else:
                usable.append(doc)
        self.definitions = usable
        self.patterns = [(defn["_id"], heartbeat.pattern(defn)) for defn in usable]

    def work(self, event: dict) -> dict:
        if event["event_type"] not in SIGNS_OF_LIFE:
            return event
        now = time.time()
        if event["event_type"] == "heartbeat" and "interval" in event:
            defn, _problems = heartbeat.announced(event)
            if defn is not None:
                self.announced[defn["_id"]] = defn
        for key, pattern in self.patterns:
            if pattern.matches(event):
                self.seen[key] = now
        for key, defn in self.announced.items():
            if heartbeat.matches(defn, event):
                self.seen[key] = now
        return event

    def flush(self) -> None:
        if self.announced:
            self.db[DEFINITIONS].bulk_write(
                [
                    UpdateOne({"_id": key}, {"$set": {**defn, "author": "announced"}}, upsert=True)
                    for key, defn in self.announced.items()
                ],
                ordered=False,
            )
        if self.seen:
            self.db[STATES].bulk_write(
                [
                    UpdateOne(
                        {"_id": key},
                        {
                            "$max": {"last_seen": when},
                            "$setOnInsert": {"late": False, "since": when},
                        },
                        upsert=True,
                    )
                    for key, when in self.seen.items()
                ],
                ordered=False,
            )
        self.discard()

    def discard(self) -> None:
        self.seen.clear()
        self.announced.clear()

    def beat(self, now: float) -> None:
        self.reload()
        states = {doc["_id"]: doc for doc in self.db[STATES].find()}
        for defn in self.definitions:
            state = states.get(defn["_id"])
            if state is None:
                state = heartbeat.new_state(now)
                self.db[STATES].update_one(
                    {"_id": defn["_id"]},
                    {"$setOnInsert": {k: v for k, v in state.items() if k != "last_seen"}},
                    upsert=True,
                )
                state = {**state, "_id": defn["_id"]}
            state.setdefault("last_seen", None)
            new, event = heartbeat.evaluate(defn, state, now)
            if event is None:
                continue
            self.emit(event)
            self.db[STATES].update_one({"_id": defn["_id"]}, {"$set": {"late": new["late"]}})
            self.counters["late" if new["late"] else "back"] += 1
