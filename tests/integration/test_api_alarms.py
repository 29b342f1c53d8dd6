"""The alarms REST API: filters, sorts, paging, counts, detail and actions (embedded MongoDB)."""

import json
import time
from urllib.parse import quote

import kombu
import pytest
from conftest import ApiClient, author_of, error

from canopsis.domain import alarm, event
from tests.helpers import check_event

pytestmark = pytest.mark.integration

BASE = time.time() - 10_000
CFG = alarm.AlarmConfig()

# name: component, resource, state, tags, connector, connector_name, output, actions
SPECS = {
    "a00": ("web-1", "cpu", 1, ["env:prod"], "nagios", "nagios-a", "cpu load 1", []),
    "a01": ("web-1", "disk /var", 2, ["env:prod", "team:ops"], "nagios", "nagios-b", "disk", []),
    "a02": ("web-2", None, 3, ["env:dev"], "nagios", "nagios-a", "host down", []),
    "a03": ("db-1", "cpu", 1, [], "nagios", "nagios-b", "cpu", [("ack", {})]),
    "a04": ("db-1", "mem", 2, [], "nagios", "nagios-a", "mem", [("snooze", {"duration": 86400})]),
    "a05": ("db-2", None, 3, [], "nagios", "nagios-b", "down", [("cancel", {})]),
    "a06": ("app-1", "http", 2, [], "nagios", "nagios-a", "HTTP 500 Internal Error", []),
    "a07": (
        "app-1",
        "queue",
        1,
        [],
        "nagios",
        "nagios-b",
        "queue",
        [("ack", {}), ("snooze", {"duration": 86400})],
    ),
    "a08": ("app-2", "http", 3, [], "zabbix", "zbx", "timeout", []),
    "a09": ("cache-1", None, 2, [], "nagios", "nagios-b", "flap", [("check", {"state": 0})]),
    "a10": ("WEB-3", "cpu", 1, [], "nagios", "nagios-a", "cpu", []),
    "a11": ("lb-1", "vip", 2, [], "nagios", "nagios-b", "a.b (regex) check", []),
}


def build(index: int, spec: tuple) -> dict:
    component, resource, state, tags, connector, connector_name, output, actions = spec
    now = BASE + index * 100
    raw = check_event(
        component,
        resource,
        connector=connector,
        connector_name=connector_name,
        state=state,
        output=output,
        tags=tags,
    )
    ev, errors = event.normalize(raw, now)
    assert not errors
    doc = alarm.apply_event(None, ev, now, CFG, f"k{index}").alarm
    for offset, (action, fields) in enumerate(actions, 1):
        act = {**raw, "event_type": action, **fields, "author": "someone"}
        if action != "check":
            act.pop("state")
        act, errors = event.normalize(act, now + offset)
        assert not errors
        outcome = alarm.apply_event(doc, act, now + offset, CFG, f"k{index}.{offset}")
        assert outcome.changed, outcome.ignored_reason
        doc = outcome.alarm
    return {**doc, "rev": 3}


@pytest.fixture
def data(api):
    docs = {name: build(i, spec) for i, (name, spec) in enumerate(SPECS.items())}
    api.db.alarms.insert_many(list(docs.values()))
    resolved = build(20, ("web-1", "cpu", 2, [], "nagios", "nagios-a", "old", []))
    resolved["resolved"] = BASE + 2100
    api.db.alarms_resolved.insert_one(resolved)
    ids = {name: doc["_id"] for name, doc in docs.items()} | {"r00": resolved["_id"]}
    return ids, docs, api.as_role("viewer")


def listed(api, headers, **params) -> dict:
    resp = api.simulate_get("/api/v2/alarms", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json


def names(ids: dict, items: list) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item["_id"]] for item in items]


NEWEST_FIRST = [f"a{i:02}" for i in reversed(range(12))]


