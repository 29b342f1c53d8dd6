import copy

import pytest

from canopsis.domain.event import (
    ACTION_TYPES,
    EVENT_TYPES,
    MAX_FUTURE,
    SOURCE_TYPES,
    STATE_NAMES,
    FieldError,
    entity_id,
    normalize,
    routing_key,
    validate,
)

NOW = 1_700_000_000.0
DROP = object()


def resource_check(**changes) -> dict:
    event = {
        "connector": "nagios",
        "connector_name": "nagios-paris",
        "event_type": "check",
        "source_type": "resource",
        "component": "web1.example.com",
        "resource": "Disk /var",
        "state": 2,
        "output": "DISK CRITICAL - free space: /var 12 MB (1%)",
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not DROP}


def component_event(**changes) -> dict:
    return resource_check(**{"source_type": "component", "resource": DROP, **changes})


def errors(event: object, now: float = NOW) -> dict[str, str]:
    found = validate(event, now)
    assert all(isinstance(error, FieldError) for error in found)
    return {error.field: error.reason for error in found}


def reason(event: object, field: str) -> str:
    found = errors(event)
    assert field in found, found
    return found[field]


def test_constants():
    assert EVENT_TYPES == (
        "check",
        "perf",
        "log",
        "ack",
        "ackremove",
        "cancel",
        "uncancel",
        "snooze",
        "declareticket",
        "assocticket",
        "changestate",
        "comment",
        "heartbeat",
        "pbehavior",
    )
    assert set(ACTION_TYPES) < set(EVENT_TYPES)
    assert {"check", "perf", "log", "heartbeat"}.isdisjoint(ACTION_TYPES)
    assert SOURCE_TYPES == ("component", "resource")
    assert STATE_NAMES == {0: "info", 1: "minor", 2: "major", 3: "critical"}


def test_valid_events_have_no_error():
    assert validate(resource_check(), NOW) == []
    assert validate(component_event(), NOW) == []


@pytest.mark.parametrize("raw", [None, [], "check", 3, ["event"], True])
def test_an_event_must_be_an_object(raw):
    assert validate(raw, NOW) == [FieldError("", "event must be a JSON object")]
    assert normalize(raw, NOW) == (None, [FieldError("", "event must be a JSON object")])


@pytest.mark.parametrize(
    "field", ["connector", "connector_name", "event_type", "source_type", "component", "resource"]
)
def test_required_fields(field):
    assert errors(resource_check(**{field: DROP})) == {field: "is required"}


def test_resource_is_not_required_for_a_component_event():
    assert errors(component_event()) == {}
    assert errors(component_event(resource=42)) == {}


@pytest.mark.parametrize(
    "field", ["connector", "connector_name", "event_type", "source_type", "component", "resource"]
)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "must not be empty or blank"),
        ("   ", "must not be empty or blank"),
        ("\t\n", "must not be empty or blank"),
        (None, "must be a string, got null"),
        (12, "must be a string, got a number"),
        (True, "must be a string, got a boolean"),
        (["a"], "must be a string, got a list"),
        ({"a": 1}, "must be a string, got an object"),
    ],
)
def test_identifiers_are_non_blank_strings(field, value, expected):
    assert reason(resource_check(**{field: value}), field) == expected


def test_unknown_event_type_lists_the_allowed_ones():
    assert errors(resource_check(event_type="alert")) == {
        "event_type": "unknown event type 'alert', expected one of: check, perf, log, ack, "
        "ackremove, cancel, uncancel, snooze, declareticket, assocticket, changestate, comment, "
        "heartbeat, pbehavior"
    }


def test_event_types_are_case_sensitive():
    assert "unknown event type 'Check'" in reason(resource_check(event_type="Check"), "event_type")


def test_unknown_source_type_lists_the_allowed_ones():
    assert errors(resource_check(source_type="host")) == {
        "source_type": "unknown source type 'host', expected one of: component, resource"
    }


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_is_accepted(event_type):
    assert errors(resource_check(event_type=event_type, duration=60)) == {}


@pytest.mark.parametrize("field", ["connector", "connector_name"])
def test_connector_fields_cannot_hold_a_dot(field):
    assert reason(resource_check(**{field: "nagios.paris"}), field) == (
        "must not hold '.', which separates the words of the routing key"
    )


def test_component_cannot_hold_a_slash():
    assert errors(resource_check(component="web1/prod")) == {
        "component": "must not hold '/', which separates resource and component in the entity id"
    }


