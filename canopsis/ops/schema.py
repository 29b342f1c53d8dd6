"""The schema version of the database, and the migrations that bring an older one to it.

The ``schema`` collection holds ``{_id: "canopsis", version: N}``. A database
without it is of version 1: canopsis before versions were recorded, or a new
database, in which the migrations find nothing to do. :func:`upgrade` brings
the database to :data:`VERSION`; every engine process runs it at start,
before anything else of it touches the database
(:func:`canopsis.runtime.runner.wait_for_database`). One process at a time migrates:
the holder of the lease ``schema-upgrade`` (:mod:`canopsis.runtime.lease`, renewed
as it goes); the others wait, logging which process they wait for, and start
once the version is reached. Each migration is idempotent and its version is
recorded once it is complete: one cut short (its process killed, the database
gone) is run again from its start by the next holder, which finishes the work.

Version 2, the entity ids of :mod:`canopsis.domain.entityid`. Before, a connector
was ``<connector>/<connector_name>`` and a resource ``<resource>/<component>``,
nothing escaped, so that a connector and a resource could share an id.
Components keep theirs, so do resources whose name holds neither ``/`` nor
``%``; the others move, wherever an entity id is stored:

- ``entities``: a connector moves to the id of its ``connector_type`` and
  ``name``, a resource to that of its ``name`` and ``component`` (a new
  document, then the old one deleted); the ``connector`` of every entity
  follows its connector (one named by no connector document, which the
  collision hid, is read as ``<connector>/<connector_name>`` split on its
  first ``/``);
- ``alarms``, ``alarms_resolved``, ``events_log`` (documents that carry the
  ``component`` and ``resource``): ``entity_id``; an alarm keeps its ``_id``;
- ``perfdata``, ``metrics``: ``entity_id`` of the moved resources;
- ``heartbeats`` announced by an agent (those with ``entity``): ``_id`` and
  ``name``, with their ``heartbeat_states`` and the ``parent`` of others;
- patterns: ``entity_id`` in the ``match`` of ``eventfilter_rules`` and
  ``heartbeats``, ``_id`` (a resource's: pbehaviors are about alarms) and
  ``connector`` in the ``filter`` of ``pbehaviors``, where they name a moved
  id (as the value, or in ``$eq``, ``$ne``, ``$in``, ``$nin``, under
  ``$and``/``$or``/``$nor``/``$not``). A
  ``$regex`` on those fields cannot be translated: it is logged with its
  document, for an administrator to check.

Every new id is computed from the fields of the document itself, so a step
run twice changes nothing the second time. An old id equal to another
entity's new id could only come from names holding ``%2F``, ``%25`` or ending
in ``/connector``; such a move is logged and skipped rather than chained.
"""

import logging
import time
from collections.abc import Callable, Iterable

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from canopsis.domain import entityid, event
from canopsis.runtime.lease import Lease

log = logging.getLogger("canopsis.schema")

COLLECTION = "schema"
DOC_ID = "canopsis"
VERSION = 2
LEASE = "schema-upgrade"
#: how long the upgrade lease lasts: a holder killed midway is replaced after this
LEASE_SECONDS = 300.0
#: the holder renews its lease when it is this old (checked between writes and scanned
#: documents)
RENEW_EVERY = 20.0
WAIT_POLL = 1.0
#: updates sent in one bulk write
BULK = 1000
#: names whose resource id changed in version 2
_ESCAPED = {"$regex": "[/%]"}
_LOGICAL = ("$and", "$or", "$nor")


class LeaseLost(Exception):
    """Another process took the upgrade lease over: this one stops migrating."""


def version(db: Database) -> int:
    doc = db[COLLECTION].find_one({"_id": DOC_ID})
    return doc["version"] if doc else 1


def upgrade(db: Database, holder: str, stopping: Callable[[], bool]) -> None:
    """Bring ``db`` to :data:`VERSION`, or wait while another process does; returns early when
    ``stopping()``. ``holder`` names this process in the lease and in the others' logs."""
    lease = Lease(db, LEASE, holder, LEASE_SECONDS)
    waiting_for = None
    while not stopping():
        current = version(db)
        if current >= VERSION:
            return
        if lease.acquire(time.time()):
            try:
                _migrate(db, current, _Renewer(lease))
            except LeaseLost:
                log.warning("upgrade lease lost: another process goes on with the upgrade")
                continue
            finally:
                lease.release()
            return
        taken = lease.collection.find_one({"_id": LEASE}) or {}
        if taken.get("holder") != waiting_for:
            waiting_for = taken.get("holder")
            log.info(
                "waiting for %s to upgrade the database to schema version %d",
                waiting_for,
                VERSION,
            )
        time.sleep(WAIT_POLL)


