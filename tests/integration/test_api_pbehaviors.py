"""The pbehaviors webservice and the alarm filters it feeds (in process, on the embedded
MongoDB)."""

import time
from datetime import UTC, datetime

import pytest

from tests.conftest import author_of, error

pytestmark = pytest.mark.integration

PBEHAVIORS = "/api/v2/pbehaviors"
HOUR = 3600.0


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def weekly(**more) -> dict:
    """Saturdays 04:00 to 05:00 in Paris."""
    return {
        "name": "backup",
        "type": "maintenance",
        "reason": "weekly backup",
        "filter": {"component": "db1"},
        "start": utc(2026, 3, 21, 3),
        "end": utc(2026, 3, 21, 4),
        "rrule": "FREQ=WEEKLY;BYDAY=SA",
        "tz": "Europe/Paris",
        **more,
    }


def test_pbehaviors_are_created_read_replaced_and_deleted(api):
    admin, viewer = api.as_role("admin"), api.as_role("viewer")
    named = api.simulate_post(PBEHAVIORS, json=weekly(), headers=admin)
    assert named.status_code == 201, named.text
    assert len(named.json["_id"]) == 32 and named.json["author"] == author_of(admin)
    given = api.simulate_post(PBEHAVIORS, json=weekly(_id="backup"), headers=admin)
    assert given.status_code == 201 and given.json["_id"] == "backup"
    again = api.simulate_post(PBEHAVIORS, json=weekly(_id="backup"), headers=admin)
    assert again.status_code == 409
    listed = api.simulate_get(PBEHAVIORS, headers=viewer).json
    assert listed["total"] == 2 and "backup" in [p["_id"] for p in listed["items"]]

    replaced = api.simulate_put(f"{PBEHAVIORS}/backup", json=weekly(type="pause"), headers=admin)
    assert replaced.status_code == 200, replaced.text
    stored = api.db.pbehaviors.find_one({"_id": "backup"})
    assert stored["type"] == "pause" and stored["created"] == given.json["created"]
    assert api.simulate_get(f"{PBEHAVIORS}/backup", headers=viewer).json == stored

    operator = api.as_role("operator")
    refused = api.simulate_post(PBEHAVIORS, json=weekly(), headers=operator)
    assert refused.status_code == 403
    assert api.simulate_delete(f"{PBEHAVIORS}/backup", headers=admin).status_code == 204
    assert api.simulate_get(f"{PBEHAVIORS}/backup", headers=viewer).status_code == 404


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, {"rrule": "invalid 'FREQ': SOMETIMES"}),
        (
            {"rrule": "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30"},
            {"rrule": "no day of the calendar fits this rule: it can never occur"},
        ),
        ({"end": utc(2026, 3, 21, 2)}, {"end": "must be after start"}),
        ({"tz": "Europe/Atlantis"}, {"tz": "unknown time zone 'Europe/Atlantis'"}),
        ({"type": "holiday"}, {"type": "expected one of maintenance, pause, inactive"}),
        ({"filter": {"$where": "1"}}, {"filter.$where": "unknown operator"}),
        ({"author": "mallory"}, {"author": "set by canopsis, not by a client"}),
        ({"start": "tomorrow"}, {"start": "expected epoch seconds"}),
    ],
)
def test_a_bad_pbehavior_is_a_400_naming_the_field(api, change, fields):
    resp = api.simulate_post(PBEHAVIORS, json=weekly(**change), headers=api.as_role("admin"))
    assert resp.status_code == 400, resp.text
    found = error(resp)["fields"]
    for field, reason in fields.items():
        assert found[field].startswith(reason), found
    assert api.db.pbehaviors.count_documents({}) == 0


def test_periods_across_the_spring_daylight_saving_change(api):
    admin, viewer = api.as_role("admin"), api.as_role("viewer")
    exdate = utc(2026, 4, 4, 2)  # the Saturday after the change, skipped
    created = api.simulate_post(PBEHAVIORS, json=weekly(_id="pb", exdates=[exdate]), headers=admin)
    assert created.status_code == 201, created.text
    resp = api.simulate_get(
        f"{PBEHAVIORS}/pb/periods",
        params={"from": str(utc(2026, 3, 20)), "to": str(utc(2026, 4, 12))},
        headers=viewer,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json == {
        "items": [
            {"start": utc(2026, 3, 21, 3), "end": utc(2026, 3, 21, 4)},  # CET: 04:00 is 03:00Z
            {"start": utc(2026, 3, 28, 3), "end": utc(2026, 3, 28, 4)},
            {"start": utc(2026, 4, 11, 2), "end": utc(2026, 4, 11, 3)},  # CEST: 02:00Z
        ],
        "total": 3,
    }
    default = api.simulate_get(f"{PBEHAVIORS}/pb/periods", headers=viewer)
    assert default.status_code == 200 and default.json["total"] == 1  # the coming week's


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "soon"}, {"from": "expected a number"}),
        ({"from": "100", "to": "50"}, {"to": "must be after from"}),
        ({"from": "0", "to": str(401 * 86400)}, {"to": "at most 34560000 seconds (400 days)"}),
        ({"to": "inf"}, {"to": "expected a finite number"}),
        ({"at": "1"}, {"at": "unknown parameter"}),
    ],
)
def test_bad_period_windows_are_400(api, params, fields):
    api.db.pbehaviors.insert_one({**weekly(), "_id": "pb"})
    resp = api.simulate_get(
        f"{PBEHAVIORS}/pb/periods", params=params, headers=api.as_role("viewer")
    )
    assert resp.status_code == 400
    found = error(resp)["fields"]
    for field, reason in fields.items():
        assert found[field].startswith(reason), found


