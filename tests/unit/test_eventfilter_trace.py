"""The trial of an event through the rules, rule by rule: what it says, and that it ends as
the engine's evaluation does."""

import copy

import pytest

from canopsis.domain.eventfilter import apply_rules, compile_rules
from canopsis.domain.eventfilter_trace import diff, trace
from tests.helpers import DISK_CHECK

EVENT = {**DISK_CHECK, "extra": {"team": "ops", "debug": True}}


def rule(rule_id: str, match: dict, *actions: dict, **fields: object) -> dict:
    return {"_id": rule_id, "match": match, "actions": list(actions), **fields}


SITE = rule("site", {}, {"type": "set", "field": "zone", "value": "eu"}, priority=1)
DEBUG = rule("debug", {"extra.debug": True}, {"type": "remove", "field": "extra.debug"}, priority=2)
NOWHERE = rule("nowhere", {"component": "nope"}, {"type": "drop"}, priority=3)
ROUTE = rule("route", {}, {"type": "route", "engine": "ticketing"}, priority=4)
DROP = rule("drop", {"zone": "eu"}, {"type": "drop"}, priority=5)
LATER = rule("later", {}, {"type": "add_tag", "value": "x"}, priority=6)


def run(event: dict, *docs: dict) -> tuple[dict, object]:
    rules, failed = compile_rules(docs)
    return trace(rules, event, failed), apply_rules(rules, event)


def test_each_rule_says_what_it_did_and_the_event_after_it():
    before = copy.deepcopy(EVENT)
    traced, verdict = run(EVENT, SITE, DEBUG, NOWHERE, ROUTE, DROP, LATER)
    assert before == EVENT
    steps = {step["_id"]: step for step in traced["rules"]}
    assert [step["_id"] for step in traced["rules"]] == [
        "site",
        "debug",
        "nowhere",
        "route",
        "drop",
        "later",
    ]
    assert steps["site"]["outcome"] == "edited"
    assert steps["site"]["changes"] == [{"field": "zone", "kind": "added", "after": "eu"}]
    assert steps["site"]["event"] == {**EVENT, "zone": "eu"}
    assert steps["debug"]["changes"] == [
        {"field": "extra.debug", "kind": "removed", "before": True}
    ]
    assert steps["nowhere"]["outcome"] == "no match" and not steps["nowhere"]["matched"]
    assert steps["route"]["outcome"] == "matched" and steps["route"]["route"] == "ticketing"
    assert steps["drop"]["outcome"] == "dropped" and steps["drop"]["ends"] == "drop"
    assert steps["drop"]["event"] is None
    assert steps["later"]["outcome"] == "not reached" and steps["later"]["event"] is None
    assert traced["dropped"] and traced["dropped_by"] == "drop"
    assert traced["event"] is None and traced["route"] is None
    assert verdict.dropped


def test_a_pass_ends_evaluation_with_the_route_chosen_and_disabled_rules_are_left_out():
    passing = rule("pass", {}, {"type": "add_tag", "value": "seen"}, {"type": "pass"}, priority=5)
    off = rule("off", {}, {"type": "drop"}, enabled=False)
    traced, verdict = run(EVENT, off, SITE, ROUTE, passing, LATER)
    assert [step["_id"] for step in traced["rules"]] == ["site", "route", "pass", "later"]
    assert traced["rules"][2]["ends"] == "pass"
    assert traced["rules"][3]["outcome"] == "not reached"
    assert traced["rules"][3]["event"] == traced["event"]
    assert not traced["dropped"]
    assert traced["event"] == verdict.event and traced["route"] == verdict.route == "ticketing"


def test_a_break_ends_evaluation():
    stop = rule("stop", {}, **{"break": True})
    traced, verdict = run(EVENT, stop, LATER)
    assert traced["rules"][0]["outcome"] == "matched" and traced["rules"][0]["ends"] == "break"
    assert traced["rules"][1]["outcome"] == "not reached"
    assert traced["event"] == verdict.event == EVENT


def test_a_rule_that_does_not_compile_is_said_skipped():
    traced, _verdict = run(EVENT, SITE, {"_id": "bad", "match": {"$nope": 1}, "actions": []})
    assert [step["_id"] for step in traced["rules"]] == ["site"]
    assert [skipped["_id"] for skipped in traced["skipped"]] == ["bad"]
    assert "match" in traced["skipped"][0]["error"]


@pytest.mark.parametrize(
    ("before", "after", "changes"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [{"field": "a", "kind": "changed", "before": 1, "after": 2}]),
        (
            {"a": {"b": [1]}},
            {"a": {"b": [1, 2]}},
            [{"field": "a.b", "kind": "changed", "before": [1], "after": [1, 2]}],
        ),
        (
            {"a": 1},
            {"a": {"b": 1}},
            [{"field": "a", "kind": "changed", "before": 1, "after": {"b": 1}}],
        ),
        ({}, {"a": {"b": 1}}, [{"field": "a", "kind": "added", "after": {"b": 1}}]),
    ],
)
def test_diff_names_each_changed_field_by_its_path(before, after, changes):
    assert diff(before, after) == changes