class _Renewer:
    """Called as the migration goes: renews the lease when due; :class:`LeaseLost` if lost."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.renewed = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.renewed < RENEW_EVERY:
            return
        if not self.lease.acquire(time.time()):
            raise LeaseLost
        self.renewed = time.monotonic()


def _migrate(db: Database, current: int, renew: Callable[[], None]) -> None:
    for target in range(current + 1, VERSION + 1):
        step = MIGRATIONS[target]
        log.info("upgrading the database to schema version %d: %s", target, step.__doc__)
        began = time.monotonic()
        step(db, renew)
        db[COLLECTION].update_one({"_id": DOC_ID}, {"$set": {"version": target}}, upsert=True)
        log.info("the database is at schema version %d (%.1f s)", target, time.monotonic() - began)


def _entity_ids(db: Database, renew: Callable[[], None]) -> None:
    """entity ids that no two entities share (canopsis.domain.entityid)"""
    resources = _moves(_resource_moves(db), "resource")
    connectors = _moves(_connector_moves(db), "connector")
    entities = db["entities"]
    for doc in entities.find({"type": "resource", "name": _ESCAPED}):
        new = resources.get(doc["_id"])
        if new is not None:
            _move(entities, doc, new, ("type", "name", "component"))
            renew()
    for doc in entities.find({"type": "connector"}):
        new = connectors.get(doc["_id"])
        if new is not None:
            _move(entities, doc, new, ("type", "name", "connector_type"), connector=new)
            renew()
    for old, new in connectors.items():
        entities.update_many({"connector": old}, {"$set": {"connector": new}})
        renew()
    for name in ("alarms", "alarms_resolved", "events_log"):
        _event_entity_ids(db[name], renew)
        renew()
    for name in ("perfdata", "metrics"):
        for old, new in resources.items():
            db[name].update_many({"entity_id": old}, {"$set": {"entity_id": new}})
            renew()
    _announced_heartbeats(db, renew)
    _patterns(db["eventfilter_rules"], "match", {"entity_id": resources})
    _patterns(db["heartbeats"], "match", {"entity_id": resources})
    _patterns(db["pbehaviors"], "filter", {"_id": resources, "connector": connectors})


def _resource_moves(db: Database) -> Iterable[tuple[str, str]]:
    """``(old id, new id)`` of the stored resources whose name holds ``/`` or ``%``."""
    for doc in db["entities"].find({"type": "resource", "name": _ESCAPED}):
        old = f"{doc['name']}/{doc['component']}"
        yield old, entityid.resource_id(doc["name"], doc["component"])


def _connector_moves(db: Database) -> Iterable[tuple[str, str]]:
    """``(old id, new id)`` of every connector: those stored, and those only named by the
    ``connector`` of an entity."""
    known = set()
    for doc in db["entities"].find({"type": "connector"}):
        if "connector_type" in doc:
            old = f"{doc['connector_type']}/{doc['name']}"
            new = entityid.connector_id(doc["connector_type"], doc["name"])
        else:
            old, new = doc["_id"], _split_connector(doc["_id"])
        known |= {old, new}
        yield old, new
    for value in db["entities"].distinct("connector"):
        if value not in known and not _is_connector_id(value):
            yield value, _split_connector(value)


def _split_connector(old: str) -> str:
    connector, _slash, name = old.partition("/")
    return entityid.connector_id(connector, name)


def _is_connector_id(value: str) -> bool:
    return value.count("/") == 2 and value.endswith(f"/{entityid.CONNECTOR_SUFFIX}")


def _moves(pairs: Iterable[tuple[str, str]], kind: str) -> dict[str, str]:
    """The moves of ``pairs`` that change an id, but for an old id that is also a new one."""
    moves = {old: new for old, new in pairs if old != new}
    news = set(moves.values())
    for old in sorted(news & set(moves)):
        log.warning("%s %r: its old id is the new id of another, left as it is", kind, old)
        del moves[old]
    return moves


def _move(collection: Collection, doc: dict, new_id: str, same: tuple[str, ...], **changes):
    """Store ``doc`` (with ``changes``) as ``new_id``, then delete it; a document already
    stored as ``new_id`` (this move cut short before) is kept when its ``same`` fields agree."""
    try:
        collection.insert_one({**doc, **changes, "_id": new_id})
    except DuplicateKeyError:
        stored = collection.find_one({"_id": new_id}) or {}
        if any(stored.get(key) != doc.get(key) for key in same):
            log.error(
                "%s %r not moved to %r: another document is there",
                collection.name,
                doc["_id"],
                new_id,
            )
            return
    collection.delete_one({"_id": doc["_id"]})


def _event_entity_ids(collection: Collection, renew: Callable[[], None]) -> None:
    """``entity_id`` of the documents of resources whose name holds ``/`` or ``%``: one
    pass over them, their updates sent :data:`BULK` at a time, ``renew`` called for each."""
    found = collection.find({"resource": _ESCAPED}, {"component": 1, "resource": 1, "entity_id": 1})
    writes = []
    for doc in found:
        new = entityid.resource_id(doc["resource"], doc["component"])
        if doc.get("entity_id") != new:
            writes.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"entity_id": new}}))
        if len(writes) == BULK:
            collection.bulk_write(writes, ordered=False)
            writes = []
        renew()
    if writes:
        collection.bulk_write(writes, ordered=False)


def _announced_heartbeats(db: Database, renew: Callable[[], None]) -> None:
    """The heartbeats an agent announced are named after its entity's id."""
    definitions, states = db["heartbeats"], db["heartbeat_states"]
    for doc in definitions.find({"entity": {"$exists": True}}):
        old, new = doc["_id"], event.entity_id(doc["entity"])
        if old == new:
            continue
        state = states.find_one({"_id": old})
        if state is not None:
            _move(states, state, new, ())
        definitions.update_many({"parent": old}, {"$set": {"parent": new}})
        renamed = {"name": new} if doc.get("name") == old else {}
        _move(definitions, doc, new, ("entity",), **renamed)
        renew()


