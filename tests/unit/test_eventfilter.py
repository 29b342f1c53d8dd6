import copy

import pytest

from canopsis.domain.eventfilter import (
    OverBudget,
    RuleError,
    apply_rules,
    compile_rule,
    compile_rules,
    validate_rule,
)
from tests.helpers import DISK_CHECK

EVENT = {**DISK_CHECK}


def rule(rule_id: str, match: dict, *actions: dict, **fields: object) -> dict:
    return {"_id": rule_id, "match": match, "actions": list(actions), **fields}


def run(event: dict, *docs: dict):
    rules, failed = compile_rules(docs)
    assert failed == []
    return apply_rules(rules, event)


def test_no_rule_lets_the_event_through_unchanged():
    verdict = run(EVENT)
    assert verdict.event == EVENT
    assert verdict.route is None
    assert verdict.hits == []
    assert not verdict.dropped


def test_rule_matching_an_extra_field_sets_a_field():
    verdict = run(
        EVENT,
        rule("paris", {"site": "paris"}, {"type": "set", "field": "team", "value": "ops-paris"}),
        rule("lyon", {"site": "lyon"}, {"type": "set", "field": "team", "value": "ops-lyon"}),
    )
    assert verdict.event == {**EVENT, "team": "ops-paris"}
    assert verdict.hits == ["paris"]


def test_case_insensitive_regex_in_and_numeric_comparison():
    verdict = run(
        EVENT,
        rule(
            "disks",
            {"resource": {"$regex": "^disk", "$options": "i"}},
            {"type": "add_tag", "value": "disk"},
            priority=1,
        ),
        rule(
            "nagios",
            {"connector": {"$in": ["icinga", "nagios"]}},
            {"type": "add_tag", "value": "nagios"},
            priority=2,
        ),
        rule("major", {"state": {"$gte": 2}}, {"type": "add_tag", "value": "major"}, priority=3),
        rule("text-state", {"output": {"$gt": 1}}, {"type": "add_tag", "value": "wrong"}),
    )
    assert verdict.event["tags"] == ["disk", "nagios", "major"]
    assert verdict.hits == ["disks", "nagios", "major"]


def test_a_string_state_does_not_compare_as_a_number():
    verdict = run(
        {**EVENT, "state": "3"}, rule("critical", {"state": {"$gt": 2}}, {"type": "drop"})
    )
    assert not verdict.dropped
    assert verdict.hits == []


def test_rules_run_by_priority_then_id_each_seeing_the_previous_edits():
    verdict = run(
        EVENT,
        rule("c", {"step": 3}, {"type": "set", "field": "step", "value": 4}, priority=5),
        rule("b", {"step": 2}, {"type": "set", "field": "step", "value": 3}, priority=5),
        rule("a", {}, {"type": "set", "field": "step", "value": 1}, priority=-1),
        rule("d", {"step": 1}, {"type": "set", "field": "step", "value": 2}),
    )
    assert verdict.hits == ["a", "d", "b", "c"]
    assert verdict.event["step"] == 4


def test_break_stops_after_a_matching_rule_only():
    verdict = run(
        EVENT,
        rule(
            "skip",
            {"site": "lyon"},
            {"type": "add_tag", "value": "lyon"},
            priority=1,
            **{"break": True},
        ),
        rule(
            "stop",
            {"site": "paris"},
            {"type": "add_tag", "value": "paris"},
            priority=2,
            **{"break": True},
        ),
        rule("never", {}, {"type": "add_tag", "value": "never"}, priority=3),
    )
    assert verdict.event["tags"] == ["paris"]
    assert verdict.hits == ["stop"]


def test_drop_ends_evaluation_and_drops_the_event():
    verdict = run(
        EVENT,
        rule("tag", {}, {"type": "add_tag", "value": "seen"}, priority=1),
        rule(
            "drop-disks",
            {"resource": {"$regex": "^Disk"}},
            {"type": "route", "engine": "x"},
            {"type": "drop"},
            priority=2,
        ),
        rule("after", {}, {"type": "add_tag", "value": "after"}, priority=3),
    )
    assert verdict.dropped
    assert verdict.event is None
    assert verdict.route is None
    assert verdict.hits == ["tag", "drop-disks"]


