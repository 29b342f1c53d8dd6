"""The counts of the open alarms the alerts engine keeps (canopsis.store.alarmcounts):
equal to counting the alarms, through batches, beats, failures and restarts."""

from collections import Counter

from canopsis.engines.alerts import Alerts
from canopsis.store import alarmcounts, alarms
from tests.integration.test_alerts_engine import OPTIONS, batch, event


def counted(db) -> dict:
    return alarms.counts(db, alarms.OPEN, {})


def test_without_an_alerts_engine_the_counts_are_counted(mongo_db):
    mongo_db.alarms.insert_one({"_id": "a", "state": {"val": 2}, "status": {"val": 1}})
    assert alarmcounts.summed(mongo_db) is None
    assert alarmcounts.counts(mongo_db, alarms.OPEN, {})["by_state"]["2"] == 1


def test_the_first_alerts_process_counts_the_alarms_already_there_once(mongo_db):
    mongo_db.alarms.insert_many(
        [{"_id": f"a{n}", "state": {"val": n % 4}, "status": {"val": 1}} for n in range(10)]
    )
    assert alarmcounts.ensure_base(mongo_db)
    assert not alarmcounts.ensure_base(mongo_db)
    assert alarmcounts.summed(mongo_db) == counted(mongo_db)


def test_batches_beats_and_restarts_keep_the_counts(mongo_db):
    alerts = Alerts("alerts", OPTIONS, mongo_db)
    alerts.setup()
    batch(alerts, *(event(f"e{n}", state=1 + n % 3) for n in range(12)))
    batch(alerts, event("e0", state=3), event("e1", state=0), event("e2", event_type="ack"))
    batch(alerts, event("e3", event_type="cancel"))
    assert alarmcounts.summed(mongo_db) == counted(mongo_db)
    alerts.beat(10**10)  # far ahead: whatever time changes has changed
    assert alarmcounts.summed(mongo_db) == counted(mongo_db)
    again = Alerts("alerts", OPTIONS, mongo_db)
    again.setup()
    batch(again, event("e4", state=3), event("e5", state=0))
    assert alarmcounts.summed(mongo_db) == counted(mongo_db)


def test_the_total_of_a_list_filtered_on_state_and_status_comes_from_the_counts(api):
    alerts = Alerts("alerts", OPTIONS, api.db)
    alerts.setup()
    batch(alerts, *(event(f"e{n}", state=1 + n % 3) for n in range(12)))
    batch(alerts, event("e0", state=0), event("e3", event_type="cancel"))
    viewer = api.as_role("viewer")
    for params, query in (
        ({}, {}),
        ({"state": "3"}, {"state.val": 3}),
        ({"state": "1,0"}, {"state.val": {"$in": [0, 1]}}),
        ({"status": "1", "state": "2"}, {"status.val": 1, "state.val": 2}),
        ({"status": "4"}, {"status.val": 4}),
    ):
        filters = alarms.Filters(
            states=[int(v) for v in params.get("state", "").split(",") if v],
            statuses=[int(v) for v in params.get("status", "").split(",") if v],
        )
        stored = api.db.alarms.count_documents(query)
        assert alarmcounts.matching(api.db, filters) == stored, params
        listed = api.simulate_get("/api/v2/alarms", params=params, headers=viewer).json
        assert listed["total"] == stored, params
    assert alarmcounts.matching(api.db, alarms.Filters(states=[3], acked=True)) is None


def test_a_batch_cut_short_is_counted_by_what_it_wrote(mongo_db):
    """A batch recorded as pending turns three alarms critical, then its process dies: one
    alarm was written, one was not, and one was written by another process first (at the
    revision this batch expected); the next start counts the first only."""
    mongo_db.alarms.insert_many(
        [{"_id": name, "rev": 1, **_state(1)} for name in ("mine", "lost", "theirs")]
    )
    alarmcounts.ensure_base(mongo_db)
    to_critical = Counter({"1_1_-_-": -1, "3_1_-_-": 1})
    other = alarmcounts.Ledger(mongo_db, "alerts/h/1")
    other.begin([("theirs", 2, to_critical)])
    _write(mongo_db, "theirs", "alerts/h/1")
    other.commit()
    ledger = alarmcounts.Ledger(mongo_db, "alerts/h/0")
    ledger.begin([("mine", 2, to_critical), ("lost", 2, to_critical), ("theirs", 2, to_critical)])
    _write(mongo_db, "mine", "alerts/h/0")
    alarmcounts.Ledger(mongo_db, "alerts/h/0").recover()  # the process started again
    assert alarmcounts.summed(mongo_db) == counted(mongo_db)
    assert counted(mongo_db)["by_state"]["3"] == 2
    assert mongo_db.alarm_counts.find_one({"_id": "alerts/h/0"}).get("pending") is None


def _write(db, alarm_id: str, owner: str) -> None:
    db.alarms.update_one(
        {"_id": alarm_id, "rev": 1}, {"$set": {"rev": 2, "written_by": owner, **_state(3)}}
    )


def _state(value: int) -> dict:
    return {"state": {"val": value}, "status": {"val": 1}}