def test_dots_and_slashes_allowed_where_they_do_not_break_ids():
    event = resource_check(component="db-1.paris.example.com", resource="disk /var/lib/mysql")
    assert errors(event) == {}


@pytest.mark.parametrize("field", ["connector", "connector_name", "component", "resource"])
@pytest.mark.parametrize("char", ["\n", "\r", "\0", "\t", "\x1b", "\x7f", "\x85"])
def test_identifiers_cannot_hold_control_characters(field, char):
    event = resource_check(**{field: f"web{char}1"})
    assert errors(event) == {field: "must not hold control characters"}


def test_identifiers_may_hold_spaces_and_unicode():
    assert errors(resource_check(component="serveur été", resource="CPU load #1 *")) == {}


def test_routing_key_must_fit_amqp():
    assert len(routing_key(resource_check(component="c" * 150, resource="r" * 69))) == 255
    assert errors(resource_check(component="c" * 150, resource="r" * 69)) == {}
    assert errors(resource_check(component="c" * 150, resource="r" * 70)) == {
        "routing_key": "connector, connector_name, component and resource are too long: "
        "the routing key would be 256 bytes, AMQP allows 255"
    }


def test_routing_key_length_counts_bytes():
    assert "would be 292 bytes" in reason(resource_check(resource="é" * 120), "routing_key")


@pytest.mark.parametrize("event_type", ["check", "changestate"])
def test_state_is_required_for_check_and_changestate(event_type):
    assert errors(resource_check(event_type=event_type, state=DROP)) == {
        "state": f"is required for a {event_type} event"
    }


@pytest.mark.parametrize("event_type", ["perf", "log", "ack", "comment", "heartbeat"])
def test_state_is_optional_for_other_events(event_type):
    assert errors(resource_check(event_type=event_type, state=DROP)) == {}


@pytest.mark.parametrize("state", [0, 1, 2, 3, 2.0])
def test_valid_states(state):
    assert errors(resource_check(state=state)) == {}


@pytest.mark.parametrize(
    ("state", "got"),
    [
        (4, "4"),
        (-1, "-1"),
        (2.5, "2.5"),
        ("2", "'2'"),
        ("critical", "'critical'"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([2], "a list"),
    ],
)
def test_invalid_states(state, got):
    assert errors(resource_check(state=state)) == {
        "state": f"must be 0 (info), 1 (minor), 2 (major) or 3 (critical), got {got}"
    }


def test_state_is_checked_on_any_event_type():
    assert "must be 0 (info)" in reason(resource_check(event_type="ack", state=9), "state")


@pytest.mark.parametrize("state_type", [0, 1, 1.0])
def test_valid_state_types(state_type):
    assert errors(resource_check(state_type=state_type)) == {}


@pytest.mark.parametrize(("state_type", "got"), [(2, "2"), (True, "true"), ("hard", "'hard'")])
def test_invalid_state_types(state_type, got):
    assert errors(resource_check(state_type=state_type)) == {
        "state_type": f"must be 0 (soft) or 1 (hard), got {got}"
    }


@pytest.mark.parametrize("timestamp", [1, NOW, int(NOW) - 3600, NOW + MAX_FUTURE, 1.5e9])
def test_valid_timestamps(timestamp):
    assert errors(resource_check(timestamp=timestamp)) == {}


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1700000000", "must be a number of seconds since the epoch, got '1700000000'"),
        (True, "must be a number of seconds since the epoch, got true"),
        (None, "must be a number of seconds since the epoch, got null"),
        (float("nan"), "must be a number of seconds since the epoch, got nan"),
        (float("inf"), "must be a number of seconds since the epoch, got inf"),
        (0, "must be positive, got 0"),
        (-5, "must be positive, got -5"),
        (
            NOW + MAX_FUTURE + 1,
            "1700086401.0 is more than 86400 seconds in the future "
            "(seconds since the epoch are expected, not milliseconds)",
        ),
        (
            1_700_000_000_000,
            "1700000000000 is more than 86400 seconds in the future "
            "(seconds since the epoch are expected, not milliseconds)",
        ),
    ],
)
def test_invalid_timestamps(timestamp, expected):
    assert errors(resource_check(timestamp=timestamp)) == {"timestamp": expected}


def test_future_limit_follows_now():
    event = resource_check(timestamp=NOW + 2 * MAX_FUTURE)
    assert "timestamp" in errors(event, now=NOW)
    assert errors(event, now=NOW + MAX_FUTURE) == {}


