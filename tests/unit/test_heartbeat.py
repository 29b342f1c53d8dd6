"""Heartbeat definitions, tracking and trees, driven with a fake clock."""

import pytest

from canopsis.domain import event as events
from canopsis.domain.heartbeat import (
    announced,
    check_tree,
    evaluate,
    matches,
    new_state,
    observe,
    validate,
)
from tests.helpers import check_event

T0 = 1_700_000_000.0


def make_def(**fields: object) -> dict:
    defn = {"_id": "agent-7", "match": {"connector_name": "agent-7"}, "interval": 60}
    return defn | fields


def agent_event(**fields: object) -> dict:
    """A check the agent agent-7 sends about the component web1, changed by ``fields``."""
    sent = {"component": "web1", "resource": None, "connector_name": "agent-7"} | fields
    return check_event(connector="agent", **sent)


def seen_at(defn: dict, created: float, *times: float) -> dict:
    state = new_state(created)
    for t in times:
        state, _ = evaluate(defn, observe(defn, state, agent_event(), t), t)
    return state


def fields_of(errors: list) -> list[str]:
    return [error.field for error in errors]


# Tracking and its edges.


def test_exactly_at_interval_is_on_time_and_just_after_is_late() -> None:
    defn = make_def()
    state = seen_at(defn, T0, T0 + 10)
    assert evaluate(defn, state, T0 + 70) == (state, None)
    late, event = evaluate(defn, state, T0 + 70.001)
    assert late["late"] is True
    assert event is not None and event["state"] == events.STATE_CRITICAL


def test_never_seen_heartbeat_is_late_one_interval_after_creation() -> None:
    defn = make_def()
    state = new_state(T0)
    assert evaluate(defn, state, T0 + 60) == (state, None)
    state, event = evaluate(defn, state, T0 + 61)
    assert state == {"last_seen": None, "late": True, "since": T0}
    assert event is not None
    assert "since the heartbeat was created 61s ago" in event["output"]


def test_transitions_raise_one_critical_then_one_ok_and_nothing_on_repeats() -> None:
    defn = make_def()
    state = seen_at(defn, T0, T0)
    raised = []
    for t in (T0 + 30, T0 + 61, T0 + 100, T0 + 500):
        state, event = evaluate(defn, state, t)
        raised.append(event)
    assert [e and e["state"] for e in raised] == [None, events.STATE_CRITICAL, None, None]
    assert "no event 61s ago, expected every 60s" in raised[1]["output"]

    state = observe(defn, state, agent_event(), T0 + 501)
    state, back = evaluate(defn, state, T0 + 501)
    assert back is not None and back["state"] == events.STATE_INFO
    assert state["late"] is False and state["last_seen"] == T0 + 501
    state = observe(defn, state, agent_event(), T0 + 502)
    assert evaluate(defn, state, T0 + 503) == (state, None)


def test_raised_events_are_valid_checks_on_the_heartbeat_entity() -> None:
    defn = make_def(name="agent 7 alive", component="heartbeats.prod")
    late_state, late = evaluate(defn, new_state(T0), T0 + 61)
    _, ok = evaluate(defn, observe(defn, late_state, agent_event(), T0 + 62), T0 + 62)
    for event in (late, ok):
        assert event is not None
        assert events.validate(event, T0 + 62) == []
        normalized, _ = events.normalize(event, T0 + 62)
        assert normalized is not None
        assert normalized["entity_id"] == "agent 7 alive/heartbeats.prod"
        assert normalized["routing_key"] == (
            "canopsis.heartbeat.check.resource.heartbeats.prod.agent 7 alive"
        )
        assert event["state_type"] == events.STATE_TYPE_HARD
        assert event["event_type"] == "check"


def test_default_component_and_resource_from_id() -> None:
    _, event = evaluate(make_def(), new_state(T0), T0 + 61)
    assert event is not None
    assert (event["component"], event["resource"]) == ("heartbeats", "agent-7")
    assert event["timestamp"] == T0 + 61


def test_custom_outputs() -> None:
    defn = make_def(output_late="agent-7 is silent", output_ok="agent-7 is back")
    state, late = evaluate(defn, new_state(T0), T0 + 61)
    _, ok = evaluate(defn, observe(defn, state, agent_event(), T0 + 62), T0 + 62)
    assert late is not None and late["output"] == "agent-7 is silent"
    assert ok is not None and ok["output"] == "agent-7 is back"


def test_inputs_are_not_changed() -> None:
    defn = make_def()
    state = new_state(T0)
    observed = observe(defn, state, agent_event(), T0 + 1)
    evaluate(defn, state, T0 + 100)
    assert state == new_state(T0)
    assert observed["last_seen"] == T0 + 1


# Matching.


def test_only_matching_events_are_observed() -> None:
    defn = make_def(match={"connector_name": "agent-7", "state": {"$lte": 1}})
    state = new_state(T0)
    assert observe(defn, state, agent_event(connector_name="agent-8"), T0 + 1) is state
    assert observe(defn, state, agent_event(state=3), T0 + 1) is state
    assert observe(defn, state, agent_event(state=1), T0 + 1)["last_seen"] == T0 + 1


def test_match_language_operators() -> None:
    defn = make_def(
        match={"$or": [{"component": {"$regex": "^web"}}, {"tags": "agent"}]},
    )
    assert matches(defn, agent_event())
    assert matches(defn, agent_event(component="db1", tags=["prod", "agent"]))
    assert not matches(defn, agent_event(component="db1"))
    assert matches(make_def(match={}), agent_event())


# Self-announced heartbeats.


def announce(**fields: object) -> dict:
    return agent_event(event_type="heartbeat", interval=30) | fields


