"""The pbehavior engine against the embedded MongoDB: what events carry, what the beat sends."""

import time

import pytest

from canopsis.engines.alerts import Alerts
from canopsis.engines.pbehavior import Pbehavior
from canopsis.runtime.engine import Outbox

pytestmark = pytest.mark.integration

OPTIONS = {"reload_interval": 10.0, "resend_after": 60.0}


def engine(db, **options) -> tuple[Pbehavior, list[dict]]:
    """The engine and the list its beat's published events land in."""
    pbh = Pbehavior("pbehavior", {**OPTIONS, **options}, db)
    sent: list[dict] = []
    pbh.attach(Outbox(emit=sent.append))
    pbh.setup()
    return pbh, sent


def window(pb_id: str = "pb1", start: float | None = None, **fields) -> dict:
    start = time.time() - 60 if start is None else start
    return {
        "_id": pb_id,
        "name": "db upgrade",
        "type": "maintenance",
        "reason": "v17",
        "author": "alice",
        "filter": {"component": "db1"},
        "start": start,
        "end": start + 3600,
        **fields,
    }


def check(component: str, resource: str = "cpu", state: int = 2, **extra) -> dict:
    return {
        "connector": "nagios",
        "connector_name": "n1",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": resource,
        "entity_id": f"{resource}/{component}",
        "timestamp": time.time(),
        "state": state,
        "output": "out",
        **extra,
    }


def work(pbh: Pbehavior, *events: dict) -> list[dict]:
    pbh.prepare(list(events))
    return [pbh.work(e) for e in events]


def test_checks_carry_the_pbehavior_of_their_entity_and_others_pass_unchanged(mongo_db):
    mongo_db.pbehaviors.insert_one(window())
    pbh, _sent = engine(mongo_db)
    perf = {**check("db1"), "event_type": "perf"}
    inside, outside, passed = work(pbh, check("db1"), check("web1"), perf)
    assert inside["pbehavior"] == {
        "id": "pb1",
        "name": "db upgrade",
        "type": "maintenance",
        "reason": "v17",
        "author": "alice",
    }
    assert outside["pbehavior"] is None
    assert passed is perf


def test_the_stored_entity_is_matched_not_only_the_event(mongo_db):
    mongo_db.entities.insert_one(
        {"_id": "cpu/db2", "type": "resource", "component": "db2", "infos": {"site": "paris"}}
    )
    mongo_db.pbehaviors.insert_one(window(filter={"infos.site": "paris"}))
    pbh, _sent = engine(mongo_db)
    stored, unknown = work(pbh, check("db2"), check("db3"))
    assert stored["pbehavior"]["id"] == "pb1"
    assert unknown["pbehavior"] is None


def test_invalid_disabled_and_future_pbehaviors_do_not_apply(mongo_db):
    now = time.time()
    mongo_db.pbehaviors.insert_many(
        [
            window("bad", rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"),
            window("off", enabled=False),
            window("later", start=now + 600),
        ]
    )
    pbh, _sent = engine(mongo_db)
    [out] = work(pbh, check("db1"))
    assert out["pbehavior"] is None
    assert pbh.reload_at == pytest.approx(now + 10, abs=2)


def test_a_period_that_starts_is_seen_at_its_start_not_at_the_next_reload(mongo_db):
    start = time.time() + 1.5
    mongo_db.pbehaviors.insert_one(window(start=start))
    pbh, _sent = engine(mongo_db, reload_interval=3600)
    assert pbh.reload_at == pytest.approx(start)
    assert work(pbh, check("db1"))[0]["pbehavior"] is None
    time.sleep(max(0.0, start - time.time()) + 0.1)
    assert work(pbh, check("db1"))[0]["pbehavior"]["id"] == "pb1"


def test_the_beat_asks_open_alarms_to_follow_once(mongo_db):
    alerts = Alerts("alerts", {"resolved_retention_days": 365}, mongo_db)
    alerts.setup()
    pbh, sent = engine(mongo_db)
    events = work(pbh, check("db1", event_id="e1"), check("web1", event_id="e2"))
    alerts.prepare(events)
    for e in events:
        alerts.work(e)
    alerts.flush()
    for component in ("db1", "web1"):
        mongo_db.entities.insert_one({"_id": f"cpu/{component}", "component": component})
    pbh.beat(time.time())
    assert sent == []  # no period: nothing to follow

    mongo_db.pbehaviors.insert_one(window())
    pbh.beat(time.time())
    [enter] = sent
    assert (enter["event_type"], enter["component"], enter["resource"]) == (
        "pbehavior",
        "db1",
        "cpu",
    )
    pbh.beat(time.time())
    assert len(sent) == 1  # not again while the pipeline works through it

    [followed] = work(pbh, {**enter, "entity_id": "cpu/db1", "event_id": "e3", "state": 0})
    alerts.prepare([followed])
    alerts.work(followed)
    alerts.flush()
    alarm = mongo_db.alarms.find_one({"entity_id": "cpu/db1"})
    assert alarm["pbehavior"]["id"] == "pb1"
    assert [s["_t"] for s in alarm["steps"]][-1] == "pbhenter"

    mongo_db.pbehaviors.delete_one({"_id": "pb1"})
    pbh.beat(time.time())
    leave = sent[-1]
    assert len(sent) == 2 and leave["component"] == "db1"
    assert pbh.counters == {"entered": 1, "left": 1}
