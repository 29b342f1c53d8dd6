"""The emergency ingest service as its supervisord program runs it, on real RabbitMQ.

``canopsis-launch ingest`` serves ``POST /event`` with keys read from the key
file; an event sent while MongoDB is stopped becomes an alarm once MongoDB and
the engines are back.
"""

import json
import shutil
import urllib.error
import urllib.request
import uuid

import kombu
import pymongo
import pytest
from configobj import ConfigObj

from canopsis.domain import auth, ingestkeys
from tests.conftest import ApiClient, EngineProcess, free_port, make_key, wait_for_port
from tests.integration.test_api_event_author import published
from tests.integration.test_pipeline import CHAIN, REPO_ENGINES, wait_for, write_confs

pytestmark = pytest.mark.integration


def post(port: int, body: object, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/event",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def check_event(component: str, state: int = 2) -> dict:
    return {
        "connector": "it",
        "connector_name": "ingest",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": "ping",
        "state": state,
        "output": "sent through the ingest service",
    }


@pytest.fixture
def ingest(services):
    """``canopsis-launch ingest`` on a free port of the services' prefix; its port."""
    port = free_port()
    (services.prefix / "etc" / "ingest.conf").write_text(f"[server]\nport = {port}\n")
    (services.prefix / "var" / "run").mkdir(parents=True, exist_ok=True)
    proc = services.start("ingest")
    try:
        wait_for_port(port, 30, proc)
        yield port
    finally:
        services.stop("ingest")


@pytest.fixture
def db(services):
    client = pymongo.MongoClient(services.mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    yield client[services.database]
    client.close()


def test_ingest_accepts_events_with_a_key_even_while_mongodb_is_down(services, ingest, db):
    keys_file = services.prefix / "var" / "lib" / "ingest" / "keys.json"
    _doc, key = make_key(db, "operator", "monitor")
    revoked_doc, revoked = make_key(db, "operator", "old")
    ingestkeys.write(db, keys_file)
    assert keys_file.stat().st_mode & 0o777 == 0o640
    assert key.split(".")[1] not in keys_file.read_text()
    good = {"Authorization": f"Key {key}"}

    assert get(ingest, "/health") == (200, {"status": "ok", "broker": "up"})
    assert post(ingest, check_event("ingest-ok"), good) == (202, {"accepted": 1, "refused": []})
    status, _ = post(ingest, [check_event("ingest-hdr")], {"X-Canopsis-Authkey": revoked})
    assert status == 202

    status, body = post(ingest, check_event("ingest-nokey"))
    assert status == 401 and body["error"]["code"] == 401
    wrong = {"Authorization": f"Key {key.split('.')[0]}.wrong"}
    assert post(ingest, check_event("ingest-wrong"), wrong)[0] == 401
    auth.revoke_key(db, revoked_doc["_id"])
    ingestkeys.write(db, keys_file)
    status, body = post(ingest, check_event("x"), {"X-Canopsis-Authkey": revoked})
    assert status == 401 and body["error"]["message"] == "invalid, expired or revoked credentials"

    status, body = post(ingest, {"connector": "it", "event_type": "nope"}, good)
    assert status == 400
    assert body["error"]["fields"]["0.event_type"]
    assert "0.component" in body["error"]["fields"]

    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")
    component = f"ingest-{uuid.uuid4().hex[:8]}"
    mongo_port = int(ConfigObj(str(services.prefix / "etc" / "mongo.conf"))["port"])
    services.stop("mongodb")
    try:
        status, body = post(ingest, check_event(component), good)
        assert (status, body) == (202, {"accepted": 1, "refused": []})
    finally:
        wait_for_port(mongo_port, 30, services.start("mongodb"))

    write_confs(services.prefix)
    engines = EngineProcess(services, *CHAIN)
    try:
        engines.wait_ready(60)
        alarm = wait_for(
            lambda: db.alarms.find_one({"component": component, "resource": "ping"}),
            60,
            "the alarm of the event sent while MongoDB was down",
        )
        assert alarm["state"]["val"] == 2
    finally:
        assert engines.stop() == 0, engines.text()
        for conf in (services.prefix / "etc" / "engines").glob("*.conf"):
            if (REPO_ENGINES / conf.name).exists():
                shutil.copy(REPO_ENGINES / conf.name, conf)


def test_an_action_sent_to_ingest_is_authored_by_its_key(services, ingest, db):
    keys_file = services.prefix / "var" / "lib" / "ingest" / "keys.json"
    doc, key = make_key(db, "operator", "monitor")
    ingestkeys.write(db, keys_file)
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")
    forged = {**check_event("ingest-author"), "event_type": "comment", "author": "admin"}
    del forged["state"]
    assert post(ingest, forged, {"X-Canopsis-Authkey": key}) == (
        202,
        {"accepted": 1, "refused": []},
    )
    events = wait_for(lambda: published(services), 30, "the published event")
    assert [e["author"] for e in events] == [f"key:{doc['_id']}/monitor"]


def test_ingest_answers_a_deeply_nested_body_with_400_naming_the_limit(services, ingest, db):
    keys_file = services.prefix / "var" / "lib" / "ingest" / "keys.json"
    _doc, key = make_key(db, "operator", "nested")
    ingestkeys.write(db, keys_file)
    request = urllib.request.Request(
        f"http://127.0.0.1:{ingest}/event",
        data=b'{"a":' * 5000 + b"1" + b"}" * 5000,
        headers={"Content-Type": "application/json", "Authorization": f"Key {key}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=30)
    error = json.loads(answer.value.read())["error"]
    assert (answer.value.code, error["code"]) == (400, 400)
    assert answer.value.headers["X-Content-Type-Options"] == "nosniff"
    assert error["message"] == "the body is nested deeper than 64 levels"
    assert get(ingest, "/health") == (200, {"status": "ok", "broker": "up"})


def test_ingest_follows_the_rights_of_a_keys_creator_changed_through_the_api(
    services, ingest, db, monkeypatch
):
    """The webserver rewrites the key file when a user is demoted or deleted: the ingest
    service then refuses what the creator may no longer do."""
    monkeypatch.setenv("CANOPSIS_PREFIX", str(services.prefix))
    api = ApiClient(db)
    admin = api.as_role("admin")
    _doc, key = make_key(db, "operator", "leaver-key", creator="leaver")
    assert api.simulate_get("/api/v2/apikeys", headers=admin).status_code == 200  # file written
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")
    headers = {"X-Canopsis-Authkey": key}
    assert post(ingest, check_event("ingest-leaver"), headers)[0] == 202
    demoted = api.simulate_put("/api/v2/users/leaver", json={"role": "viewer"}, headers=admin)
    assert demoted.status_code == 200
    status, body = post(ingest, check_event("ingest-leaver"), headers)
    assert status == 403 and body["error"]["message"] == (
        "this needs the operator role; the key has viewer"
    )
    assert api.simulate_delete("/api/v2/users/leaver", headers=admin).status_code == 204
    assert post(ingest, check_event("ingest-leaver"), headers)[0] == 401
    assert len(published(services)) == 1