def test_validate_defaults_now_to_the_clock():
    assert validate(resource_check(timestamp=NOW)) == []


@pytest.mark.parametrize("tags", [[], {}, ["prod", "paris"], {"env": "prod", "team": ""}])
def test_valid_tags(tags):
    assert errors(resource_check(tags=tags)) == {}


@pytest.mark.parametrize(
    ("tags", "field", "expected"),
    [
        ("prod", "tags", "must be an object of strings or a list of strings, got a string"),
        (42, "tags", "must be an object of strings or a list of strings, got a number"),
        (["prod", 3], "tags[1]", "must be a string without a leading '$' or a NUL"),
        (["prod", " "], "tags[1]", "must not be empty or blank"),
        (["$where"], "tags[0]", "must be a string without a leading '$' or a NUL"),
        ({"env": 3}, "tags.env", "must be a string, got a number"),
        ({"env": None}, "tags.env", "must be a string, got null"),
        ({"": "x"}, "tags", "tag name '' must not be empty or blank"),
        ({"$gt": "x"}, "tags", "tag name '$gt' must be a string without a leading '$' or a NUL"),
    ],
)
def test_invalid_tags(tags, field, expected):
    assert errors(resource_check(tags=tags)) == {field: expected}


@pytest.mark.parametrize("field", ["output", "long_output"])
def test_outputs_are_strings_and_may_be_empty(field):
    assert errors(resource_check(**{field: ""})) == {}
    assert errors(resource_check(**{field: 3})) == {field: "must be a string, got a number"}
    assert errors(resource_check(**{field: None})) == {field: "must be a string, got null"}


@pytest.mark.parametrize("field", ["author", "ticket"])
def test_author_and_ticket_are_non_blank_strings(field):
    assert errors(resource_check(**{field: "jdoe"})) == {}
    assert errors(resource_check(**{field: " "})) == {field: "must not be empty or blank"}
    assert errors(resource_check(**{field: 7})) == {field: "must be a string, got a number"}


def test_snooze_needs_a_duration():
    assert errors(resource_check(event_type="snooze")) == {
        "duration": "is required for a snooze event"
    }
    assert errors(resource_check(event_type="snooze", duration=3600)) == {}
    assert errors(resource_check(event_type="snooze", duration=3600.0)) == {}


@pytest.mark.parametrize(
    ("duration", "got"),
    [(0, "0"), (-60, "-60"), (1.5, "1.5"), ("60", "'60'"), (True, "true"), (None, "null")],
)
def test_invalid_durations(duration, got):
    assert errors(resource_check(event_type="snooze", duration=duration)) == {
        "duration": f"must be a positive integer number of seconds, got {got}"
    }


def test_perf_data_errors_give_the_parser_reason():
    assert errors(resource_check(perf_data="load1=0.05;5;10 load5=abc")) == {
        "perf_data": "metric 2 'load5' at character 17: value 'abc' is not a number"
    }
    assert errors(resource_check(perf_data="time=1h")) == {
        "perf_data": "metric 1 'time' at character 1: unknown unit 'h', "
        "expected one of: s, ms, us, %, B, KB, MB, GB, TB, c"
    }
    assert errors(resource_check(perf_data=["a=1"])) == {
        "perf_data": "must be a string, got a list"
    }


@pytest.mark.parametrize("perf_data", ["", "load1=0.05;5;10;0;", "'C:\\ used'=1GB;2;3;0;4"])
def test_valid_perf_data(perf_data):
    assert errors(resource_check(perf_data=perf_data)) == {}


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [{"metric": "cpu", "value": 12}],
        [{"metric": "cpu", "value": 12.5, "unit": "%", "warn": 80, "crit": "@90:100"}],
        [{"metric": "cpu", "value": None, "min": 0, "max": 100, "type": "GAUGE"}],
    ],
)
def test_valid_perf_data_arrays(entries):
    assert errors(resource_check(perf_data_array=entries)) == {}


