"""``POST /api/v2/eventfilter/try``: an event run through the stored rules as the engine
would, rule by rule, publishing nothing and counting no hit (in process, no broker)."""

import pytest

from tests.conftest import author_of, error
from tests.helpers import check_event

pytestmark = pytest.mark.integration

RULES = "/api/v2/eventfilter/rules"
TRY = "/api/v2/eventfilter/try"
TAG = {
    "_id": "tag-web",
    "priority": 1,
    "match": {"component": {"$regex": "^web"}},
    "actions": [{"type": "set", "field": "site", "value": "paris"}],
}
ELSEWHERE = {"_id": "elsewhere", "priority": 2, "match": {"component": "db-9"}, "actions": []}
DROP = {
    "_id": "drop-tmp",
    "priority": 3,
    "match": {"resource": {"$regex": "^tmp"}},
    "actions": [{"type": "drop"}],
}
AFTER = {"_id": "after", "priority": 4, "match": {}, "actions": [{"type": "add_tag", "value": "x"}]}


@pytest.fixture
def rules(api):
    admin = api.as_role("admin")
    for made in (TAG, ELSEWHERE, DROP, AFTER):
        assert api.simulate_post(RULES, json=made, headers=admin).status_code == 201
    return api


def tried(api, event: dict, role: str = "viewer"):
    return api.simulate_post(TRY, json={"event": event}, headers=api.as_role(role))


def by_id(answer: dict) -> dict[str, dict]:
    return {step["_id"]: step for step in answer["rules"]}


def test_a_dropped_event_says_which_rule_dropped_it_and_what_came_before(rules):
    resp = tried(rules, check_event("web-1", "tmp-files", state=2))
    assert resp.status_code == 200, resp.text
    assert [step["_id"] for step in resp.json["rules"]] == [
        "tag-web",
        "elsewhere",
        "drop-tmp",
        "after",
    ]
    steps = by_id(resp.json)
    assert steps["tag-web"]["outcome"] == "edited"
    assert steps["tag-web"]["changes"] == [{"field": "site", "kind": "added", "after": "paris"}]
    assert steps["tag-web"]["event"]["site"] == "paris"
    assert steps["elsewhere"] == {**steps["elsewhere"], "outcome": "no match", "matched": False}
    assert steps["drop-tmp"]["outcome"] == "dropped" and steps["drop-tmp"]["event"] is None
    assert steps["after"]["outcome"] == "not reached"
    assert resp.json["dropped"] and resp.json["dropped_by"] == "drop-tmp"
    assert resp.json["event"] is None


def test_an_event_that_passes_is_answered_normalised_and_edited(rules):
    resp = tried(rules, check_event("web-1", "cpu", state=1, tags=["env:prod"]))
    assert resp.status_code == 200, resp.text
    final = resp.json["event"]
    assert not resp.json["dropped"] and resp.json["route"] is None
    assert final["site"] == "paris" and final["tags"] == ["env:prod", "x"]
    assert final["entity_id"] == "cpu/web-1" and "routing_key" in final and "timestamp" in final
    assert by_id(resp.json)["drop-tmp"]["outcome"] == "no match"


def test_the_trial_counts_no_hit_and_publishes_nothing(rules):
    """The client has no broker: a publish would fail; the rules keep no counter."""
    assert tried(rules, check_event("web-1", "tmp-x")).status_code == 200
    stored = list(rules.db.eventfilter_rules.find())
    assert stored and not any({"hits", "drops", "last_hit"} & set(doc) for doc in stored)


def test_an_actions_author_is_the_caller(rules):
    action = {**check_event("db-9", None), "event_type": "ack", "author": "someone else"}
    action.pop("state", None)
    operator = rules.as_role("operator")
    resp = rules.simulate_post(TRY, json={"event": action}, headers=operator)
    assert resp.status_code == 200, resp.text
    assert resp.json["event"]["author"] == author_of(operator)


def test_disabled_and_broken_rules_are_left_out_and_the_broken_named(rules):
    admin = rules.as_role("admin")
    off = {**AFTER, "enabled": False}
    assert rules.simulate_put(f"{RULES}/after", json=off, headers=admin).status_code == 200
    rules.db.eventfilter_rules.insert_one({"_id": "broken", "match": {"$nope": 1}, "actions": []})
    resp = tried(rules, check_event("web-1", "cpu"))
    assert [step["_id"] for step in resp.json["rules"]] == ["tag-web", "elsewhere", "drop-tmp"]
    assert [skipped["_id"] for skipped in resp.json["skipped"]] == ["broken"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": {**check_event("web-1", "cpu"), "state": "2"}}, "event.state"),
        ({"event": {**check_event("web-1", "cpu"), "connector": ""}}, "event.connector"),
        ({"event": "web-1"}, "event"),
        ({}, "event"),
        ({"event": check_event("web-1", "cpu"), "publish": True}, "publish"),
        ([], "body"),
    ],
)
def test_a_bad_event_is_400_naming_the_field(rules, body, field):
    resp = rules.simulate_post(TRY, json=body, headers=rules.as_role("viewer"))
    assert resp.status_code == 400, resp.text
    assert field in error(resp)["fields"], resp.text
