"""The context engine against the embedded MongoDB: entities, links, cache, disabled ones."""

import time

import pytest

from canopsis.domain import event as events
from canopsis.engines.context import Context
from tests.helpers import check_event

pytestmark = pytest.mark.integration


def engine(db, last_seen_every: float = 60.0) -> Context:
    context = Context("context", {"last_seen_every": last_seen_every, "cache_size": 1000}, db)
    context.setup()
    return context


def event(component: str = "web1", resource: str | None = "http") -> dict:
    ev = check_event(component, resource, connector_name="n1")
    ev["entity_id"] = events.entity_id(ev)
    return ev


def batch(context: Context, *events: dict) -> list:
    context.prepare(list(events))
    out = [context.work(e) for e in events]
    context.flush()
    return out


def test_an_event_creates_its_connector_component_and_resource_with_links(mongo_db):
    before = time.time()
    [out] = batch(engine(mongo_db), event())
    assert out["entity_id"] == "http/web1"
    docs = {d["_id"]: d for d in mongo_db.entities.find()}
    assert set(docs) == {"nagios/n1/connector", "web1", "http/web1"}
    resource, component = docs["http/web1"], docs["web1"]
    assert resource["type"] == "resource" and resource["depends"] == ["web1"]
    assert resource["component"] == "web1" and resource["connector"] == "nagios/n1/connector"
    assert component["type"] == "component" and "impact" not in component
    assert (
        docs["nagios/n1/connector"]["type"] == "connector"
        and docs["nagios/n1/connector"]["name"] == "n1"
    )
    for doc in docs.values():
        assert doc["enabled"] is True
        assert before <= doc["first_seen"] <= doc["last_seen"] <= time.time()


def test_a_failed_batch_forgets_the_entities_it_wrote_so_its_redelivery_writes_them(mongo_db):
    """A database killed before the batch was made durable loses writes it had answered: the
    batch fails and is redelivered, and this time the entities must be written again."""
    context = engine(mongo_db)
    batch(context, event())
    mongo_db.entities.delete_many({})  # what the crash lost
    context.discard()
    batch(context, event())
    found = {doc["_id"]: doc["type"] for doc in mongo_db.entities.find()}
    assert found == {
        "nagios/n1/connector": "connector",
        "web1": "component",
        "http/web1": "resource",
    }


def test_a_new_resource_of_a_known_component_writes_only_itself(mongo_db):
    context = engine(mongo_db)
    batch(context, event(), event(resource="disk"))
    before = mongo_db.entities.find_one({"_id": "web1"})
    batch(engine(mongo_db), event(resource="cpu"))
    assert mongo_db.entities.find_one({"_id": "web1"}) == before
    found = mongo_db.entities.find({"component": "web1"}, {"_id": 1})
    assert sorted(doc["_id"] for doc in found) == ["cpu/web1", "disk/web1", "http/web1"]


def test_known_entities_cause_no_write_until_last_seen_is_due(mongo_db):
    context = engine(mongo_db, last_seen_every=3600)
    batch(context, event())
    first = mongo_db.entities.find_one({"_id": "http/web1"})["last_seen"]
    batch(context, *[event() for _ in range(50)])
    assert context.pending == {}
    assert mongo_db.entities.find_one({"_id": "http/web1"})["last_seen"] == first
    eager = engine(mongo_db, last_seen_every=0)
    batch(eager, event())
    assert mongo_db.entities.find_one({"_id": "http/web1"})["last_seen"] > first


def test_an_event_of_a_disabled_entity_or_component_is_dropped_and_counted(mongo_db):
    context = engine(mongo_db)
    batch(context, event(), event(resource="disk"))
    mongo_db.entities.update_one({"_id": "http/web1"}, {"$set": {"enabled": False}})
    assert batch(context, event()) == [event()]
    context.beat(time.time())
    assert batch(context, event(), event(resource="disk")) == [None, event(resource="disk")]
    mongo_db.entities.update_one({"_id": "web1"}, {"$set": {"enabled": False}})
    context.beat(time.time())
    assert batch(context, event(resource="disk"), event(resource=None)) == [None, None]
    assert context.counters["dropped_disabled"] == 3


def test_the_beat_flags_the_open_alarms_of_the_disabled_entities(mongo_db):
    """An alarm opened by an event already past the engine when its entity was disabled."""
    context = engine(mongo_db)
    batch(context, event(), event(component="web2", resource=None))
    mongo_db.alarms.insert_many(
        [
            {"_id": "a1", "entity_id": "http/web1", "component": "web1", "rev": 1},
            {"_id": "a2", "entity_id": "web2", "component": "web2", "rev": 1},
        ]
    )
    mongo_db.entities.update_one({"_id": "http/web1"}, {"$set": {"enabled": False}})
    context.beat(time.time())
    found = {doc["_id"]: (doc.get("entity_disabled"), doc["rev"]) for doc in mongo_db.alarms.find()}
    assert found == {"a1": (True, 2), "a2": (None, 1)}
    context.beat(time.time())  # nothing more to write
    assert mongo_db.alarms.find_one({"_id": "a1"})["rev"] == 2


def test_a_new_engine_learns_disabled_entities_from_the_database(mongo_db):
    batch(engine(mongo_db), event())
    mongo_db.entities.update_one({"_id": "http/web1"}, {"$set": {"enabled": False}})
    assert batch(engine(mongo_db), event()) == [None]


def test_a_redelivered_batch_changes_nothing_twice(mongo_db):
    batch(engine(mongo_db), event())
    first = {d["_id"]: d for d in mongo_db.entities.find()}
    batch(engine(mongo_db, last_seen_every=3600), event())
    assert {d["_id"]: d for d in mongo_db.entities.find()} == first


def test_entities_stored_by_another_worker_during_the_batch_are_updated_not_lost(mongo_db):
    """Two workers see the same new component: the second one's insert finds it stored and
    updates it instead of failing the batch; its own new resource is inserted."""
    first, second = engine(mongo_db), engine(mongo_db)
    second.prepare([event(resource="disk")])
    batch(first, event(resource="http"))
    out = [second.work(event(resource="disk"))]
    second.flush()
    assert out[0] is not None
    component = mongo_db.entities.find_one({"_id": "web1"})
    assert component["type"] == "component" and component["enabled"] is True
    assert mongo_db.entities.count_documents({}) == 4  # connector, component, two resources
    assert mongo_db.entities.find_one({"_id": "disk/web1"})["depends"] == ["web1"]