def test_periods_of_unknown_or_invalid_stored_pbehaviors(api):
    viewer = api.as_role("viewer")
    assert api.simulate_get(f"{PBEHAVIORS}/nope/periods", headers=viewer).status_code == 404
    api.db.pbehaviors.insert_one({**weekly(), "_id": "broken", "tz": "Nowhere/Else"})
    resp = api.simulate_get(f"{PBEHAVIORS}/broken/periods", headers=viewer)
    assert resp.status_code == 422 and error(resp)["fields"] == {
        "tz": "unknown time zone 'Nowhere/Else'"
    }


def alarm_doc(component: str, state: int, pbehavior: dict | None, **more) -> dict:
    now = time.time()
    return {
        "_id": f"{component}:k",
        "entity_id": component,
        "component": component,
        "resource": None,
        "connector": "nagios",
        "connector_name": "n1",
        "creation_date": now,
        "last_update_date": now,
        "resolved": None,
        "state": {"_t": "stateinc", "t": now, "a": "x", "m": "", "val": state},
        "status": {"_t": "statusinc", "t": now, "a": "x", "m": "", "val": 1},
        "ack": None,
        "snooze": None,
        "canceled": None,
        "steps": [],
        "pbehavior": pbehavior,
        **more,
    }


def test_in_maintenance_filter_and_problem_counts(api):
    viewer = api.as_role("viewer")
    inside = {"id": "pb", "name": "n", "type": "maintenance", "reason": "r", "author": "a"}
    api.db.alarms.insert_many(
        [
            alarm_doc("db1", 3, inside),
            alarm_doc("db2", 2, None),
            {k: v for k, v in alarm_doc("db3", 1, None).items() if k != "pbehavior"},
        ]
    )

    def listed(value: str) -> list[str]:
        resp = api.simulate_get("/api/v2/alarms", params={"in_maintenance": value}, headers=viewer)
        assert resp.status_code == 200, resp.text
        return sorted(a["component"] for a in resp.json["items"])

    assert listed("true") == ["db1"]
    assert listed("false") == ["db2", "db3"]
    counts = api.simulate_get("/api/v2/alarms/counts", headers=viewer).json
    assert (counts["total"], counts["problems"], counts["in_pbehavior"]) == (3, 2, 1)
    bad = api.simulate_get("/api/v2/alarms", params={"in_maintenance": "maybe"}, headers=viewer)
    assert bad.status_code == 400 and error(bad)["fields"] == {
        "in_maintenance": "expected true or false"
    }


def test_a_field_name_holding_a_nul_is_400_for_every_configuration_document(api):
    admin = api.as_role("admin")
    bodies = {
        PBEHAVIORS: weekly(filter={"infos": {"a\0b": 1}}),
        "/api/v2/heartbeats": {"_id": "h", "match": {"x\0": 1}, "interval": 5},
        "/api/v2/eventfilter/rules": {"_id": "r", "match": {"ok": [{"n\0": 1}]}, "actions": []},
    }
    for path, body in bodies.items():
        resp = api.simulate_post(path, json=body, headers=admin)
        assert resp.status_code == 400, (path, resp.text)
        assert "a field name cannot hold a NUL character" in error(resp)["fields"].values()
    assert api.simulate_get(PBEHAVIORS, headers=admin).status_code == 200


def test_an_integer_beyond_64_bits_is_400_for_every_configuration_document(api):
    admin = api.as_role("admin")
    huge = -21310899204330321084416  # found by the schema fuzzer: a 500 before
    bodies = {
        PBEHAVIORS: (weekly(filter={"infos": {"n": 2**63}}), "filter.infos.n"),
        "/api/v2/heartbeats": ({"_id": "h", "match": {"x": [huge]}, "interval": 5}, "match.x.0"),
        "/api/v2/eventfilter/rules": (
            {"_id": "r", "match": {}, "actions": [], "priority": huge},
            "priority",
        ),
    }
    for path, (body, field) in bodies.items():
        resp = api.simulate_post(path, json=body, headers=admin)
        assert resp.status_code == 400, (path, resp.text)
        assert error(resp)["fields"][field].startswith("an integer must lie within"), resp.text
    ok = {"_id": "r", "match": {}, "actions": [], "priority": 2**63 - 1}
    assert api.simulate_post("/api/v2/eventfilter/rules", json=ok, headers=admin).status_code == 201
