"""The entities and perfdata webservices (in process, on the embedded MongoDB)."""

import time

import pytest

from canopsis.domain import entityid
from canopsis.domain.metrics import write_points
from canopsis.engines.alerts import Alerts
from canopsis.runtime.engine import Retry
from tests.conftest import error
from tests.helpers import check_event, normalized
from tests.integration.test_alerts_engine import engine as alerts_engine

pytestmark = pytest.mark.integration


def connector(name="collectd", connector_type="collectd") -> dict:
    cid = entityid.connector_id(connector_type, name)
    return {
        "_id": cid,
        "type": "connector",
        "name": name,
        "connector_type": connector_type,
        "connector": cid,
        "enabled": True,
        "first_seen": 1000.0,
        "last_seen": 1000.0,
        "infos": {},
    }


def component(name, conn="collectd/collectd/connector", enabled=True) -> dict:
    return {
        "_id": name,
        "type": "component",
        "name": name,
        "connector": conn,
        "enabled": enabled,
        "first_seen": 1000.0,
        "last_seen": 1000.0,
        "infos": {},
    }


def resource(name, comp, conn="collectd/collectd/connector", enabled=True) -> dict:
    return {
        "_id": f"{name}/{comp}",
        "type": "resource",
        "name": name,
        "component": comp,
        "depends": [comp],
        "connector": conn,
        "enabled": enabled,
        "first_seen": 1000.0,
        "last_seen": 1000.0,
        "infos": {},
    }


@pytest.fixture
def context(api):
    api.db.entities.insert_many(
        [
            connector(),
            connector("nagios1", "nagios"),
            component("srv1"),
            component("srv2", conn="nagios/nagios1/connector", enabled=False),
            resource("cpu", "srv1"),
            resource("disk", "srv1", enabled=False),
            resource("cpu", "srv2", conn="nagios/nagios1/connector"),
            resource("a.b*c", "srv1"),
        ]
    )
    return api


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [item["_id"] for item in resp.json["items"]]


def test_entities_are_listed_sorted_by_id_and_filtered(context):
    viewer = context.as_role("viewer")

    def get(**params):
        return context.simulate_get("/api/v2/entities", params=params, headers=viewer)

    everything = get()
    assert everything.json["total"] == 8 and everything.json["page"] == 1
    assert ids(everything) == sorted(ids(everything))
    assert ids(get(type="component")) == ["srv1", "srv2"]
    assert [c["impact"] for c in get(type="component").json["items"]] == [
        ["a.b*c/srv1", "cpu/srv1", "disk/srv1"],
        ["cpu/srv2"],
    ]
    assert ids(get(type="resource", enabled="false")) == ["disk/srv1"]
    assert ids(get(enabled="false")) == ["disk/srv1", "srv2"]
    assert ids(get(component="srv1")) == ["a.b*c/srv1", "cpu/srv1", "disk/srv1"]
    assert ids(get(connector="nagios/nagios1/connector")) == [
        "cpu/srv2",
        "nagios/nagios1/connector",
        "srv2",
    ]
    assert ids(get(search="CPU")) == ["cpu/srv1", "cpu/srv2"]
    assert ids(get(search="b*c")) == ["a.b*c/srv1"]  # taken literally, not as a regex
    assert ids(get(search="(")) == []
    resource_doc = get(type="resource", component="srv1", search="cpu").json["items"][0]
    assert resource_doc["depends"] == ["srv1"] and resource_doc["impact"] == []


