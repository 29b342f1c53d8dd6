"""The upgrade of a database of the former entity ids, against the embedded MongoDB.

The database is seeded as canopsis wrote it before :mod:`canopsis.domain.entityid`: a
connector ``nagios/n1`` that a resource's alarm collided with, a resource whose
name holds ``/``, and everything that names them.
"""

import threading
import time

import pytest

from canopsis.ops import schema
from canopsis.runtime.lease import Lease

pytestmark = pytest.mark.integration

OLD_DISK = "disk /var/db1"
NEW_DISK = "disk %2Fvar/db1"


def entity(_id: str, kind: str, name: str, connector: str, **fields) -> dict:
    doc = {"_id": _id, "type": kind, "name": name, "connector": connector, "enabled": True}
    return {**doc, "first_seen": 1.0, "last_seen": 2.0, "infos": {}, **fields}


def alarm(entity_id: str, component: str, resource: str | None, connector: str) -> dict:
    return {
        "_id": f"{entity_id}:k1",
        "entity_id": entity_id,
        "connector": connector,
        "connector_name": "z1",
        "component": component,
        "resource": resource,
        "resolved": None,
        "rev": 3,
    }


def seed(db) -> None:
    """A database as the former canopsis left it."""
    db.entities.insert_many(
        [
            # connector nagios named n1, disabled by an administrator: its id was the one
            # of resource nagios of component n1, whose events the engine dropped
            entity("nagios/n1", "connector", "n1", "nagios/n1", connector_type="nagios"),
            entity("zab/z1", "connector", "z1", "zab/z1", connector_type="zab"),
            entity("db1", "component", "db1", "zab/z1"),
            entity("cpu/db1", "resource", "cpu", "zab/z1", component="db1", depends=["db1"]),
            entity(OLD_DISK, "resource", "disk /var", "zab/z1", component="db1", depends=["db1"]),
            entity("n1", "component", "n1", "zab/z1"),
        ]
    )
    db.entities.update_one({"_id": "nagios/n1"}, {"$set": {"enabled": False, "infos": {"a": 1}}})
    db.alarms.insert_many(
        [alarm("nagios/n1", "n1", "nagios", "zab"), alarm(OLD_DISK, "db1", "disk /var", "zab")]
    )
    db.alarms_resolved.insert_one({**alarm(OLD_DISK, "db1", "disk /var", "zab"), "_id": "r1"})
    db.events_log.insert_many(
        [
            {"_id": "e1", "entity_id": OLD_DISK, "component": "db1", "resource": "disk /var"},
            {"_id": "e2", "entity_id": "cpu/db1", "component": "db1", "resource": "cpu"},
        ]
    )
    db.perfdata.insert_one({"entity_id": OLD_DISK, "metric": "used", "bucket": 0, "points": {}})
    db.metrics.insert_one({"entity_id": OLD_DISK, "metric": "used"})
    agent = {
        "connector": "agent",
        "connector_name": "a1",
        "source_type": "resource",
        "component": "db1",
        "resource": "disk /var",
    }
    db.heartbeats.insert_many(
        [
            {"_id": OLD_DISK, "name": OLD_DISK, "match": {}, "interval": 60, "entity": agent},
            {"_id": "child", "match": {"entity_id": OLD_DISK}, "interval": 30, "parent": OLD_DISK},
        ]
    )
    db.heartbeat_states.insert_one({"_id": OLD_DISK, "last_seen": 5.0, "late": False})
    db.eventfilter_rules.insert_one(
        {"_id": "r", "match": {"$or": [{"entity_id": OLD_DISK}, {"entity_id": "cpu/db1"}]}}
    )
    db.pbehaviors.insert_many(
        [
            {"_id": "pb-ids", "filter": {"_id": {"$in": [OLD_DISK, "cpu/db1"]}}},
            {"_id": "pb-conn", "filter": {"connector": "zab/z1", "type": "resource"}},
            {"_id": "pb-regex", "filter": {"connector": {"$regex": "^zab/"}}},
        ]
    )


def snapshot(db) -> dict:
    """Every document but the upgrade's own (generated ``_id`` left out), by collection."""
    return {
        name: sorted(
            ({k: v for k, v in doc.items() if isinstance(v, str) or k != "_id"} for doc in found),
            key=repr,
        )
        for name in sorted(db.list_collection_names())
        if name not in ("leases", "schema")
        for found in [db[name].find()]
    }


class Killed(Exception):
    pass


def killed_after(steps: int):
    """A ``renew`` for the migration that kills it when it has done ``steps`` steps."""
    done = []

    def renew() -> None:
        done.append(1)
        if len(done) > steps:
            raise Killed

    return renew


def never() -> bool:
    return False