def test_announced_heartbeat_raises_on_its_own_entity_after_its_interval() -> None:
    heartbeat = announce(source_type="resource", resource="agent")
    defn, errors = announced(heartbeat)
    assert errors == [] and defn is not None
    assert defn["_id"] == "agent/web1" and defn["interval"] == 30
    assert validate(defn) == []

    state = observe(defn, new_state(T0), heartbeat, T0)
    assert observe(defn, state, agent_event(source_type="resource", resource="agent"), T0 + 5) == (
        state
    )
    assert evaluate(defn, state, T0 + 30) == (state, None)
    state, event = evaluate(defn, state, T0 + 45)
    assert event is not None
    assert {k: event[k] for k in ("connector", "connector_name", "component", "resource")} == {
        "connector": "agent",
        "connector_name": "agent-7",
        "component": "web1",
        "resource": "agent",
    }
    assert event["source_type"] == "resource" and event["state"] == events.STATE_CRITICAL
    assert "no event 45s ago, expected every 30s" in event["output"]
    assert events.validate(event, T0 + 45) == []

    state = observe(defn, state, heartbeat, T0 + 46)
    _, back = evaluate(defn, state, T0 + 46)
    assert back is not None and back["state"] == events.STATE_INFO
    assert events.entity_id(back) == "agent/web1"


def test_announced_component_heartbeat_ignores_a_resource_field() -> None:
    defn, errors = announced(announce(resource="ignored", interval=12.5))
    assert errors == [] and defn is not None
    assert defn["_id"] == "web1" and "resource" not in defn["entity"]
    assert matches(defn, announce())
    assert not matches(defn, agent_event())
    _, event = evaluate(defn, new_state(T0), T0 + 12.75)
    assert event is not None and events.validate(event, T0 + 13) == []
    assert "expected every 12.5s" in event["output"]


@pytest.mark.parametrize("event", [agent_event(), agent_event(event_type="heartbeat")])
def test_events_that_announce_nothing(event: dict) -> None:
    assert announced(event) == (None, [])


@pytest.mark.parametrize("interval", [0, -5, "60", True, None, float("nan")])
def test_announced_bad_interval(interval: object) -> None:
    defn, errors = announced(announce(interval=interval))
    assert defn is None and fields_of(errors) == ["interval"]


# Validation.


def test_valid_definitions() -> None:
    assert validate(make_def()) == []
    full = make_def(
        name="agent 7",
        description="",
        component="hb",
        output_late="late",
        output_ok="ok",
        parent="relay",
        interval=0.5,
        author="root",
        created=T0,
        updated=T0,
    )
    assert validate(full) == []


def test_every_problem_by_field() -> None:
    errors = validate(
        {
            "name": "",
            "match": {"state": {"$gt": "x"}},
            "interval": 0,
            "component": 3,
            "output_ok": None,
            "parent": "",
            "brake": True,
        }
    )
    assert sorted(fields_of(errors)) == sorted(
        ["brake", "name", "component", "parent", "_id", "output_ok", "match.state.$gt", "interval"]
    )


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], ""),
        (make_def(match=None), "match"),
        ({"_id": "x", "interval": 5}, "match"),
        ({"_id": "x", "match": {}}, "interval"),
        (make_def(interval="60"), "interval"),
        (make_def(interval=float("inf")), "interval"),
        (make_def(parent="agent-7"), "parent"),
        (make_def(name="bad\nname"), "name"),
        (make_def(component="a/b"), "component"),
        (make_def(name="x" * 300), "name"),
        (make_def(entity={"connector": "a"}, component="c"), "component"),
        (make_def(entity="web1"), "entity"),
        (make_def(entity={"connector": "a", "color": "red"}), "entity.color"),
    ],
)
def test_one_problem(doc: object, field: str) -> None:
    assert fields_of(validate(doc)) == [field]


def test_entity_problems_are_named_inside_entity() -> None:
    entity = {"connector": "a.b", "connector_name": "n", "source_type": "resource"}
    errors = validate(make_def(entity=entity | {"component": "web1"}))
    assert sorted(fields_of(errors)) == ["entity.connector", "entity.resource"]


# Trees and sets of definitions.


def test_a_tree_with_parents_slower_than_children() -> None:
    defs = [
        make_def(_id="root", interval=300),
        make_def(_id="relay", interval=120, parent="root"),
        make_def(_id="leaf-1", interval=60, parent="relay"),
        make_def(_id="leaf-2", interval=30, parent="relay"),
    ]
    assert check_tree(defs) == []


@pytest.mark.parametrize("parent_interval", [60, 30])
def test_parent_not_slower_than_child_names_both(parent_interval: int) -> None:
    defs = [
        make_def(_id="relay", interval=parent_interval),
        make_def(_id="leaf", interval=60, parent="relay"),
    ]
    (error,) = check_tree(defs)
    assert error.field == "leaf.parent"
    assert "'relay'" in error.reason and "'leaf'" in error.reason


def test_unknown_parent_duplicates_and_cycles() -> None:
    defs = [
        make_def(_id="a", interval=10, parent="b"),
        make_def(_id="b", interval=20, parent="a"),
        make_def(_id="c", interval=5, parent="nowhere"),
        make_def(_id="c", interval=5),
        make_def(_id="d", name="a"),
    ]
    errors = check_tree(defs)
    assert sorted(fields_of(errors)) == [
        "a.parent",
        "b.parent",
        "b.parent",
        "c._id",
        "c.parent",
        "d.name",
    ]
    cycles = [error.field for error in errors if "cycle" in error.reason]
    assert sorted(cycles) == ["a.parent", "b.parent"]