def test_entities_are_paged(context):
    viewer = context.as_role("viewer")
    all_ids = ids(context.simulate_get("/api/v2/entities", headers=viewer))
    pages = [
        context.simulate_get("/api/v2/entities", params={"page": p, "limit": 3}, headers=viewer)
        for p in (1, 2, 3)
    ]
    assert [p.json["total"] for p in pages] == [8] * 3
    assert [i for p in pages for i in ids(p)] == all_ids
    beyond = context.simulate_get(
        "/api/v2/entities", params={"page": 4, "limit": 3}, headers=viewer
    )
    assert beyond.status_code == 400
    assert beyond.json["error"]["fields"] == {"page": "beyond the last page, 3"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "host"}, "type"),
        ({"enabled": "maybe"}, "enabled"),
        ({"page": "0"}, "page"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"sort": "name"}, "sort"),
        ({"search": "x" * 500}, "search"),
    ],
)
def test_bad_entity_filters_are_400_naming_the_parameter(context, params, field):
    resp = context.simulate_get(
        "/api/v2/entities", params=params, headers=context.as_role("viewer")
    )
    assert resp.status_code == 400
    assert field in error(resp)["fields"]


def test_one_entity_has_its_open_alarm_and_its_links(context):
    viewer = context.as_role("viewer")
    context.db.alarms.insert_one(
        {
            "_id": "cpu/srv1:ev1",
            "entity_id": "cpu/srv1",
            "resolved": None,
            "state": {"_t": "stateinc", "val": 2},
            "steps": [{"_t": "stateinc"}],
            "event_keys": ["ev1"],
            "rev": 3,
        }
    )
    one = context.simulate_get("/api/v2/entities/cpu/srv1", headers=viewer)
    assert one.status_code == 200, one.text
    assert one.json["_id"] == "cpu/srv1" and one.json["depends"] == ["srv1"]
    alarm = one.json["alarm"]
    assert alarm["_id"] == "cpu/srv1:ev1" and alarm["state"]["val"] == 2
    assert not {"steps", "event_keys", "rev"} & set(alarm)
    comp = context.simulate_get("/api/v2/entities/srv1", headers=viewer).json
    assert comp["alarm"] is None and comp["impact"] == ["a.b*c/srv1", "cpu/srv1", "disk/srv1"]
    assert comp["depends"] == []
    conn = context.simulate_get("/api/v2/entities/collectd/collectd/connector", headers=viewer)
    assert conn.json["type"] == "connector"


def test_one_entity_shows_the_pbehavior_it_is_in_now(context):
    viewer = context.as_role("viewer")
    now = time.time()
    planned = {"type": "maintenance", "reason": "r", "author": "alice", "end": now + 600}
    context.db.pbehaviors.insert_many(
        [
            {**planned, "_id": "now", "name": "n", "filter": {"component": "srv1"}, "start": now},
            {**planned, "_id": "later", "name": "l", "filter": {}, "start": now + 300},
            {**planned, "_id": "bad", "name": "b", "filter": {}, "start": now, "tz": "Nowhere"},
        ]
    )
    inside = context.simulate_get("/api/v2/entities/cpu/srv1", headers=viewer).json
    assert inside["pbehavior"] == {
        "id": "now",
        "name": "n",
        "type": "maintenance",
        "reason": "r",
        "author": "alice",
    }
    outside = context.simulate_get(
        "/api/v2/entities/collectd/collectd/connector", headers=viewer
    ).json
    assert outside["pbehavior"] is None


def test_an_unknown_entity_is_404(context):
    viewer = context.as_role("viewer")
    for path in ("/api/v2/entities/nope", "/api/v2/entities/cpu/nope"):
        resp = context.simulate_get(path, headers=viewer)
        assert resp.status_code == 404
        assert "no entity" in error(resp)["message"]
    put = context.simulate_put(
        "/api/v2/entities/nope/x", json={"enabled": False}, headers=context.as_role("admin")
    )
    assert put.status_code == 404


def test_an_admin_disables_and_enables_an_entity(context):
    admin = context.as_role("admin")
    off = context.simulate_put("/api/v2/entities/cpu/srv1", json={"enabled": False}, headers=admin)
    assert off.status_code == 200, off.text
    assert off.json["_id"] == "cpu/srv1" and off.json["enabled"] is False
    assert context.db.entities.find_one({"_id": "cpu/srv1"})["enabled"] is False
    on = context.simulate_put("/api/v2/entities/cpu/srv1", json={"enabled": True}, headers=admin)
    assert on.json["enabled"] is True
    assert context.db.entities.find_one({"_id": "cpu/srv1"})["enabled"] is True