def test_pass_ends_evaluation_keeping_edits_and_route_so_far():
    verdict = run(
        EVENT,
        rule("route", {}, {"type": "route", "engine": "ticketing"}, priority=1),
        rule(
            "trusted",
            {"connector": "nagios"},
            {"type": "set", "field": "trusted", "value": True},
            {"type": "pass"},
            priority=2,
        ),
        rule("drop-all", {}, {"type": "drop"}, priority=3),
    )
    assert verdict.event == {**EVENT, "trusted": True}
    assert verdict.route == "ticketing"
    assert verdict.hits == ["route", "trusted"]


def test_route_sends_to_the_named_engine_and_the_last_route_wins():
    first = rule("first", {}, {"type": "route", "engine": "pbehavior"}, priority=1)
    second = rule("second", {"state": 3}, {"type": "route", "engine": "ticketing"}, priority=2)
    assert run(EVENT, first, second).route == "pbehavior"
    assert run({**EVENT, "state": 3}, first, second).route == "ticketing"


def test_set_remove_and_add_tag_never_change_the_input():
    event = {**EVENT, "extra": {"debug": "x", "keep": 1}, "tags": ["prod"]}
    original = copy.deepcopy(event)
    verdict = run(
        event,
        rule(
            "edit",
            {},
            {"type": "set", "field": "extra.location.room", "value": "B2"},
            {"type": "remove", "field": "extra.debug"},
            {"type": "remove", "field": "site"},
            {"type": "remove", "field": "not.there"},
            {"type": "add_tag", "value": "web"},
            {"type": "add_tag", "value": "prod"},
            {"type": "set", "field": "state", "value": 3},
        ),
    )
    assert event == original
    expected = {k: v for k, v in original.items() if k != "site"}
    expected.update(extra={"keep": 1, "location": {"room": "B2"}}, tags=["prod", "web"], state=3)
    assert verdict.event == expected


def test_set_through_a_value_that_is_not_an_object_does_nothing():
    verdict = run(EVENT, rule("deep", {}, {"type": "set", "field": "site.room", "value": "B2"}))
    assert verdict.event == EVENT
    assert verdict.hits == ["deep"]


def test_each_event_gets_its_own_copy_of_a_set_value():
    rules = [compile_rule(rule("labels", {}, {"type": "set", "field": "labels", "value": ["a"]}))]
    first = apply_rules(rules, EVENT).event
    first["labels"].append("b")
    assert apply_rules(rules, EVENT).event["labels"] == ["a"]


def test_add_tag_creates_tags_and_keeps_a_lone_tag():
    add = rule("tag", {}, {"type": "add_tag", "value": "prod"})
    assert run(EVENT, add).event["tags"] == ["prod"]
    assert run({**EVENT, "tags": None}, add).event["tags"] == ["prod"]
    assert run({**EVENT, "tags": "web"}, add).event["tags"] == ["web", "prod"]


def test_hits_list_every_matching_rule_in_order():
    verdict = run(
        EVENT,
        rule("count-all", {}, priority=1),
        rule("count-paris", {"site": "paris"}, priority=2),
        rule("count-lyon", {"site": "lyon"}, priority=3),
        rule("count-majors", {"state": {"$gte": 2}}, priority=4),
    )
    assert verdict.hits == ["count-all", "count-paris", "count-majors"]
    assert verdict.event == EVENT


def test_disabled_rule_is_not_applied():
    verdict = run(EVENT, rule("off", {}, {"type": "drop"}, enabled=False))
    assert not verdict.dropped
    assert verdict.hits == []


def test_compiled_rule_keeps_its_settings():
    compiled = compile_rule(rule("r", {}, {"type": "pass"}, name="Let it go", priority=3))
    assert (compiled.id, compiled.name, compiled.priority, compiled.enabled) == (
        "r",
        "Let it go",
        3,
        True,
    )
    assert compile_rule(rule("r", {})).name == "r"


#: rules that take a while on a large output, matching only the component "heavy" (the
#: component is tested first, so they cost other events almost nothing)
HEAVY = [
    rule(f"heavy-{i}", {"component": "heavy", "output": {"$regex": f"[a-q][^u-z]{{13}}{i}"}})
    for i in range(10)
]


def test_rules_over_their_budget_of_cpu_time_raise_naming_the_budget_and_the_rules():
    rules, _failed = compile_rules(HEAVY)
    heavy = {**EVENT, "component": "heavy", "output": "a" * 60_000}
    with pytest.raises(OverBudget) as raised:
        apply_rules(rules, heavy, budget=0.0001)
    assert str(raised.value) == (
        "the event filter rules took more than 0.1 ms of CPU time on this event "
        "(stopped after 8 rules, the last one heavy-7)"
    )
    assert apply_rules(rules, heavy, budget=10).event == heavy
    assert apply_rules(rules, EVENT, budget=0.0001).event == EVENT


