"""The event_filter engine against the embedded MongoDB: rules read from and hits written to it."""

import logging
from datetime import UTC, datetime

import pytest

from canopsis.engines.event_filter import EventFilter
from canopsis.runtime.engine import Routed, check_options
from tests.helpers import check_event, normalized

pytestmark = pytest.mark.integration


def event(resource: str = "disk1", state: int = 2) -> dict:
    raw = check_event("srv1", resource, connector_name="paris", state=state)
    return normalized(raw, 1_700_000_000.0, f"id-{resource}-{state}")


DROP_TMP = {"_id": "no-tmp", "match": {"resource": "tmp"}, "actions": [{"type": "drop"}]}
SET_SITE = {
    "_id": "site",
    "match": {"component": "srv1"},
    "actions": [{"type": "set", "field": "site", "value": "paris"}],
}
ROUTE_MAJOR = {
    "_id": "major-to-ticketing",
    "match": {"state": 3},
    "actions": [{"type": "route", "engine": "ticketing"}],
}


def started(db) -> EventFilter:
    filter_ = EventFilter("event_filter", check_options("test", {}, EventFilter.options_spec), db)
    filter_.setup()
    return filter_


def run(filter_: EventFilter, events: list[dict]) -> list:
    filter_.prepare(events)
    out = [filter_.work(e) for e in events]
    filter_.flush()
    return out


def test_rules_stored_in_mongodb_drop_edit_and_route(mongo_db):
    mongo_db.eventfilter_rules.insert_many([DROP_TMP, SET_SITE, ROUTE_MAJOR])
    out = run(started(mongo_db), [event("tmp"), event("disk1"), event("disk2", state=3)])
    assert out == [
        None,
        {**event("disk1"), "site": "paris"},
        Routed("ticketing", {**event("disk2", state=3), "site": "paris"}),
    ]


def test_hits_drops_and_last_hit_land_in_the_rule_documents_after_flush(mongo_db):
    mongo_db.eventfilter_rules.insert_many([DROP_TMP, SET_SITE])
    filter_ = started(mongo_db)
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run(filter_, [event("tmp"), event("disk1"), event("disk2")])
    run(filter_, [event("tmp"), event("disk1")])
    site = mongo_db.eventfilter_rules.find_one({"_id": "site"})
    no_tmp = mongo_db.eventfilter_rules.find_one({"_id": "no-tmp"})
    assert (site["hits"], site.get("drops")) == (3, None)
    assert (no_tmp["hits"], no_tmp["drops"]) == (2, 2)
    assert filter_.counters["dropped"] == 2
    assert before <= site["last_hit"] <= datetime.now(UTC).replace(tzinfo=None)


def test_nothing_is_written_before_flush_nor_for_a_discarded_batch(mongo_db):
    mongo_db.eventfilter_rules.insert_one(SET_SITE)
    filter_ = started(mongo_db)
    filter_.prepare([event()])
    filter_.work(event())
    assert mongo_db.eventfilter_rules.find_one({"_id": "site"}) == SET_SITE
    filter_.discard()
    filter_.flush()
    assert mongo_db.eventfilter_rules.find_one({"_id": "site"}) == SET_SITE


def test_rule_counters_do_not_break_the_rule_at_the_next_reload(mongo_db):
    mongo_db.eventfilter_rules.insert_many([DROP_TMP, SET_SITE])
    filter_ = started(mongo_db)
    run(filter_, [event("tmp"), event("disk1")])
    filter_.beat(0)
    assert run(filter_, [event("tmp"), event("disk1")]) == [
        None,
        {**event("disk1"), "site": "paris"},
    ]


def test_a_rule_added_in_mongodb_applies_after_the_next_beat(mongo_db):
    filter_ = started(mongo_db)
    assert run(filter_, [event("tmp")]) == [event("tmp")]
    mongo_db.eventfilter_rules.insert_one(DROP_TMP)
    assert run(filter_, [event("tmp")]) == [event("tmp")]
    filter_.beat(0)
    assert run(filter_, [event("tmp")]) == [None]
    mongo_db.eventfilter_rules.update_one({"_id": "no-tmp"}, {"$set": {"enabled": False}})
    filter_.beat(0)
    assert run(filter_, [event("tmp")]) == [event("tmp")]


def test_a_broken_rule_is_skipped_and_logged_while_the_others_apply(mongo_db, caplog):
    broken = {"_id": "broken", "match": {"state": {"$nope": 1}}, "actions": [{"type": "drop"}]}
    mongo_db.eventfilter_rules.insert_many([broken, SET_SITE])
    with caplog.at_level(logging.WARNING):
        filter_ = started(mongo_db)
    assert run(filter_, [event("disk1")]) == [{**event("disk1"), "site": "paris"}]
    assert [r.getMessage() for r in caplog.records] == [
        "event_filter: rule broken skipped: match.state.$nope: unknown operator"
    ]
    assert mongo_db.eventfilter_rules.find_one({"_id": "broken"}).get("hits") is None


def test_a_stored_rule_re2_refuses_is_skipped_logged_once_and_says_why(mongo_db, caplog):
    """A rule stored before patterns ran on RE2 (a backreference) does not stop the engine."""
    old = {"_id": "old", "match": {"resource": {"$regex": r"(disk)\1"}}, "actions": []}
    mongo_db.eventfilter_rules.insert_many([old, SET_SITE])
    with caplog.at_level(logging.WARNING):
        filter_ = started(mongo_db)
        filter_.beat(0)
        filter_.beat(0)
    reason = (
        "match.resource.$regex: bad regular expression (RE2 syntax): invalid escape sequence: \\1"
    )
    assert [r.getMessage() for r in caplog.records] == [f"event_filter: rule old skipped: {reason}"]
    assert run(filter_, [event("diskdisk")]) == [{**event("diskdisk"), "site": "paris"}]
    assert mongo_db.eventfilter_rules.find_one({"_id": "old"})["error"] == reason
    assert "error" not in mongo_db.eventfilter_rules.find_one({"_id": "site"})
    mongo_db.eventfilter_rules.update_one(
        {"_id": "old"}, {"$set": {"match": {"resource": {"$regex": "(disk){2}"}}}}
    )
    filter_.beat(0)
    assert "error" not in mongo_db.eventfilter_rules.find_one({"_id": "old"})
    assert run(filter_, [event("diskdisk")]) == [{**event("diskdisk"), "site": "paris"}]
    assert mongo_db.eventfilter_rules.find_one({"_id": "old"})["hits"] == 1