def check(component: str, resource: str | None, key: str, state: int = 2) -> dict:
    """A normalised check as the alerts engine receives it."""
    return normalized(check_event(component, resource, state=state), time.time(), key)


def work(engine: Alerts, *events: dict) -> None:
    engine.prepare(list(events))
    for ev in events:
        engine.work(ev)
    engine.flush()


def test_the_open_alarms_of_a_disabled_entity_are_flagged_and_filtered_on(context):
    work(
        alerts_engine(context.db),
        check("srv1", "cpu", "e1"),
        check("srv1", "a.b*c", "e2"),
        check("srv1", None, "e3"),
        check("srv3", "cpu", "e4"),
    )
    admin = context.as_role("admin")

    def put(entity_id: str, enabled: bool) -> None:
        url = f"/api/v2/entities/{entity_id}"
        assert (
            context.simulate_put(url, json={"enabled": enabled}, headers=admin).status_code == 200
        )

    def flagged(value: str = "true") -> list[str]:
        params = {"entity_disabled": value}
        found = context.simulate_get("/api/v2/alarms", params=params, headers=admin)
        assert found.status_code == 200, found.text
        counts = context.simulate_get("/api/v2/alarms/counts", params=params, headers=admin)
        assert counts.json["total"] == found.json["total"]
        return sorted(alarm["entity_id"] for alarm in found.json["items"])

    everything = ["a.b*c/srv1", "cpu/srv1", "cpu/srv3", "srv1"]
    assert flagged() == [] and flagged("false") == everything
    put("cpu/srv1", False)
    assert flagged() == ["cpu/srv1"]
    put("srv1", False)  # a component's resources' events are dropped too
    assert flagged() == ["a.b*c/srv1", "cpu/srv1", "srv1"]
    assert flagged("false") == ["cpu/srv3"]
    put("srv1", True)
    assert flagged() == ["cpu/srv1"]  # still disabled itself
    put("cpu/srv1", True)
    assert flagged() == [] and flagged("false") == everything
    one = context.simulate_get("/api/v2/entities/cpu/srv1", headers=admin).json
    assert one["alarm"]["entity_disabled"] is False
    bad = context.simulate_get("/api/v2/alarms", params={"entity_disabled": "maybe"}, headers=admin)
    assert bad.status_code == 400 and "entity_disabled" in error(bad)["fields"]


def test_the_flag_set_while_the_alerts_engine_works_on_the_alarm_is_kept(context):
    """A check already past the context engine when the entity is disabled: the engine's
    write, computed from the alarm before the flag, is refused and worked again on it."""
    engine = alerts_engine(context.db)
    work(engine, check("srv1", "cpu", "e1"))
    later = check("srv1", "cpu", "e2", state=3)
    engine.prepare([later])
    engine.work(later)
    admin = context.as_role("admin")
    off = context.simulate_put("/api/v2/entities/cpu/srv1", json={"enabled": False}, headers=admin)
    assert off.status_code == 200
    with pytest.raises(Retry):
        engine.flush()
    work(engine, later)  # the runtime works the batch again
    [alarm] = context.simulate_get(
        "/api/v2/alarms", params={"entity_disabled": "true"}, headers=admin
    ).json["items"]
    assert alarm["entity_id"] == "cpu/srv1" and alarm["state"]["val"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "no"}, "enabled"),
        ({"enabled": 0}, "enabled"),
        ({}, "enabled"),
        ({"enabled": True, "name": "x"}, "name"),
        ([True], "body"),
    ],
)
def test_a_bad_entity_update_is_400(context, body, field):
    resp = context.simulate_put(
        "/api/v2/entities/cpu/srv1", json=body, headers=context.as_role("admin")
    )
    assert resp.status_code == 400
    assert field in error(resp)["fields"]
    assert context.db.entities.find_one({"_id": "cpu/srv1"})["enabled"] is True


