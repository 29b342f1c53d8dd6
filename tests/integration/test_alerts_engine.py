"""The alerts engine against the embedded MongoDB: batches, idempotency, beats, revisions."""

import time

import pymongo
import pytest
from pymongo import monitoring

from canopsis.domain import alarm, eventkeys
from canopsis.engines.alerts import Alerts
from canopsis.runtime.engine import Retry
from canopsis.store import alarms as alarms_store

pytestmark = pytest.mark.integration

OPTIONS = {
    "stealthy_time": 300.0,
    "flapping_freq": 10,
    "flapping_interval": 3600.0,
    "cancel_autosolve_delay": 3600.0,
    "hard_limit": 100,
    "resolved_retention_days": 365,
}


def engine(db, **options) -> Alerts:
    alerts = Alerts("alerts", {**OPTIONS, **options}, db)
    alerts.setup()
    return alerts


def event(event_id: str, state: int = 2, event_type: str = "check", **extra) -> dict:
    return {
        "connector": "nagios",
        "connector_name": "n1",
        "event_type": event_type,
        "source_type": "resource",
        "component": "web1",
        "resource": "http",
        "entity_id": "http/web1",
        "routing_key": f"nagios.n1.{event_type}.resource.web1.http",
        "timestamp": time.time(),
        "state": state,
        "output": f"out {event_id}",
        "event_id": event_id,
        **extra,
    }


def batch(alerts: Alerts, *events: dict) -> list[dict]:
    alerts.prepare(list(events))
    out = [alerts.work(e) for e in events]
    alerts.flush()
    return out


def kinds(doc: dict) -> list[tuple[str, object]]:
    return [(s["_t"], s["val"]) for s in doc["steps"]]


def test_a_problem_check_opens_one_alarm_and_passes_the_event_on_with_its_id(mongo_db):
    [out] = batch(engine(mongo_db), event("e1", state=2))
    [doc] = mongo_db.alarms.find()
    assert out["alarm_id"] == doc["_id"] == "http/web1:e1"
    assert doc["state"]["val"] == 2 and doc["status"]["val"] == alarm.ONGOING
    assert kinds(doc) == [("stateinc", 2), ("statusinc", alarm.ONGOING)]
    assert doc["rev"] == 1


def test_state_changes_within_and_across_batches_add_steps(mongo_db):
    alerts = engine(mongo_db)
    batch(alerts, event("e1", state=1), event("e2", state=3))
    batch(alerts, event("e3", state=3), event("e4", state=2))
    [doc] = mongo_db.alarms.find()
    assert kinds(doc) == [
        ("stateinc", 1),
        ("statusinc", alarm.ONGOING),
        ("stateinc", 3),
        ("statedec", 2),
    ]
    assert doc["events_count"] == 4 and doc["output"] == "out e4" and doc["rev"] == 2


def test_a_redelivered_batch_changes_nothing_twice(mongo_db):
    events = [
        event("e1", state=2),
        event("e2", state=3),
        event("a1", event_type="ack", author="bob"),
    ]
    batch(engine(mongo_db), *events)
    [first] = mongo_db.alarms.find()
    batch(engine(mongo_db), *events)
    [again] = mongo_db.alarms.find()
    assert kinds(again) == kinds(first) and again["events_count"] == 2
    assert again["ack"]["a"] == "bob"


def test_a_redelivered_batch_of_more_events_about_one_alarm_than_keys_kept_changes_nothing(
    mongo_db,
):
    events = [event(f"e{i}", state=2 + i % 2) for i in range(250)]
    batch(engine(mongo_db), *events)
    [first] = mongo_db.alarms.find()
    assert first["events_count"] == 250
    batch(engine(mongo_db), *events)
    [again] = mongo_db.alarms.find()
    assert again["events_count"] == 250 and kinds(again) == kinds(first)
    batch(engine(mongo_db), event("e250"))
    [after] = mongo_db.alarms.find()
    assert after["events_count"] == 251
    assert len(after["event_keys"]) == (alarm.AlarmConfig().keys_kept + 1) * eventkeys.KEY_BYTES


def test_operator_actions_change_the_alarm(mongo_db):
    alerts = engine(mongo_db)
    batch(alerts, event("e1"))
    batch(
        alerts,
        event("a1", event_type="ack", author="alice"),
        event("s1", event_type="snooze", duration=600, author="alice"),
        event("t1", event_type="assocticket", ticket="INC-42", author="alice"),
    )
    [doc] = mongo_db.alarms.find()
    assert doc["ack"]["a"] == "alice"
    assert doc["snooze"]["val"] == pytest.approx(time.time() + 600, abs=5)
    assert doc["ticket"]["val"] == "INC-42"
    batch(alerts, event("c1", event_type="cancel", author="alice"))
    [doc] = mongo_db.alarms.find()
    assert doc["status"]["val"] == alarm.CANCELLED


