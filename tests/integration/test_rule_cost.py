"""A rule cannot stall the pipeline: catastrophic patterns run in linear time, and an event
whose rules take more than their budget goes to the dead letters while the next ones go on.

Against real RabbitMQ and MongoDB, the engines as one process (see test_pipeline); every wait
is bounded, so a pipeline that stalls fails the test instead of hanging it.
"""

import json

import pytest

from tests.integration import test_pipeline
from tests.integration.test_pipeline import CHAIN, event, send, start, stop, wait_for

pytestmark = pytest.mark.integration

#: the prefix with the repository's engine configuration and fast beats, and its database
site, db = test_pipeline.site, test_pipeline.db

DEADLINE = 90


def alarms_of(db, prefix: str) -> list[dict]:
    return list(db.alarms.find({"component": {"$regex": f"^{prefix}-"}}))


def wait_for_alarms(db, prefix: str, events: list[dict], what: str) -> None:
    """Wait until each of ``events`` (components ``<prefix>-...``) has its alarm."""
    wait_for(
        lambda: len(alarms_of(db, prefix)) == len(events),
        timeout=DEADLINE,
        what=f"the events sent after the {what} one to become alarms",
    )


def test_a_catastrophic_pattern_on_a_long_output_does_not_stall_the_pipeline(site, db):
    """``(a+)+$`` backtracks for ever on 'aaa...!' with a backtracking engine."""
    rule = {
        "_id": "catastrophic",
        "match": {"output": {"$regex": "(a+)+$"}},
        "actions": [{"type": "add_tag", "value": "all-a"}],
    }
    db.eventfilter_rules.insert_one(rule)
    slow = event("cat-slow", state=2, output="a" * 5000 + "!")
    after = [event(f"cat-after-{i}", state=2) for i in range(20)]
    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, slow, *after)
        wait_for_alarms(db, "cat-after", after, "slow")
        alarm = wait_for(
            lambda: db.alarms.find_one({"component": "cat-slow"}), timeout=DEADLINE, what="alarm"
        )
    finally:
        db.eventfilter_rules.delete_one({"_id": "catastrophic"})
        stop(proc)
    assert alarm["output"] == slow["output"] and alarm["tags"] == []
    assert all(a["events_count"] == 1 for a in alarms_of(db, "cat-after"))
    sent = [f"it.{ev['component']}" for ev in (slow, *after)]
    assert db.dead_letters.count_documents({"routing_key": {"$in": sent}}) == 0


#: rules that take a while on a large output, for the component "budget-heavy" only (the
#: component is tested first, so they cost other events almost nothing)
HEAVY = [
    {
        "_id": f"heavy-{i}",
        "match": {"component": "budget-heavy", "output": {"$regex": f"[a-q][^u-z]{{13}}{i}"}},
        "actions": [],
    }
    for i in range(10)
]


def test_an_event_over_the_rules_budget_is_dead_lettered_and_the_next_ones_go_on(site, db):
    conf = site.prefix / "etc" / "engines" / "event_filter.conf"
    text = conf.read_text()
    assert "rules_budget_ms = 250\n" in text
    conf.write_text(text.replace("rules_budget_ms = 250\n", "rules_budget_ms = 0.1\n"))
    db.eventfilter_rules.insert_many(HEAVY)
    enabled = db.eventfilter_rules.find({"enabled": {"$ne": False}})
    ordered = sorted(enabled, key=lambda rule: (rule.get("priority", 0), rule["_id"]))
    heavy = event("budget-heavy", state=2, output="a" * 60_000)
    after = [event(f"budget-after-{i}", state=3) for i in range(20)]
    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, heavy, *after)
        wait_for_alarms(db, "budget-after", after, "heavy")
        [letter] = wait_for(
            lambda: list(db.dead_letters.find({"routing_key": "it.budget-heavy"})),
            timeout=DEADLINE,
            what="the heavy event in the dead letters",
        )
    finally:
        db.eventfilter_rules.delete_many({"_id": {"$in": [r["_id"] for r in HEAVY]}})
        conf.write_text(text)
        stop(proc)
    assert letter["engine"] == "event_filter"
    # the clock is read every 8 rules: the 8th in evaluation order (rules of earlier tests
    # of the module included) is the last one run
    eighth = ordered[7]["_id"]
    assert letter["reasons"] == [
        {
            "field": "",
            "reason": "the event filter rules took more than 0.1 ms of CPU time on this event "
            f"(stopped after 8 rules, the last one {eighth})",
        }
    ]
    body = json.loads(letter["body"])
    assert (body["component"], body["output"]) == ("budget-heavy", heavy["output"])
    assert db.alarms.count_documents({"component": "budget-heavy"}) == 0
    assert all(a["events_count"] == 1 for a in alarms_of(db, "budget-after"))
    around = [f"it.{ev['component']}" for ev in after]
    assert db.dead_letters.count_documents({"routing_key": {"$in": around}}) == 0
    [logged] = [line for line in proc.text().splitlines() if "dead-lettered" in line]
    assert logged.endswith(f"dead-lettered: {letter['reasons'][0]['reason']}")
    db.dead_letters.delete_one({"_id": letter["_id"]})