def test_the_default_list_is_open_alarms_newest_first_without_steps(api, data):
    ids, docs, viewer = data
    body = listed(api, viewer)
    assert body["total"] == 12 and body["page"] == 1 and body["limit"] == 50
    assert names(ids, body["items"]) == NEWEST_FIRST
    for item in body["items"]:
        assert not {"steps", "event_keys", "rev"} & set(item)
        assert item["state"] == docs[names(ids, [item])[0]]["state"]
    asc = listed(api, viewer, direction="asc")
    assert names(ids, asc["items"]) == NEWEST_FIRST[::-1]
    with_steps = listed(api, viewer, with_steps="true", limit=1)["items"][0]
    assert with_steps["steps"] == docs["a11"]["steps"] and "event_keys" not in with_steps


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["last_update_date", "creation_date", "component"])
def test_sorts_with_id_as_tie_breaker(api, data, sort, direction):
    ids, docs, viewer = data
    expected = sorted(docs, key=lambda n: (docs[n][sort], docs[n]["_id"]))
    body = listed(api, viewer, sort=sort, direction=direction)
    assert names(ids, body["items"]) == (expected[::-1] if direction == "desc" else expected)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_sort_on_state_lists_each_state_newest_first(api, data, direction):
    ids, docs, viewer = data
    newest = sorted(docs, key=lambda n: (docs[n]["last_update_date"], docs[n]["_id"]))[::-1]
    expected = sorted(newest, key=lambda n: docs[n]["state"]["val"], reverse=direction == "desc")
    for limit, page in ((50, 1), (2, 3), (5, 2)):
        body = listed(api, viewer, sort="state", direction=direction, limit=limit, page=page)
        assert names(ids, body["items"]) == expected[(page - 1) * limit : page * limit]
    critical = listed(api, viewer, sort="state", direction=direction, state="3,1")["items"]
    assert names(ids, critical) == [n for n in expected if docs[n]["state"]["val"] in (1, 3)]


def test_sort_on_resource_puts_components_at_one_end(api, data):
    ids, docs, viewer = data
    body = listed(api, viewer, sort="resource", direction="asc")
    got = names(ids, body["items"])
    assert set(got[:3]) == {"a02", "a05", "a09"}  # resource null sorts first
    assert [docs[n]["resource"] for n in got[3:]] == sorted(docs[n]["resource"] for n in got[3:])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "3"}, ["a08", "a05", "a02"]),
        ({"state": "0,1"}, ["a10", "a09", "a07", "a03", "a00"]),
        ({"status": "4"}, ["a05"]),
        ({"status": "2"}, ["a09"]),
        ({"acked": "true"}, ["a07", "a03"]),
        ({"acked": "false", "state": "1"}, ["a10", "a00"]),
        ({"snoozed": "true"}, ["a07", "a04"]),
        ({"snoozed": "false", "component": "db-1"}, ["a03"]),
        ({"snoozed": "false", "search": "db-"}, ["a05", "a03"]),
        ({"snoozed": "true", "search": "db-", "from": str(BASE + 350)}, ["a04"]),
        ({"component": "app-1"}, ["a07", "a06"]),
        ({"resource": "cpu"}, ["a10", "a03", "a00"]),
        ({"connector": "zabbix"}, ["a08"]),
        ({"connector_name": "nagios-a"}, ["a10", "a06", "a04", "a02", "a00"]),
        ({"tags": "env:prod"}, ["a01", "a00"]),
        ({"tags": "env:prod,team:ops"}, ["a01"]),
        ({"search": "web"}, ["a10", "a02", "a01", "a00"]),
        ({"search": "HTTP"}, ["a08", "a06"]),
        ({"search": "a.b (reg"}, ["a11"]),
        ({"search": "a.*"}, []),
        ({"from": str(BASE + 250), "to": str(BASE + 450)}, ["a04", "a03"]),
        ({"from": str(BASE + 1050)}, ["a11"]),
        ({"opened": "false"}, ["r00"]),
        ({"opened": "false", "component": "db-1"}, []),
    ],
)
def test_filters(api, data, params, expected):
    ids, _docs, viewer = data
    body = listed(api, viewer, **params)
    assert names(ids, body["items"]) == expected
    assert body["total"] == len(expected)


def test_pages_cover_the_list_once_and_a_page_beyond_the_end_is_400(api, data):
    ids, _docs, viewer = data
    seen = []
    for page in (1, 2, 3):
        body = listed(api, viewer, page=page, limit=5)
        assert body["total"] == 12 and body["page"] == page and body["limit"] == 5
        seen += names(ids, body["items"])
    assert seen == NEWEST_FIRST
    beyond = api.simulate_get("/api/v2/alarms", params={"page": 4, "limit": 5}, headers=viewer)
    assert beyond.status_code == 400
    assert error(beyond)["fields"] == {"page": "beyond the last page, 3"}
    assert listed(api, viewer, state="0,1", acked="true", search="nothing")["items"] == []


def test_one_alarm_has_its_steps_open_or_resolved(api, data):
    ids, docs, viewer = data
    for path in (quote(ids["a01"], safe="/"), quote(ids["a01"], safe="")):
        resp = api.simulate_get(f"/api/v2/alarms/{path}", headers=viewer)
        assert resp.status_code == 200, resp.text
        assert resp.json["_id"] == ids["a01"]
        assert resp.json["steps"] == docs["a01"]["steps"]
        assert not {"event_keys", "rev"} & set(resp.json)
    resolved = api.simulate_get(f"/api/v2/alarms/{ids['r00']}", headers=viewer)
    assert resolved.status_code == 200 and resolved.json["resolved"] == BASE + 2100
    missing = api.simulate_get("/api/v2/alarms/nope/x:y", headers=viewer)
    assert missing.status_code == 404 and "nope/x:y" in error(missing)["message"]