def test_beat_resolves_and_moves_an_alarm_and_a_new_problem_opens_another(mongo_db):
    alerts = engine(mongo_db, flapping_interval=1.0, stealthy_time=0.0)
    batch(alerts, event("e1", state=2))
    batch(alerts, event("e2", state=0))
    alerts.beat(time.time())
    assert mongo_db.alarms.count_documents({}) == 1
    alerts.beat(time.time() + 2)
    assert mongo_db.alarms.count_documents({}) == 0
    [resolved] = mongo_db.alarms_resolved.find()
    assert resolved["_id"] == "http/web1:e1" and resolved["resolved"] is not None
    assert resolved["resolved_at"].timestamp() == pytest.approx(resolved["resolved"], abs=0.01)
    ttl = mongo_db.alarms_resolved.index_information()["resolved_at_ttl"]
    assert ttl["expireAfterSeconds"] == 365 * 86400
    batch(alerts, event("e3", state=3))
    [reopened] = mongo_db.alarms.find()
    assert reopened["_id"] == "http/web1:e3"


def test_a_resolved_alarm_not_yet_moved_is_moved_before_a_new_one_opens(mongo_db):
    alerts = engine(mongo_db)
    batch(alerts, event("e1", state=2))
    mongo_db.alarms.update_one({}, {"$set": {"resolved": time.time()}})
    batch(alerts, event("e2", state=2))
    assert [d["_id"] for d in mongo_db.alarms.find()] == ["http/web1:e2"]
    assert [d["_id"] for d in mongo_db.alarms_resolved.find()] == ["http/web1:e1"]


def test_a_write_meeting_another_revision_retries_the_batch(mongo_db):
    alerts = engine(mongo_db)
    batch(alerts, event("e1", state=2))
    alerts.prepare([event("e2", state=3)])
    alerts.work(event("e2", state=3))
    mongo_db.alarms.update_one({}, {"$inc": {"rev": 1}})
    with pytest.raises(Retry):
        alerts.flush()
    batch(alerts, event("e2", state=3))
    [doc] = mongo_db.alarms.find()
    assert doc["state"]["val"] == 3 and doc["rev"] == 3


def test_a_check_without_alarm_and_an_action_without_alarm_are_counted(mongo_db):
    alerts = engine(mongo_db)
    out = batch(alerts, event("e1", state=0), event("a1", event_type="ack"))
    assert mongo_db.alarms.count_documents({}) == 0
    assert "alarm_id" not in out[0]
    assert alerts.counters["ignored_no_open_alarm"] == 2


def test_snooze_expires_on_a_beat_of_a_new_engine(mongo_db):
    batch(engine(mongo_db), event("e1"), event("s1", event_type="snooze", duration=1))
    restarted = engine(mongo_db)
    restarted.beat(time.time() + 2)
    [doc] = mongo_db.alarms.find()
    assert doc["snooze"] is None


def test_setup_drops_the_open_alarm_indexes_no_longer_kept(mongo_db):
    mongo_db.alarms.create_index([("state.val", -1)])
    mongo_db.alarms.create_index([("creation_date", -1)])
    engine(mongo_db)
    kept = set(mongo_db.alarms.index_information())
    assert kept.isdisjoint(alarms_store.DROPPED_INDEXES)
    assert {"_id_", "entity_id_1", "last_update_date_-1", "connector_name_1"} <= kept


class AlarmReads(monitoring.CommandListener):
    """Counts the ``find`` commands on the open alarms."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event) -> None:
        if event.command_name == "find" and event.command.get("find") == "alarms":
            self.count += 1

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


@pytest.fixture
def watched(mongo_db, mongo_server):
    """``mongo_db`` through a client whose reads of the open alarms are counted."""
    reads = AlarmReads()
    client = pymongo.MongoClient(mongo_server.mongo_uri, event_listeners=[reads])
    yield client[mongo_db.name], reads
    client.close()


def test_entities_known_without_alarm_are_not_looked_up_again_until_one_opens(watched):
    db, reads = watched
    alerts = engine(db)
    reads.count = 0  # the counts the setup made (alarmcounts.ensure_base)
    batch(alerts, event("e1", state=0))
    batch(alerts, event("e2", state=0), event("a2", event_type="ack"))
    assert reads.count == 1  # the first batch only
    [opened] = batch(alerts, event("e3", state=2))
    assert opened["alarm_id"] == "http/web1:e3"
    [closed] = batch(alerts, event("e4", state=0))  # the alarm this worker opened
    assert closed["alarm_id"] == "http/web1:e3"
    [doc] = db.alarms.find()
    assert doc["state"]["val"] == 0 and doc["events_count"] == 2


def test_an_alarm_opened_elsewhere_for_an_entity_believed_without_one_retries_and_is_used(
    mongo_db,
):
    alerts = engine(mongo_db)
    batch(alerts, event("e1", state=0))
    batch(engine(mongo_db), event("x1", state=3))  # another process, against the routing
    alerts.prepare([event("e2", state=2)])
    alerts.work(event("e2", state=2))
    with pytest.raises(Retry):
        alerts.flush()
    [out] = batch(alerts, event("e2", state=2))
    assert out["alarm_id"] == "http/web1:x1"
    [doc] = mongo_db.alarms.find()
    assert doc["state"]["val"] == 2