def test_valid_rule_has_no_problem():
    doc = rule(
        "ok",
        {"state": {"$gte": 2}},
        {"type": "set", "field": "tags", "value": ["a"]},
        {"type": "route", "engine": "ticketing"},
        name="OK",
        description="",
        priority=1,
        enabled=True,
        author="root",
        hits=12,
        **{"break": True},
    )
    assert validate_rule(doc) == []


def test_bad_regex_is_reported_with_its_field():
    problems = validate_rule(rule("re", {"resource": {"$regex": "disk["}}, {"type": "drop"}))
    assert [p.field for p in problems] == ["match.resource.$regex"]
    assert problems[0].reason.startswith("bad regular expression (RE2 syntax): missing ]: [")


def test_rule_with_several_problems_reports_all_of_them():
    doc = {
        "_id": "",
        "priority": "high",
        "enabled": "yes",
        "brake": True,
        "match": {"state": {"$gt": "2"}, "component": {"$in": "web1"}},
        "actions": [
            {"type": "set", "field": "component", "value": "web2"},
            {"type": "set", "field": "state", "value": 7},
            {"type": "remove", "field": "state"},
            {"type": "remove"},
            {"type": "set", "field": "a..b"},
            {"type": "route", "engine": "no such engine"},
            {"type": "add_tag", "value": 3, "color": "red"},
            {"type": "explode"},
            "drop",
            {"type": "drop"},
            {"type": "pass"},
        ],
    }
    # the schema's problems first, then those of the pattern and of the actions' rules
    assert [str(p) for p in validate_rule(doc)] == [
        "brake: unknown field",
        "_id: expected a non-empty string",
        "priority: expected an integer",
        "enabled: expected true or false",
        "actions.3.field: missing",
        "actions.4.value: missing",
        "actions.5.engine: expected an engine name other than cleaner and event_filter (a loop)",
        "actions.6.color: unknown field",
        "actions.6.value: expected a non-empty string",
        "actions.7.type: expected one of add_tag, drop, pass, remove, route, set",
        "actions.8: expected an object",
        "match.state.$gt: expected a number",
        "match.component.$in: expected a list",
        "actions.0.field: component identifies the event and cannot be changed",
        "actions.1.value: expected 0, 1, 2 or 3",
        "actions.2.field: state cannot be removed",
        "actions.4.field: bad field path (an empty part or a part starting with $)",
        "actions.10: never runs: it follows drop",
    ]
    with pytest.raises(RuleError) as info:
        compile_rule(doc)
    assert info.value.errors == validate_rule(doc)
    assert str(info.value).startswith("brake: unknown field; _id: expected a non-empty string; ")


def test_missing_required_fields_and_non_object_rule():
    assert [str(p) for p in validate_rule({})] == [
        "_id: missing",
        "match: missing (use {} to match every event)",
        "actions: missing",
    ]
    assert [str(p) for p in validate_rule(["drop"])] == ["expected an object"]


def test_one_bad_stored_rule_does_not_stop_the_others():
    rules, failed = compile_rules(
        [
            rule("good", {"site": "paris"}, {"type": "drop"}),
            rule("bad", {"site": {"$regex": "("}}, {"type": "drop"}),
        ]
    )
    assert [r.id for r in rules] == ["good"]
    [(rule_id, error)] = failed
    assert rule_id == "bad"
    assert [p.field for p in error.errors] == ["match.site.$regex"]
    assert apply_rules(rules, EVENT).dropped


@pytest.mark.parametrize("engine", ["cleaner", "event_filter"])
def test_a_route_back_through_the_filter_is_refused_as_a_loop(engine):
    doc = {"_id": "loop", "match": {}, "actions": [{"type": "route", "engine": engine}]}
    assert [str(p) for p in validate_rule(doc)] == [
        "actions.0.engine: expected an engine name other than cleaner and event_filter (a loop)"
    ]


def test_a_set_without_value_is_named_whatever_its_field():
    for field in ("site", "state", "a..b"):
        doc = {"_id": "r", "match": {}, "actions": [{"type": "set", "field": field}]}
        assert "actions.0.value: missing" in [str(p) for p in validate_rule(doc)]
