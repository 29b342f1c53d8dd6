"""``GET /api/v2/alarms/{alarm_id}/history``: the history of an alarm's entity, as the
eventstore engine kept it from events sent through the real pipeline (RabbitMQ, MongoDB,
the engines as one process), read through the REST application."""

import time

import pytest

from tests.conftest import ApiClient
from tests.integration import test_pipeline
from tests.integration.test_pipeline import CHAIN, event, send, start, stop, wait_for

pytestmark = pytest.mark.integration

#: the prefix with the repository's engine configuration and fast beats, and its database
site, db = test_pipeline.site, test_pipeline.db

DEADLINE = 90


def test_the_history_of_an_alarm_is_paged_newest_first_and_filtered_by_time(site, db):
    now = int(time.time())
    sent = [
        event("hist-web", state=2, output="down", timestamp=now - 40),
        event("hist-web", event_type="ack", author="alice", output="on it", timestamp=now - 30),
        event("hist-web", state=0, output="up", timestamp=now - 20),
        event("hist-web", state=0, output="still up", timestamp=now - 15),  # no change: not kept
        event("hist-web", state=3, output="down again", timestamp=now - 10),
        event("hist-other", state=2, timestamp=now - 5),
    ]
    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, *sent)
        wait_for(
            lambda: (
                db.events_log.count_documents({"component": "hist-web"}) == 4
                and db.alarms.find_one({"component": "hist-web", "state.val": 3})
                and db.events_log.find_one({"component": "hist-other"})
            ),
            timeout=DEADLINE,
            what="the history and the alarms",
        )
    finally:
        stop(proc)
    api = ApiClient(db)
    viewer = api.as_role("viewer")
    alarm_id = db.alarms.find_one({"component": "hist-web"})["_id"]
    url = f"/api/v2/alarms/{alarm_id}/history"

    resp = api.simulate_get(url, headers=viewer)
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert (body["total"], body["page"], body["limit"]) == (4, 1, 50)
    assert [(h["event_type"], h["state"], h["output"]) for h in body["items"]] == [
        ("check", 3, "down again"),
        ("check", 0, "up"),
        ("ack", 0, "on it"),
        ("check", 2, "down"),
    ]
    assert {h["entity_id"] for h in body["items"]} == {"svc/hist-web"}
    assert body["items"][2]["author"] == "alice"
    assert [h["timestamp"] for h in body["items"]] == [now - 10, now - 20, now - 30, now - 40]

    second = api.simulate_get(url, params={"page": 2, "limit": 3}, headers=viewer).json
    assert (second["total"], [h["output"] for h in second["items"]]) == (4, ["down"])
    window = api.simulate_get(url, params={"from": now - 30, "to": now - 10}, headers=viewer).json
    assert (window["total"], [h["output"] for h in window["items"]]) == (2, ["up", "on it"])


def test_the_history_of_an_unknown_alarm_is_404_and_bad_parameters_are_400(api):
    viewer = api.as_role("viewer")
    missing = api.simulate_get("/api/v2/alarms/svc/nowhere:1/history", headers=viewer)
    assert missing.status_code == 404
    assert missing.json == {
        "error": {"code": 404, "message": "no alarm svc/nowhere:1", "fields": {}}
    }
    bad = api.simulate_get(
        "/api/v2/alarms/svc/nowhere:1/history", params={"from": "soon", "page": 0}, headers=viewer
    )
    assert bad.status_code == 400
    assert bad.json["error"]["fields"] == {
        "from": "expected epoch seconds from 0 to 253402300799",
        "page": "expected an integer from 1 to 1000000",
    }
    anonymous = api.simulate_get("/api/v2/alarms/svc/nowhere:1/history")
    assert anonymous.status_code == 401
