"""The REST API through real HTTP: gunicorn as its supervisord program runs it
(``canopsis-launch webserver``), with the engines, RabbitMQ and the embedded MongoDB."""

import http.client
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request

import kombu
import pymongo
import pytest
from configobj import ConfigObj

from canopsis.domain import auth
from tests.conftest import EngineProcess, author_of, free_port, make_key, wait_for_port
from tests.integration.test_pipeline import CHAIN, REPO_ENGINES, kill_database, write_confs

pytestmark = pytest.mark.integration

COMPONENT = "cœur-é1 東京"


@pytest.fixture(scope="module")
def web(services):
    """The base URL of gunicorn serving the API, the engines running; the operator's and the
    viewer's key headers."""
    conf = ConfigObj(str(services.prefix / "etc" / "webserver.conf"), interpolation=False)
    port = free_port()
    conf["server"]["port"] = port
    conf.write()
    (services.prefix / "var" / "run").mkdir(parents=True, exist_ok=True)
    client = pymongo.MongoClient(services.mongo_uri, serverSelectionTimeoutMS=5000)
    db = client[services.database]
    keys = {role: make_key(db, role)[1] for role in auth.ROLES}
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")
    write_confs(services.prefix)
    engines = EngineProcess(services, *CHAIN)
    try:
        engines.wait_ready(60)
        wait_for_port(port, 30, services.start("webserver"))
        yield (
            f"http://127.0.0.1:{port}/api/v2",
            {role: {"Authorization": f"Key {key}"} for role, key in keys.items()},
        )
    finally:
        if "webserver" in services.procs:
            services.stop("webserver")
        assert engines.stop() == 0, engines.text()
        for conf_file in (services.prefix / "etc" / "engines").glob("*.conf"):
            if (REPO_ENGINES / conf_file.name).exists():
                shutil.copy(REPO_ENGINES / conf_file.name, conf_file)
        client.close()


def call(url: str, body=None, headers=None, data: bytes | None = None) -> tuple[int, dict]:
    """One request (POST when there is a body); the status and the JSON answer."""
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def test_a_posted_event_becomes_an_alarm_that_snooze_and_cancel_change(web):
    base, keys = web
    event = {
        "connector": "api",
        "connector_name": "gunicorn",
        "event_type": "check",
        "source_type": "resource",
        "component": COMPONENT,
        "resource": "disk /var",
        "state": 2,
        "output": "92 % used",
    }
    assert call(f"{base}/event", event, keys["operator"]) == (202, {"accepted": 1, "refused": []})
    listing = f"{base}/alarms?component={urllib.parse.quote(COMPONENT)}"
    [alarm] = wait_for(lambda: call(listing, headers=keys["viewer"])[1]["items"], "the alarm")
    assert (alarm["component"], alarm["resource"]) == (COMPONENT, "disk /var")
    assert alarm["state"]["val"] == 2 and alarm["output"] == "92 % used"
    path = f"{base}/alarms/{urllib.parse.quote(alarm['_id'], safe='')}"

    status, body = call(f"{path}/snooze", {"duration": 3600}, keys["viewer"])
    assert status == 403 and body["error"]["code"] == 403

    for action, body, field in (
        ("snooze", {"duration": 3600}, "snooze"),
        ("cancel", {}, "canceled"),
    ):
        status, answer = call(f"{path}/{action}", body, keys["operator"])
        assert (status, answer) == (202, {"queued": 1, "alarm_id": alarm["_id"]})
        changed = wait_for(lambda f=field: call(path, headers=keys["viewer"])[1][f], action)
        assert changed["a"] == author_of(keys["operator"])
    steps = [step["_t"] for step in call(path, headers=keys["viewer"])[1]["steps"]]
    assert [step for step in steps if step in ("snooze", "cancel")] == ["snooze", "cancel"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b'{"connector": ', 400),
        (b'{"component": "\\ud800"}', 400),
        (b"[" + b'"x",' * (10 * 1024 * 1024 // 4) + b'"x"]', 413),
    ],
)
def test_bad_input_through_gunicorn_is_4xx_and_the_server_keeps_serving(web, data, status):
    base, keys = web
    got, body = call(f"{base}/event", data=data, headers=keys["operator"])
    assert got == status
    assert set(body["error"]) == {"code", "message", "fields"}
    assert call(f"{base}/healthcheck")[0] == 200
    assert call(f"{base}/auth/me", headers=keys["viewer"])[1]["role"] == "viewer"


def test_what_the_api_answered_as_created_survives_a_kill_9_of_the_database(web, services):
    """Each write of the API is journaled: pbehaviors answered 201 just before the database
    process is killed are there when it is back."""
    url, keys = web
    created = []
    for n in range(10):
        status, doc = call(
            f"{url}/pbehaviors",
            {
                "name": f"crash-{n}",
                "type": "maintenance",
                "reason": "kill -9",
                "filter": {"component": f"crash-{n}"},
                "start": 1774062000,
                "end": 1774065600,
            },
            keys["admin"],
        )
        assert status == 201, doc
        created.append(doc["_id"])
    kill_database(services)
    with pymongo.MongoClient(services.mongo_uri, serverSelectionTimeoutMS=10000) as client:
        found = client[services.database].pbehaviors.count_documents({"_id": {"$in": created}})
    assert found == len(created)


def test_a_chunked_body_is_411_in_the_error_shape(web):
    base, keys = web
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        body = iter([b'{"output": ', b'"sent in chunks"}'])
        headers = {"Content-Type": "application/json", **keys["operator"]}
        conn.request("POST", f"{url.path}/event", body=body, headers=headers)
        resp = conn.getresponse()
        assert resp.status == 411
        assert json.loads(resp.read())["error"] == {
            "code": 411,
            "message": "send the body with a Content-Length header, not chunked",
            "fields": {},
        }
    finally:
        conn.close()
    assert call(f"{base}/healthcheck")[0] == 200


def test_a_5000_character_id_in_the_url_is_answered_in_the_error_shape(web):
    base, keys = web
    status, body = call(f"{base}/alarms/{'x' * 5000}", headers=keys["viewer"])
    assert status == 404
    assert set(body["error"]) == {"code", "message", "fields"}