@pytest.mark.parametrize(
    ("entries", "field", "expected"),
    [
        ("cpu=1", "perf_data_array", "must be a list of objects, got a string"),
        (["cpu"], "perf_data_array[0]", "must be an object, got a string"),
        ([{"value": 1}], "perf_data_array[0].metric", "is required"),
        ([{"metric": "", "value": 1}], "perf_data_array[0].metric", "must not be empty or blank"),
        (
            [{"metric": 5, "value": 1}],
            "perf_data_array[0].metric",
            "must be a string, got a number",
        ),
        ([{"metric": "cpu"}], "perf_data_array[0].value", "is required"),
        (
            [{"metric": "a", "value": 1}, {"metric": "b", "value": "12"}],
            "perf_data_array[1].value",
            "must be a number or null, got '12'",
        ),
        (
            [{"metric": "cpu", "value": True}],
            "perf_data_array[0].value",
            "must be a number or null, got true",
        ),
        (
            [{"metric": "cpu", "value": float("inf")}],
            "perf_data_array[0].value",
            "must be a number or null, got inf",
        ),
        (
            [{"metric": "cpu", "value": 1, "unit": 5}],
            "perf_data_array[0].unit",
            "must be a string or null, got 5",
        ),
        (
            [{"metric": "cpu", "value": 1, "warn": [80]}],
            "perf_data_array[0].warn",
            "must be a number or a string or null, got a list",
        ),
        (
            [{"metric": "cpu", "value": 1, "max": "100"}],
            "perf_data_array[0].max",
            "must be a number or null, got '100'",
        ),
    ],
)
def test_invalid_perf_data_arrays(entries, field, expected):
    assert errors(resource_check(perf_data_array=entries)) == {field: expected}


@pytest.mark.parametrize("key", ["$where", "$set", "a\0b"])
def test_field_names_that_storage_refuses(key):
    assert errors(resource_check(**{key: 1})) == {
        key: "a field name must be a string without a leading '$' or a NUL"
    }


def test_every_problem_is_reported_at_once():
    event = {
        "connector": "",
        "event_type": "snooze",
        "source_type": "resource",
        "component": "a/b",
        "timestamp": "now",
        "tags": "x",
    }
    assert set(errors(event)) == {
        "connector",
        "connector_name",
        "resource",
        "component",
        "duration",
        "timestamp",
        "tags",
    }


def test_field_error_reads_as_one_line():
    assert str(FieldError("state", "is required for a check event")) == (
        "state: is required for a check event"
    )
    assert str(FieldError("", "event must be a JSON object")) == "event must be a JSON object"


def test_routing_key_and_entity_id_of_a_resource():
    event = resource_check()
    assert routing_key(event) == "nagios.nagios-paris.check.resource.web1.example.com.Disk /var"
    assert entity_id(event) == "Disk %2Fvar/web1.example.com"


def test_routing_key_and_entity_id_of_a_component():
    event = component_event(resource="ignored")
    assert routing_key(event) == "nagios.nagios-paris.check.component.web1.example.com"
    assert entity_id(event) == "web1.example.com"


def test_normalize_refuses_an_invalid_event():
    assert normalize(resource_check(state=7, component=""), NOW) == (
        None,
        [
            FieldError("component", "must not be empty or blank"),
            FieldError("state", "must be 0 (info), 1 (minor), 2 (major) or 3 (critical), got 7"),
        ],
    )


def test_normalize_fills_defaults_and_computed_fields():
    event, found = normalize(resource_check(), NOW)
    assert found == []
    assert event == {
        **resource_check(),
        "timestamp": NOW,
        "state_type": 1,
        "routing_key": "nagios.nagios-paris.check.resource.web1.example.com.Disk /var",
        "entity_id": "Disk %2Fvar/web1.example.com",
    }


def test_normalize_keeps_what_the_sender_gave():
    event, _ = normalize(resource_check(timestamp=1_699_999_000, state_type=0), NOW)
    assert event["timestamp"] == 1_699_999_000
    assert event["state_type"] == 0


def test_normalize_never_changes_its_input():
    raw = resource_check(
        perf_data="a=1",
        perf_data_array=[{"metric": "b", "value": 2}],
        tags=["prod"],
        state=2.0,
        routing_key="spoofed",
    )
    before = copy.deepcopy(raw)
    event, _ = normalize(raw, NOW)
    assert raw == before
    assert event is not raw
    assert event["perf_data_array"] is not raw["perf_data_array"]


@pytest.mark.parametrize("event_type", ["perf", "log", "heartbeat"])
def test_state_defaults_to_info(event_type):
    event, _ = normalize(resource_check(event_type=event_type, state=DROP), NOW)
    assert event["state"] == 0


@pytest.mark.parametrize("event_type", ["ack", "ackremove", "cancel", "uncancel", "comment"])
def test_operator_actions_get_no_default_state(event_type):
    event, _ = normalize(resource_check(event_type=event_type, state=DROP, author="jdoe"), NOW)
    assert "state" not in event