def _patterns(collection: Collection, field: str, ids: dict[str, dict[str, str]]) -> None:
    """Translate the ids named in the pattern ``field`` of each document (``ids``: field of
    the pattern -> old id -> new id); log the regexes on those fields."""
    if not any(ids.values()):
        return
    for doc in collection.find({field: {"$type": "object"}}, {field: 1}):
        translated = _pattern(doc[field], ids)
        if translated != doc[field]:
            collection.update_one({"_id": doc["_id"]}, {"$set": {field: translated}})
            log.info("%s %r: %s names the new entity ids", collection.name, doc["_id"], field)
        if _regexes(translated, ids):
            log.warning(
                "%s %r: %s has a $regex on %s, which cannot be translated: check it against "
                "the new entity ids",
                collection.name,
                doc["_id"],
                field,
                ", ".join(sorted(ids)),
            )


def _pattern(pattern: dict, ids: dict[str, dict[str, str]]) -> dict:
    out = {}
    for key, value in pattern.items():
        if key in _LOGICAL and isinstance(value, list):
            out[key] = [_pattern(p, ids) if isinstance(p, dict) else p for p in value]
        elif key in ids:
            out[key] = _value(value, ids[key])
        else:
            out[key] = value
    return out


def _value(value: object, ids: dict[str, str]) -> object:
    if isinstance(value, str):
        return ids.get(value, value)
    if not isinstance(value, dict):
        return value
    out = {}
    for op, operand in value.items():
        if op in ("$eq", "$ne", "$not"):
            out[op] = _value(operand, ids)
        elif op in ("$in", "$nin") and isinstance(operand, list):
            out[op] = [_value(item, ids) for item in operand]
        else:
            out[op] = operand
    return out


def _regexes(pattern: dict, ids: dict) -> bool:
    """Whether ``pattern`` has a ``$regex`` on a field of ``ids``."""
    for key, value in pattern.items():
        if key in _LOGICAL and isinstance(value, list):
            found = any(isinstance(p, dict) and _regexes(p, ids) for p in value)
        elif key in ids and isinstance(value, dict):
            negated = value.get("$not")
            found = "$regex" in value or (isinstance(negated, dict) and "$regex" in negated)
        else:
            found = False
        if found:
            return True
    return False


MIGRATIONS: dict[int, Callable[[Database, Callable[[], None]], None]] = {2: _entity_ids}
