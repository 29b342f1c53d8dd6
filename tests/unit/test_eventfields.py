"""The event's JSON Schema and its checks come from one table: they agree."""

import jsonschema
import pytest

from canopsis.domain import event

NOW = 1_700_000_000.0
VALIDATOR = jsonschema.Draft202012Validator(event.SCHEMA)
CHECK = {
    "connector": "nagios",
    "connector_name": "nagios-paris",
    "event_type": "check",
    "source_type": "resource",
    "component": "web1.example.com",
    "resource": "disk /var",
    "state": 2,
    "output": "",
    "timestamp": NOW - 5,
    "tags": {"env": "prod", "team": ""},
    "perf_data": "used=12MB;80;90;0;100",
    "perf_data_array": [{"metric": "free", "value": None, "unit": "MB"}],
    "extra": {"kept": True},
}


def schema_fields(doc: dict) -> set[str]:
    found = set()
    for error in VALIDATOR.iter_errors(doc):
        path = list(error.absolute_path)
        if not path and error.validator == "required":
            path = [name for name in error.validator_value if name not in doc][:1]
        if not path and error.validator == "allOf":
            path = [sub.validator_value[0] for sub in error.context if sub.validator == "required"]
        found.add(str(path[0]) if path else "")
    return found


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(event.SCHEMA)
    assert set(event.SCHEMA["properties"]) == set(event.FIELDS)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"source_type": "component", "resource": "ignored"},
        {"event_type": "ack", "state": None, "author": "alice"},
        {"event_type": "snooze", "duration": 60, "state": None},
        {"tags": ["a", "b"], "state_type": 0},
    ],
)
def test_a_valid_event_is_valid_for_both(changes):
    doc = {key: value for key, value in {**CHECK, **changes}.items() if value is not None}
    assert event.validate(doc, NOW) == []
    assert schema_fields(doc) == set()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"connector": "a.b"}, "connector"),
        ({"connector_name": " "}, "connector_name"),
        ({"event_type": "explode"}, "event_type"),
        ({"source_type": "host"}, "source_type"),
        ({"component": "a/b"}, "component"),
        ({"resource": "bad\nname"}, "resource"),
        ({"resource": None}, "resource"),
        ({"state": 4}, "state"),
        ({"state": None}, "state"),
        ({"state_type": 2}, "state_type"),
        ({"event_type": "snooze", "duration": 0}, "duration"),
        ({"event_type": "snooze"}, "duration"),
        ({"timestamp": -1}, "timestamp"),
        ({"output": 3}, "output"),
        ({"author": ""}, "author"),
        ({"ticket": 7}, "ticket"),
        ({"tags": "prod"}, "tags"),
        ({"tags": ["$x"]}, "tags"),
        ({"perf_data": 5}, "perf_data"),
        ({"perf_data_array": [{"value": 1}]}, "perf_data_array"),
        ({"perf_data_array": [{"metric": "m", "value": "high"}]}, "perf_data_array"),
        ({"$set": 1}, "$set"),
    ],
)
def test_an_invalid_field_is_refused_by_both(changes, field):
    doc = {key: value for key, value in {**CHECK, **changes}.items() if value is not None}
    checked = {error.field.split(".")[0].split("[")[0] for error in event.validate(doc, NOW)}
    assert field in checked
    assert field in schema_fields(doc) or (field == "$set" and "" in schema_fields(doc))