def test_only_an_admin_changes_an_entity(context):
    for role in ("viewer", "operator"):
        resp = context.simulate_put(
            "/api/v2/entities/cpu/srv1", json={"enabled": False}, headers=context.as_role(role)
        )
        assert resp.status_code == 403
    assert context.simulate_get("/api/v2/entities").status_code == 401


BASE = 1_700_000_000 - 1_700_000_000 % 3600


@pytest.fixture
def points(api):
    entry = {"metric": "load", "unit": "", "min": 0, "max": None, "warn": 2, "crit": 4}
    write_points(
        api.db,
        [("cpu/srv1", {**entry, "value": float(i)}, BASE + 10 * i) for i in range(12)]
        + [("cpu/srv1", {"metric": "user", "unit": "%", "value": 5.0}, BASE)],
    )
    return api


def perfdata(api, **params):
    return api.simulate_get("/api/v2/perfdata", params=params, headers=api.as_role("viewer"))


def test_perfdata_is_aggregated(points):
    window = {"entity_id": "cpu/srv1", "metric": "load", "from": BASE, "to": BASE + 120}
    mean = perfdata(points, **window, max_points=2)
    assert mean.status_code == 200, mean.text
    assert mean.json["aggregation"] == "mean" and mean.json["step"] == 60
    assert mean.json["points"] == [[BASE, 2.5], [BASE + 60, 8.5]]
    assert mean.json["meta"]["warn"] == 2
    top = perfdata(points, **window, max_points=2, aggregation="max")
    assert top.json["points"] == [[BASE, 5.0], [BASE + 60, 11.0]]
    raw = perfdata(points, **window)
    assert len(raw.json["points"]) == 12
    empty = perfdata(points, entity_id="cpu/srv1", metric="load")  # the last hour: nothing
    assert empty.status_code == 200 and empty.json["points"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"aggregation": "median"}, "aggregation"),
        ({"max_points": "0"}, "max_points"),
        ({"max_points": "10001"}, "max_points"),
        ({"from": "yesterday"}, "from"),
        ({"from": "nan"}, "from"),
        ({"to": "inf"}, "to"),
        ({"to": "1e300"}, "to"),
        ({"from": "-5"}, "from"),
        ({"from": str(BASE + 100), "to": str(BASE)}, "to"),
        ({"entity_id": None}, "entity_id"),
        ({"metric": ""}, "metric"),
        ({"step": "10"}, "step"),
    ],
)
def test_bad_perfdata_parameters_are_400_naming_them(points, params, field):
    query = {"entity_id": "cpu/srv1", "metric": "load", "from": BASE, "to": BASE + 60}
    query = {k: v for k, v in (query | params).items() if v is not None}
    resp = perfdata(points, **query)
    assert resp.status_code == 400, resp.text
    assert field in error(resp)["fields"]


def test_the_metrics_of_an_entity_are_listed(points):
    viewer = points.as_role("viewer")
    resp = points.simulate_get(
        "/api/v2/perfdata/metrics", params={"entity_id": "cpu/srv1"}, headers=viewer
    )
    assert resp.status_code == 200, resp.text
    assert [m["metric"] for m in resp.json["items"]] == ["load", "user"]
    assert resp.json["items"][0]["last_seen"] == BASE + 110
    none = points.simulate_get(
        "/api/v2/perfdata/metrics", params={"entity_id": "nope"}, headers=viewer
    )
    assert none.json["items"] == []
    missing = points.simulate_get("/api/v2/perfdata/metrics", headers=viewer)
    assert missing.status_code == 400 and "entity_id" in error(missing)["fields"]
