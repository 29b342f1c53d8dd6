import logging

from canopsis.engines.event_filter import EventFilter
from canopsis.runtime.engine import Routed, check_options
from tests.helpers import check_event, normalized


def event(resource: str = "disk1", **extra) -> dict:
    raw = check_event("srv1", resource, connector_name="paris", state=2, **extra)
    return normalized(raw, 1_700_000_000.0, f"id-{resource}")


def rule(rule_id: str, match: dict, *actions: dict, **fields) -> dict:
    return {"_id": rule_id, "match": match, "actions": list(actions), **fields}


def engine(*rules: dict) -> EventFilter:
    filter_ = EventFilter("event_filter", check_options("test", {}, EventFilter.options_spec), None)
    filter_.use_rules(rules)
    return filter_


def test_without_rules_an_event_passes_unchanged():
    e = event()
    assert engine().work(e) == e


def test_a_drop_rule_drops_the_event():
    filter_ = engine(rule("no-tmp", {"resource": "tmp"}, {"type": "drop"}))
    assert filter_.work(event("tmp")) is None
    assert filter_.work(event("disk1")) == event("disk1")


def test_a_set_rule_changes_a_field_and_the_input_is_left_alone():
    filter_ = engine(rule("site", {}, {"type": "set", "field": "site", "value": "paris"}))
    original = event()
    assert filter_.work(original) == {**event(), "site": "paris"}
    assert original == event()


def test_a_route_rule_sends_the_edited_event_to_its_engine():
    filter_ = engine(
        rule(
            "to-ticketing",
            {"state": 2},
            {"type": "add_tag", "value": "ticket"},
            {"type": "route", "engine": "ticketing"},
        )
    )
    assert filter_.work(event()) == Routed("ticketing", {**event(), "tags": ["ticket"]})


def test_a_broken_rule_is_logged_with_its_reason_and_the_others_apply(caplog):
    with caplog.at_level(logging.WARNING):
        filter_ = engine(
            rule("broken", {}, {"type": "explode"}),
            rule("site", {}, {"type": "set", "field": "site", "value": "paris"}),
        )
    assert filter_.work(event())["site"] == "paris"
    [record] = caplog.records
    assert "rule broken skipped" in record.getMessage()
    assert "actions.0.type: expected one of" in record.getMessage()


def test_rules_run_in_priority_order():
    filter_ = engine(
        rule("b", {}, {"type": "set", "field": "site", "value": "lyon"}, priority=1),
        rule("a", {}, {"type": "set", "field": "site", "value": "paris"}, priority=2),
    )
    assert filter_.work(event())["site"] == "paris"