def test_an_old_database_is_moved_to_the_new_ids_once(mongo_db, caplog):
    seed(mongo_db)
    assert schema.version(mongo_db) == 1
    with caplog.at_level("INFO", "canopsis.schema"):
        schema.upgrade(mongo_db, "test", never)
    assert schema.version(mongo_db) == schema.VERSION == 2
    entities = {doc["_id"]: doc for doc in mongo_db.entities.find()}
    assert set(entities) == {
        "cpu/db1",
        NEW_DISK,
        "db1",
        "n1",
        "nagios/n1/connector",
        "zab/z1/connector",
    }
    connector = entities["nagios/n1/connector"]
    assert (connector["type"], connector["name"], connector["connector_type"]) == (
        "connector",
        "n1",
        "nagios",
    )
    assert connector["enabled"] is False and connector["infos"] == {"a": 1}
    assert connector["connector"] == "nagios/n1/connector"
    assert {doc["connector"] for _id, doc in entities.items() if _id != "nagios/n1/connector"} == {
        "zab/z1/connector"
    }
    assert entities[NEW_DISK]["name"] == "disk /var" and entities[NEW_DISK]["depends"] == ["db1"]
    # the alarm that was on the connector's id is the resource's: nagios/n1 is its id now
    opened = {doc["_id"]: doc["entity_id"] for doc in mongo_db.alarms.find()}
    assert opened == {"nagios/n1:k1": "nagios/n1", f"{OLD_DISK}:k1": NEW_DISK}
    assert mongo_db.alarms_resolved.find_one({"_id": "r1"})["entity_id"] == NEW_DISK
    history = {doc["_id"]: doc["entity_id"] for doc in mongo_db.events_log.find()}
    assert history == {"e1": NEW_DISK, "e2": "cpu/db1"}
    assert mongo_db.perfdata.find_one()["entity_id"] == NEW_DISK
    assert mongo_db.metrics.find_one()["entity_id"] == NEW_DISK
    announced = mongo_db.heartbeats.find_one({"_id": NEW_DISK})
    assert announced is not None and announced["name"] == NEW_DISK
    child = mongo_db.heartbeats.find_one({"_id": "child"})
    assert child["parent"] == NEW_DISK and child["match"] == {"entity_id": NEW_DISK}
    assert mongo_db.heartbeat_states.find_one({"_id": NEW_DISK})["last_seen"] == 5.0
    assert (
        mongo_db.heartbeats.count_documents({}) == mongo_db.heartbeat_states.count_documents({}) + 1
    )
    assert mongo_db.eventfilter_rules.find_one()["match"] == {
        "$or": [{"entity_id": NEW_DISK}, {"entity_id": "cpu/db1"}]
    }
    filters = {doc["_id"]: doc["filter"] for doc in mongo_db.pbehaviors.find()}
    assert filters == {
        "pb-ids": {"_id": {"$in": [NEW_DISK, "cpu/db1"]}},
        "pb-conn": {"connector": "zab/z1/connector", "type": "resource"},
        "pb-regex": {"connector": {"$regex": "^zab/"}},
    }
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        "pbehaviors 'pb-regex': filter has a $regex on _id, connector, which cannot be "
        "translated: check it against the new entity ids"
    ]
    once = snapshot(mongo_db)
    mongo_db.schema.delete_many({})  # as if the version had not been recorded: run again
    schema.upgrade(mongo_db, "test", never)
    assert snapshot(mongo_db) == once


def empty(db) -> None:
    for name in db.list_collection_names():
        db.drop_collection(name)


def test_an_upgrade_cut_short_is_finished_by_the_next_one(mongo_db):
    """The migration stopped after each of its steps in turn (a process killed), then run
    again from the start, leaves what one run leaves."""
    seed(mongo_db)
    steps = []
    schema.MIGRATIONS[2](mongo_db, lambda: steps.append(1))
    assert len(steps) >= 8
    once = snapshot(mongo_db)
    for cut_after in range(len(steps)):
        empty(mongo_db)
        seed(mongo_db)
        with pytest.raises(Killed):
            schema.MIGRATIONS[2](mongo_db, killed_after(cut_after))
        assert schema.version(mongo_db) == 1
        schema.upgrade(mongo_db, "test", never)
        assert snapshot(mongo_db) == once, f"cut after {cut_after} steps"


def test_a_move_cut_between_its_insert_and_its_delete_is_finished(mongo_client, mongo_db):
    seed(mongo_db)
    old = mongo_db.entities.find_one({"_id": "nagios/n1"})
    moved = "nagios/n1/connector"
    mongo_db.entities.insert_one({**old, "_id": moved, "connector": moved})
    schema.upgrade(mongo_db, "test", never)
    assert mongo_db.entities.find_one({"_id": "nagios/n1"}) is None
    assert mongo_db.entities.find_one({"_id": moved})["enabled"] is False


def test_a_process_waits_for_the_one_that_upgrades(mongo_db, caplog):
    seed(mongo_db)
    Lease(mongo_db, schema.LEASE, "other:1:0", 60).acquire(time.time())
    waiting = threading.Thread(target=schema.upgrade, args=(mongo_db, "me:2:0", never))
    with caplog.at_level("INFO", "canopsis.schema"):
        waiting.start()
        time.sleep(1.5)
        assert waiting.is_alive()
        mongo_db.schema.insert_one({"_id": "canopsis", "version": schema.VERSION})
        waiting.join(10)
    assert not waiting.is_alive()
    assert mongo_db.entities.find_one({"_id": "nagios/n1"}) is not None  # not its work
    assert "waiting for other:1:0 to upgrade the database to schema version 2" in caplog.text