def test_counts(api, data):
    _ids, _docs, viewer = data
    resp = api.simulate_get("/api/v2/alarms/counts", headers=viewer)
    assert resp.status_code == 200, resp.text
    assert resp.json == {
        "total": 12,
        "by_state": {"0": 1, "1": 4, "2": 4, "3": 3},
        "by_status": {"0": 0, "1": 10, "2": 1, "3": 0, "4": 1},
        "problems": 10,  # 11 not OK, one of them cancelled
        "in_pbehavior": 0,
    }
    some = api.simulate_get("/api/v2/alarms/counts", params={"acked": "true"}, headers=viewer)
    assert some.json == {
        "total": 2,
        "by_state": {"0": 0, "1": 2, "2": 0, "3": 0},
        "by_status": {"0": 0, "1": 2, "2": 0, "3": 0, "4": 0},
        "problems": 2,
        "in_pbehavior": 0,
    }
    paged = api.simulate_get("/api/v2/alarms/counts", params={"page": "1"}, headers=viewer)
    assert paged.status_code == 400 and error(paged)["fields"] == {"page": "unknown parameter"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"state": "7"}, "state"),
        ({"state": "1,x"}, "state"),
        ({"status": "5"}, "status"),
        ({"acked": "maybe"}, "acked"),
        ({"sort": "output"}, "sort"),
        ({"direction": "up"}, "direction"),
        ({"limit": "0"}, "limit"),
        ({"from": "yesterday"}, "from"),
    ],
)
def test_bad_parameters_are_400_naming_them(api, data, params, field):
    _ids, _docs, viewer = data
    resp = api.simulate_get("/api/v2/alarms", params=params, headers=viewer)
    assert resp.status_code == 400
    assert field in error(resp)["fields"]


def test_actions_need_the_operator_role_a_valid_body_and_an_open_alarm(api, data):
    ids, _docs, viewer = data
    path = f"/api/v2/alarms/{ids['a00']}/ack"
    denied = api.simulate_post(path, json={}, headers=viewer)
    assert denied.status_code == 403 and error(denied)["message"].startswith("this needs")
    operator = api.as_role("operator")
    cases = [
        ("snooze", {}, {"duration": "missing"}),
        ("snooze", {"duration": 0}, "duration"),
        ("snooze", {"duration": 1.5}, "duration"),
        ("changestate", {"state": 4}, "state"),
        ("assocticket", {}, {"ticket": "missing"}),
        ("ack", {"author": "mallory"}, {"author": "unknown field"}),
        ("ack", {"output": 3}, "output"),
    ]
    for action, body, fields in cases:
        resp = api.simulate_post(
            f"/api/v2/alarms/{ids['a00']}/{action}", json=body, headers=operator
        )
        assert resp.status_code == 400, (action, body)
        got = error(resp)["fields"]
        assert got == fields if isinstance(fields, dict) else fields in got
    resolved = api.simulate_post(f"/api/v2/alarms/{ids['r00']}/ack", json={}, headers=operator)
    assert resolved.status_code == 404
    unknown = api.simulate_post(f"/api/v2/alarms/{ids['a00']}/delete", json={}, headers=operator)
    assert unknown.status_code == 404
    bulk = api.simulate_post("/api/v2/alarms/ack", json={"ids": []}, headers=operator)
    assert bulk.status_code == 400 and "ids" in error(bulk)["fields"]
    both = api.simulate_post(
        "/api/v2/alarms/snooze", json={"ids": "a", "duration": 0}, headers=operator
    )
    assert both.status_code == 400 and set(error(both)["fields"]) == {"ids", "duration"}


def test_a_viewer_gets_403_on_a_bulk_action(api, data):
    ids, _docs, viewer = data
    resp = api.simulate_post("/api/v2/alarms/ack", json={"ids": [ids["a00"]]}, headers=viewer)
    assert resp.status_code == 403


def received(queue, count: int, timeout: float = 10) -> list[tuple[str, dict]]:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        message = queue.get(no_ack=True)
        if message is None:
            time.sleep(0.05)
            continue
        got.append((message.delivery_info["routing_key"], json.loads(message.body)))
    return got


