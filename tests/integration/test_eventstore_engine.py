"""The eventstore engine against the embedded MongoDB: what the history in events_log holds."""

from datetime import UTC, datetime

import pytest

from canopsis.domain.event import normalize
from canopsis.engines.eventstore import EventStore
from canopsis.runtime.engine import check_options

pytestmark = pytest.mark.integration

T = 1_700_000_000.0


def event(event_id: str, event_type: str = "check", resource: str = "cpu", **fields) -> dict:
    raw = {
        "connector": "nagios",
        "connector_name": "paris",
        "event_type": event_type,
        "source_type": "resource",
        "component": "srv1",
        "resource": resource,
        "timestamp": T,
        **fields,
    }
    normalized, errors = normalize(raw, T)
    assert errors == []
    return {**normalized, "event_id": event_id}


def started(db, **options) -> EventStore:
    store = EventStore("eventstore", check_options("test", options, EventStore.options_spec), db)
    store.setup()
    return store


def run(store: EventStore, events: list[dict]) -> None:
    store.prepare(events)
    assert [store.work(e) for e in events] == [None] * len(events)
    store.flush()


def history(db) -> list[tuple]:
    found = db.events_log.find({}, {"event_type": 1, "state": 1}).sort("t", 1)
    return [(doc["_id"], doc["event_type"], doc.get("state")) for doc in found]


def test_a_state_change_is_stored_and_a_repeat_is_not(mongo_db):
    store = started(mongo_db)
    run(store, [event("a", state=0), event("b", state=0), event("c", state=2)])
    run(store, [event("d", state=2), event("e", state=0)])
    assert history(mongo_db) == [
        ("a", "check", 0),
        ("c", "check", 2),
        ("e", "check", 0),
    ]


def test_each_entity_has_its_own_last_state(mongo_db):
    store = started(mongo_db)
    run(store, [event("a", state=2), event("b", resource="disk", state=2)])
    run(store, [event("c", state=2), event("d", resource="disk", state=1)])
    assert sorted(doc["_id"] for doc in mongo_db.events_log.find()) == ["a", "b", "d"]


def test_actions_are_stored_and_perf_events_are_not(mongo_db):
    store = started(mongo_db)
    ack = event("ack1", "ack", author="alice", output="on it")
    perf = event("p1", "perf", perf_data="load=1.5")
    run(store, [ack, perf, event("ack2", "ack", author="alice")])
    assert history(mongo_db) == [("ack1", "ack", None), ("ack2", "ack", None)]


def test_a_stored_event_keeps_its_fields_with_dates_and_without_perf_data(mongo_db):
    store = started(mongo_db)
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    checked = event("a", state=1, output="warn", perf_data="load=1.5", extra={"site": "paris"})
    run(store, [checked])
    doc = mongo_db.events_log.find_one({"_id": "a"})
    assert before <= doc.pop("stored") <= datetime.now(UTC).replace(tzinfo=None)
    expected = {k: v for k, v in checked.items() if k not in ("perf_data", "perf_data_array")}
    assert doc == {**expected, "_id": "a", "t": datetime(2023, 11, 14, 22, 13, 20)}


def test_dotted_keys_of_an_event_are_stored_as_sent(mongo_db):
    store = started(mongo_db)
    run(store, [event("a", state=1, **{"site": {"room": "1"}, "site.room": "2"})])
    doc = mongo_db.events_log.find_one({"_id": "a"})
    assert (doc["site"], doc["site.room"]) == ({"room": "1"}, "2")


def test_a_redelivered_batch_writes_nothing_twice(mongo_db):
    batch = [event("a", state=2), event("b", "ack", author="bob"), event("c", state=0)]
    store = started(mongo_db)
    run(store, batch)
    first = list(mongo_db.events_log.find().sort("_id", 1))
    run(store, batch)
    run(started(mongo_db), batch)
    assert list(mongo_db.events_log.find().sort("_id", 1)) == first
    assert [doc["_id"] for doc in first] == ["a", "b", "c"]


def test_a_discarded_batch_is_stored_when_it_is_worked_again(mongo_db):
    store = started(mongo_db)
    batch = [event("a", state=2)]
    store.prepare(batch)
    store.work(batch[0])
    store.discard()
    run(store, batch)
    assert history(mongo_db) == [("a", "check", 2)]


def test_after_a_restart_the_last_stored_state_is_read_from_the_database(mongo_db):
    run(
        started(mongo_db), [event("a", state=0, timestamp=T), event("b", state=2, timestamp=T + 60)]
    )
    restarted = started(mongo_db)
    run(restarted, [event("c", state=2, timestamp=T + 120)])
    assert [doc[0] for doc in history(mongo_db)] == ["a", "b"]
    run(restarted, [event("d", state=0, timestamp=T + 180)])
    assert [doc[0] for doc in history(mongo_db)] == ["a", "b", "d"]


def test_the_retention_is_a_ttl_index_on_stored_that_follows_the_option(mongo_db):
    started(mongo_db)
    indexes = mongo_db.events_log.index_information()
    assert indexes["stored_ttl"]["key"] == [("stored", 1)]
    assert indexes["stored_ttl"]["expireAfterSeconds"] == 30 * 86400
    assert [("entity_id", 1), ("t", 1)] in [index["key"] for index in indexes.values()]
    started(mongo_db, retention_days="7")
    ttl = mongo_db.events_log.index_information()["stored_ttl"]
    assert ttl["expireAfterSeconds"] == 7 * 86400