def test_integral_floats_are_stored_as_integers():
    event, _ = normalize(
        resource_check(event_type="snooze", state=2.0, state_type=0.0, duration=600.0), NOW
    )
    assert (event["state"], event["state_type"], event["duration"]) == (2, 0, 600)
    assert all(type(event[key]) is int for key in ("state", "state_type", "duration"))


def test_a_component_event_loses_its_resource():
    event, _ = normalize(component_event(resource="Disk /var"), NOW)
    assert "resource" not in event
    assert event["entity_id"] == "web1.example.com"
    assert event["routing_key"] == "nagios.nagios-paris.check.component.web1.example.com"


def test_routing_key_and_entity_id_from_the_sender_are_replaced():
    event, _ = normalize(resource_check(routing_key="a.b.c", entity_id="other"), NOW)
    assert event["routing_key"] == "nagios.nagios-paris.check.resource.web1.example.com.Disk /var"
    assert event["entity_id"] == "Disk %2Fvar/web1.example.com"


def test_a_nested_key_holding_a_nul_is_refused_with_its_path():
    event = resource_check(infos={"ok": [{"a\0b": 1}]}, perf_data_array=[])
    assert errors(event) == {"infos.ok.0.a\0b": "a field name cannot hold a NUL character"}


def test_an_integer_beyond_64_bits_is_refused_with_its_path():
    event = resource_check(infos={"ok": [2**64]}, perf_data_array=[])
    assert errors(event) == {"infos.ok.0": f"an integer must lie within {-(2**63)} and {2**63 - 1}"}


def test_a_senders_pbehavior_is_dropped():
    forged = {"id": "x", "type": "maintenance"}
    event, _ = normalize(resource_check(pbehavior=forged), NOW)
    assert "pbehavior" not in event


def test_perf_data_is_parsed_into_perf_data_array():
    perf_data = "rta=0.053000ms;100.000000;500.000000;0.000000 pl=0%;20;60;0"
    event, _ = normalize(resource_check(perf_data=perf_data), NOW)
    assert event["perf_data"] == perf_data
    assert event["perf_data_array"] == [
        {
            "metric": "rta",
            "value": 0.053,
            "unit": "ms",
            "warn": 100.0,
            "crit": 500.0,
            "min": 0.0,
            "max": None,
        },
        {
            "metric": "pl",
            "value": 0.0,
            "unit": "%",
            "warn": 20.0,
            "crit": 60.0,
            "min": 0.0,
            "max": None,
        },
    ]


def test_parsed_metrics_are_appended_to_the_given_perf_data_array():
    given = [{"metric": "cpu", "value": 12, "type": "GAUGE"}]
    event, _ = normalize(resource_check(perf_data="load1=0.5", perf_data_array=given), NOW)
    assert [entry["metric"] for entry in event["perf_data_array"]] == ["cpu", "load1"]
    assert event["perf_data_array"][0] == {"metric": "cpu", "value": 12, "type": "GAUGE"}


def test_perf_data_array_without_perf_data_is_kept():
    given = [{"metric": "cpu", "value": 12}]
    event, _ = normalize(resource_check(perf_data_array=given), NOW)
    assert event["perf_data_array"] == given


def test_no_perf_data_array_without_perf_data():
    event, _ = normalize(resource_check(), NOW)
    assert "perf_data_array" not in event


def test_tags_become_one_list_without_duplicates():
    event, _ = normalize(resource_check(tags=["prod", "paris", "prod"]), NOW)
    assert event["tags"] == ["prod", "paris"]
    event, _ = normalize(resource_check(tags={"env": "prod", "critical": ""}), NOW)
    assert event["tags"] == ["env:prod", "critical"]


def test_extra_fields_are_kept():
    event, _ = normalize(resource_check(hostgroup="web", check_attempt=3, notes={"a": [1]}), NOW)
    assert (event["hostgroup"], event["check_attempt"], event["notes"]) == ("web", 3, {"a": [1]})


@pytest.mark.parametrize(
    "raw",
    [
        resource_check(perf_data="a=1;2;3 'b c'=U", tags=["x"], state=1.0),
        component_event(resource="r", event_type="snooze", duration=60, state=DROP),
        component_event(event_type="ack", state=DROP, author="jdoe", output="on it"),
    ],
)
def test_a_normalized_event_is_valid_and_normalizing_again_changes_nothing(raw):
    event, _ = normalize(raw, NOW)
    assert validate(event, NOW) == []
    assert normalize(event, NOW + 60) == (event, [])