def test_actions_publish_the_operators_events(services, mongo_db):
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    docs = {name: build(i, SPECS[name]) for i, name in enumerate(("a00", "a01", "a02"))}
    mongo_db.alarms.insert_many(list(docs.values()))
    operator = api.as_role("operator")
    exchange = kombu.Exchange("canopsis.events", type="topic", durable=True)
    with kombu.Connection(services.amqp_url) as conn:
        channel = conn.channel()
        exchange(channel).declare()
        queue = kombu.Queue("", exchange, routing_key="#", exclusive=True)(channel)
        queue.declare()

        one = f"/api/v2/alarms/{quote(docs['a01']['_id'])}/snooze"
        resp = api.simulate_post(
            one, json={"duration": 600, "output": "maintenance"}, headers=operator
        )
        assert resp.status_code == 202, resp.text
        assert resp.json == {"queued": 1, "alarm_id": docs["a01"]["_id"]}
        [(key, sent)] = received(queue, 1)
        assert key == "nagios.nagios-b.snooze.resource.web-1.disk /var"
        assert sent["event_type"] == "snooze" and sent["author"] == author_of(operator)
        assert sent["duration"] == 600 and sent["output"] == "maintenance"
        assert (sent["component"], sent["resource"]) == ("web-1", "disk /var")
        assert sent["source_type"] == "resource"

        ids = [docs["a00"]["_id"], "gone/web-9:k9", docs["a02"]["_id"]]
        resp = api.simulate_post(
            "/api/v2/alarms/assocticket", json={"ids": ids, "ticket": "T-42"}, headers=operator
        )
        assert resp.status_code == 202, resp.text
        assert resp.json == {"queued": 2, "missing": ["gone/web-9:k9"]}
        got = sorted(received(queue, 2), key=lambda item: item[0])
        assert [key for key, _ in got] == [
            "nagios.nagios-a.assocticket.component.web-2",
            "nagios.nagios-a.assocticket.resource.web-1.cpu",
        ]
        for _key, sent in got:
            assert sent["event_type"] == "assocticket" and sent["ticket"] == "T-42"
            assert sent["author"] == author_of(operator)
        assert "resource" not in got[0][1]
        assert received(queue, 1, timeout=0.5) == []


def test_newest_first_pages_are_the_same_whether_recent_alarms_fill_them_or_not(api):
    """Pages looked for among the recently updated alarms first (RECENT_SPANS) must be the
    pages of the whole set: 60 alarms of the last hour, 50 of the last day, 30 older."""
    now = time.time()
    ages = [60.0 * i for i in range(60)] + [4000.0 + 1500 * i for i in range(50)]
    ages += [90000.0 + 3600 * i for i in range(30)]
    api.db.alarms.insert_many(
        [
            {"_id": f"n{i:03d}", "entity_id": f"n{i}", "last_update_date": now - age}
            for i, age in enumerate(ages)
        ]
        + [{"_id": "tie", "entity_id": "tie", "last_update_date": now - 60.0}]
    )
    viewer = api.as_role("viewer")
    expected = [
        doc["_id"] for doc in api.db.alarms.find().sort([("last_update_date", -1), ("_id", -1)])
    ]
    got = []
    for page in (1, 2, 3):
        resp = api.simulate_get(
            "/api/v2/alarms", params={"page": page, "limit": 50}, headers=viewer
        )
        assert resp.status_code == 200, resp.text
        assert resp.json["total"] == 141
        got += [a["_id"] for a in resp.json["items"]]
    assert got == expected
    ascending = api.simulate_get(
        "/api/v2/alarms", params={"direction": "asc", "limit": 3}, headers=viewer
    )
    assert [a["_id"] for a in ascending.json["items"]] == expected[::-1][:3]


def test_a_large_unfiltered_total_is_counted_again_once_it_is_old(api, monkeypatch):
    """LARGE_TOTAL alarms or more: the unfiltered total may lag by TOTAL_MAX_AGE_S; a filtered
    total and a small one never lag."""
    from canopsis.store import alarms as store

    monkeypatch.setattr(store, "LARGE_TOTAL", 5)
    monkeypatch.setattr(store, "TOTAL_MAX_AGE_S", 0.5)
    viewer = api.as_role("viewer")

    def totals() -> tuple[int, int]:
        every = api.simulate_get("/api/v2/alarms", headers=viewer).json["total"]
        acked = api.simulate_get("/api/v2/alarms", params={"acked": "false"}, headers=viewer)
        return every, acked.json["total"]

    api.db.alarms.insert_many(
        [{"_id": f"s{i}", "entity_id": f"s{i}", "ack": None} for i in range(4)]
    )
    assert totals() == (4, 4)
    api.db.alarms.insert_one({"_id": "s4", "entity_id": "s4", "ack": None})
    assert totals() == (5, 5)
    api.db.alarms.insert_one({"_id": "s5", "entity_id": "s5", "ack": None})
    assert totals() == (5, 6)
    time.sleep(0.6)
    assert totals() == (6, 6)
