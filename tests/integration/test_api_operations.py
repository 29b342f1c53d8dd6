"""Operations webservices: users, engines (a real supervisord), healthcheck, Prometheus metrics."""

import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from pathlib import Path

import pytest
from configobj import ConfigObj
from pymongo.collection import Collection
from supervisor.xmlrpc import SupervisorTransport

from canopsis.domain import auth, metrics
from canopsis.runtime import enginehealth
from tests.conftest import REPO, ApiClient, error, free_port, stop_process

pytestmark = pytest.mark.integration

SUPERVISORD_CONF = """\
[unix_http_server]
file={root}/var/run/supervisor.sock

[supervisord]
logfile={root}/var/log/supervisord.log
pidfile={root}/var/run/supervisord.pid
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[group:engines]
programs=engine-dummy

[program:engine-dummy]
command=sleep 600
autostart=true
startsecs=0
stopwaitsecs=5
"""


def _rpc(sock: Path):
    transport = SupervisorTransport(None, None, f"unix://{sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


@pytest.fixture
def supervisord(monkeypatch):
    """A real supervisord in a short temporary prefix running ``engines:engine-dummy``."""
    root = Path(tempfile.mkdtemp(prefix="cps-", dir="/tmp"))
    for sub in ("etc", "var/run", "var/log", "var/lib/canopsis"):
        (root / sub).mkdir(parents=True)
    conf = root / "etc" / "supervisord.conf"
    conf.write_text(SUPERVISORD_CONF.format(root=root))
    command = str(Path(sys.executable).parent / "supervisord")
    proc = subprocess.Popen(
        [command, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sock = root / "var" / "run" / "supervisor.sock"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (root / "var/log/supervisord.log").read_text()
            try:
                states = {p["name"]: p["statename"] for p in _rpc(sock).getAllProcessInfo()}
                if states.get("engine-dummy") == "RUNNING":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "supervisord did not start engine-dummy"
            time.sleep(0.1)
        monkeypatch.setenv("CANOPSIS_PREFIX", str(root))
        yield sock
    finally:
        stop_process(proc, 20)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def no_supervisord(monkeypatch, tmp_path):
    """A prefix where no supervisord socket exists."""
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))


def login(api, name: str, password: str) -> dict[str, str]:
    resp = api.simulate_post("/api/v2/auth/login", json={"name": name, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Cookie": f"canopsis_session={resp.cookies['canopsis_session'].value}"}


# Users.


def test_admin_creates_and_lists_users_without_password_hashes(api):
    admin = api.as_role("admin")
    made = api.simulate_post(
        "/api/v2/users",
        json={"name": "dave.ops@corp", "password": "long-enough-1", "role": "operator"},
        headers=admin,
    )
    assert made.status_code == 201
    assert made.json["name"] == "dave.ops@corp" and made.json["role"] == "operator"
    listed = api.simulate_get("/api/v2/users", headers=admin)
    assert listed.status_code == 200
    [user] = [u for u in listed.json["items"] if u["name"] == "dave.ops@corp"]
    assert set(user) == {"name", "role", "created", "disabled"} and user["disabled"] is False
    assert "long-enough-1" not in listed.text and "argon2" not in listed.text
    login(api, "dave.ops@corp", "long-enough-1")


def test_a_duplicate_user_is_409(api):
    admin = api.as_role("admin")
    body = {"name": "erin", "password": "long-enough-1", "role": "viewer"}
    assert api.simulate_post("/api/v2/users", json=body, headers=admin).status_code == 201
    again = api.simulate_post("/api/v2/users", json=body, headers=admin)
    assert again.status_code == 409 and error(again)["fields"] == {"name": "taken"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "password": "long-enough-1", "role": "viewer"}, "name"),
        ({"name": "a b", "password": "long-enough-1", "role": "viewer"}, "name"),
        ({"name": "x" * 65, "password": "long-enough-1", "role": "viewer"}, "name"),
        ({"name": 12, "password": "long-enough-1", "role": "viewer"}, "name"),
        ({"name": "frank", "password": "short", "role": "viewer"}, "password"),
        ({"name": "frank", "password": None, "role": "viewer"}, "password"),
        ({"name": "frank", "password": "long-enough-1", "role": "root"}, "role"),
        ({"name": "frank", "password": "long-enough-1"}, "role"),
        ({"name": "frank", "password": "long-enough-1", "role": "viewer", "x": 1}, "x"),
    ],
)
def test_invalid_users_are_400_naming_the_field(api, body, field):
    resp = api.simulate_post("/api/v2/users", json=body, headers=api.as_role("admin"))
    assert resp.status_code == 400 and field in error(resp)["fields"]


def test_bodies_that_are_not_objects_are_4xx(api):
    admin = api.as_role("admin")
    for body, status in (("[]", 400), ("nope", 400), ("", 400)):
        resp = api.simulate_post(
            "/api/v2/users", body=body, headers=admin | {"Content-Type": "application/json"}
        )
        assert resp.status_code == status and error(resp)
    resp = api.simulate_put("/api/v2/users/x", body="a=b", headers=admin)
    assert resp.status_code == 415 and error(resp)


def test_users_need_the_admin_role(api):
    operator = api.as_role("operator")
    assert api.simulate_get("/api/v2/users", headers=operator).status_code == 403
    body = {"name": "gina", "password": "long-enough-1", "role": "admin"}
    resp = api.simulate_post("/api/v2/users", json=body, headers=operator)
    assert resp.status_code == 403 and error(resp)
    assert api.simulate_delete("/api/v2/users/gina", headers=operator).status_code == 403
    assert api.simulate_get("/api/v2/users").status_code == 401


def test_a_user_changes_their_own_password_with_the_current_one(api):
    auth.create_user(api.db, "hank", "first-password", "viewer")
    auth.create_user(api.db, "ivy", "ivy-password", "viewer")
    hank = login(api, "hank", "first-password")
    wrong = api.simulate_put(
        "/api/v2/users/hank",
        json={"password": "second-password", "current_password": "not-it-at-all"},
        headers=hank,
    )
    assert wrong.status_code == 403 and error(wrong)["fields"] == {"current_password": "wrong"}
    missing = api.simulate_put("/api/v2/users/hank", json={"password": "x" * 12}, headers=hank)
    assert missing.status_code == 400 and "current_password" in error(missing)["fields"]
    role = api.simulate_put(
        "/api/v2/users/hank",
        json={"role": "admin", "current_password": "first-password"},
        headers=hank,
    )
    assert role.status_code == 400 and error(role)["fields"] == {"role": "unknown field"}
    other = api.simulate_put(
        "/api/v2/users/ivy",
        json={"password": "second-password", "current_password": "first-password"},
        headers=hank,
    )
    assert other.status_code == 403 and error(other)
    done = api.simulate_put(
        "/api/v2/users/hank",
        json={"password": "second-password", "current_password": "first-password"},
        headers=hank,
    )
    assert done.status_code == 200 and done.json["name"] == "hank"
    assert api.simulate_get("/api/v2/auth/me", headers=hank).status_code == 200
    login(api, "hank", "second-password")
    bad = api.simulate_post(
        "/api/v2/auth/login", json={"name": "hank", "password": "first-password"}
    )
    assert bad.status_code == 401


def test_admin_changes_role_and_password_and_the_last_admin_stays(api):
    admin = api.as_role("admin")  # of admin-user, the only admin
    auth.create_user(api.db, "jack", "jack-password", "viewer")
    jack = login(api, "jack", "jack-password")
    resp = api.simulate_put(
        "/api/v2/users/jack", json={"role": "operator", "password": "new-jack-pass"}, headers=admin
    )
    assert resp.status_code == 200 and resp.json["role"] == "operator"
    assert api.simulate_get("/api/v2/auth/me", headers=jack).status_code == 401
    login(api, "jack", "new-jack-pass")
    last = api.simulate_put("/api/v2/users/admin-user", json={"role": "viewer"}, headers=admin)
    assert last.status_code == 409 and "last admin" in error(last)["message"]
    disabled = api.simulate_put("/api/v2/users/admin-user", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 409 and "last admin" in error(disabled)["message"]
    assert (
        api.simulate_put("/api/v2/users/nobody", json={"role": "viewer"}, headers=admin).status_code
        == 404
    )
    empty = api.simulate_put("/api/v2/users/jack", json={}, headers=admin)
    assert empty.status_code == 400 and error(empty)
    short = api.simulate_put("/api/v2/users/jack", json={"password": "abc"}, headers=admin)
    assert short.status_code == 400 and "password" in error(short)["fields"]


def test_deleting_a_user_ends_their_sessions_but_never_the_last_admin(api):
    admin = api.as_role("admin")  # of admin-user, the only admin
    auth.create_user(api.db, "kim", "kim-password", "operator")
    kim = login(api, "kim", "kim-password")
    assert api.simulate_delete("/api/v2/users/kim", headers=admin).status_code == 204
    assert api.db.sessions.count_documents({"user": "kim"}) == 0
    assert api.simulate_get("/api/v2/auth/me", headers=kim).status_code == 401
    assert api.simulate_delete("/api/v2/users/kim", headers=admin).status_code == 404
    last = api.simulate_delete("/api/v2/users/admin-user", headers=admin)
    assert last.status_code == 409 and error(last)
    auth.create_user(api.db, "boss", "boss-password", "admin")
    assert api.simulate_delete("/api/v2/users/admin-user", headers=admin).status_code == 204
    boss = login(api, "boss", "boss-password")
    names = [u["name"] for u in api.simulate_get("/api/v2/users", headers=boss).json["items"]]
    assert names == ["boss"]


REMOVALS = {
    "delete": lambda api, name, admin: api.simulate_delete(f"/api/v2/users/{name}", headers=admin),
    "demote": lambda api, name, admin: api.simulate_put(
        f"/api/v2/users/{name}", json={"role": "operator"}, headers=admin
    ),
}


@pytest.mark.parametrize(
    ("first", "second"), [("delete", "delete"), ("demote", "demote"), ("delete", "demote")]
)
def test_two_simultaneous_removals_never_remove_the_last_two_admins(
    api, monkeypatch, first, second
):
    """Both requests reach their admin count together (a barrier in count_documents), the
    interleaving where a count-then-remove would remove both admins. They are made by one of
    the two admins (the only ones: a key's creator is an admin too), so both also remove
    together (a barrier before each removal), after both were authenticated."""
    for name in ("ann", "bob"):
        auth.create_user(api.db, name, f"{name}-password", "admin")
    admin = login(api, "ann", "ann-password")
    barrier = threading.Barrier(2, timeout=10)

    def together(method):
        def wrapped(self, *args, **kwargs):
            if self.name == auth.USERS:
                barrier.wait()
            return method(self, *args, **kwargs)

        return wrapped

    for method in ("find_one_and_delete", "find_one_and_update", "count_documents"):
        monkeypatch.setattr(Collection, method, together(getattr(Collection, method)))
    answers = {}

    def remove(name: str, how: str) -> None:
        answers[name] = REMOVALS[how](api, name, admin)

    threads = [
        threading.Thread(target=remove, args=pair) for pair in (("ann", first), ("bob", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    monkeypatch.undo()
    assert {answers["ann"].status_code, answers["bob"].status_code} <= {200, 204, 409}
    kept = [name for name, resp in answers.items() if resp.status_code == 409]
    assert kept, "one of them at least is refused"
    assert all("last admin" in error(answers[name])["message"] for name in kept)
    admins = sorted(u["_id"] for u in api.db[auth.USERS].find({"role": "admin"}))
    assert admins == sorted(kept)
    for name in kept:
        login(api, name, f"{name}-password")


# Engines.


def report(db, engine: str, host: str, values: dict, when: float | None = None) -> None:
    when = time.time() if when is None else when
    points = [
        (f"engine-{engine}/{host}", {"metric": k, "value": v}, when) for k, v in values.items()
    ]
    metrics.write_points(db, points)


def test_engines_lists_supervisord_programs_and_the_engines_last_report(api, supervisord):
    report(api.db, "dummy", "h1", {"events_per_second": 1.0}, time.time() - 30)
    report(api.db, "dummy", "h1", {"events_per_second": 12.5, "errors": 0, "queue_depth": 3})
    report(api.db, "old", "h1", {"errors": 4}, time.time() - 3600)
    resp = api.simulate_get("/api/v2/engines", headers=api.as_role("viewer"))
    assert resp.status_code == 200, resp.text
    [dummy] = resp.json["items"]
    assert dummy["name"] == "engine-dummy" and dummy["group"] == "engines"
    assert dummy["state"] == "RUNNING" and dummy["pid"] > 0 and dummy["uptime"] >= 0
    assert "description" in dummy
    assert dummy["engines"] == {
        "dummy": [
            {
                "host": "h1",
                "entity_id": "engine-dummy/h1",
                "metrics": {"events_per_second": 12.5, "errors": 0, "queue_depth": 3},
            }
        ]
    }


def test_engines_answers_the_chain_and_the_engines_each_program_runs(api, supervisord):
    etc = supervisord.parents[2] / "etc"
    resp = api.simulate_get("/api/v2/engines", headers=api.as_role("viewer"))
    assert resp.status_code == 200 and resp.json["chain"] == []  # no etc/engines.conf
    (etc / "engines.conf").write_text("chain = cleaner, dummy, eventstore\n")
    resp = api.simulate_get("/api/v2/engines", headers=api.as_role("viewer"))
    assert resp.json["chain"] == ["cleaner", "dummy", "eventstore"]
    [dummy] = resp.json["items"]
    assert dummy["runs"] == ["dummy"]


def test_an_admin_stops_and_starts_an_engine_program(api, supervisord):
    admin = api.as_role("admin")
    stopped = api.simulate_post("/api/v2/engines/engine-dummy/stop", headers=admin)
    assert stopped.status_code == 200, stopped.text
    assert [p["state"] for p in stopped.json["processes"]] == ["STOPPED"]
    assert _rpc(supervisord).getProcessInfo("engines:engine-dummy")["statename"] == "STOPPED"
    again = api.simulate_post("/api/v2/engines/engine-dummy/stop", headers=admin)
    assert again.status_code == 200 and again.json["processes"][0]["state"] == "STOPPED"
    started = api.simulate_post("/api/v2/engines/engines:engine-dummy/start", headers=admin)
    assert started.status_code == 200
    assert started.json["processes"][0]["state"] == "RUNNING"
    pid = started.json["processes"][0]["pid"]
    restarted = api.simulate_post("/api/v2/engines/engines/restart", headers=admin)
    assert restarted.status_code == 200
    assert restarted.json["processes"][0]["state"] == "RUNNING"
    assert restarted.json["processes"][0]["pid"] != pid


def test_engine_actions_refuse_unknown_programs_actions_and_viewers(api, supervisord):
    admin = api.as_role("admin")
    unknown = api.simulate_post("/api/v2/engines/engine-nope/start", headers=admin)
    assert unknown.status_code == 404 and error(unknown)["fields"] == {"program": "unknown"}
    action = api.simulate_post("/api/v2/engines/engine-dummy/explode", headers=admin)
    assert action.status_code == 404 and error(action)
    for role in ("viewer", "operator"):
        resp = api.simulate_post("/api/v2/engines/engine-dummy/stop", headers=api.as_role(role))
        assert resp.status_code == 403 and error(resp)
    assert _rpc(supervisord).getProcessInfo("engines:engine-dummy")["statename"] == "RUNNING"
    assert api.simulate_get("/api/v2/engines").status_code == 401


def test_engines_is_503_when_supervisord_does_not_answer(api, no_supervisord):
    viewer, admin = api.as_role("viewer"), api.as_role("admin")
    resp = api.simulate_get("/api/v2/engines", headers=viewer)
    assert resp.status_code == 503 and "supervisord" in error(resp)["message"]
    resp = api.simulate_post("/api/v2/engines/engine-dummy/stop", headers=admin)
    assert resp.status_code == 503 and error(resp)


# Healthcheck.


def broken_amqp_conf(tmp_path) -> Path:
    conf = ConfigObj(str(REPO / "etc" / "amqp.conf"), interpolation=False)
    conf.filename = str(tmp_path / "amqp.conf")
    conf["port"] = free_port()
    conf.write()
    return Path(conf.filename)


def test_healthcheck_is_ok_when_database_broker_and_engines_are_up(mongo_db, services, supervisord):
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    resp = api.simulate_get("/api/v2/healthcheck")
    assert resp.status_code == 200, resp.text
    assert resp.json == {
        "status": "ok",
        "database": "up",
        "broker": "up",
        "engines": {"engines:engine-dummy": "RUNNING"},
    }
    _rpc(supervisord).stopProcess("engines:engine-dummy")
    down = api.simulate_get("/api/v2/healthcheck")
    assert down.status_code == 503
    assert down.json["status"] == "down" and down.json["engines"] == {
        "engines:engine-dummy": "STOPPED"
    }


def test_healthcheck_without_supervisord_still_answers_ok(mongo_db, services, no_supervisord):
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    resp = api.simulate_get("/api/v2/healthcheck")
    assert resp.status_code == 200, resp.text
    assert resp.json["engines"] == {} and resp.json["supervisord"] == "down"


def health_report(engine: str, state: int = 0, output: str = "ok") -> dict:
    fields = {"engine": engine, "host": "h1", "worker": None, "state": state, "output": output}
    return {"_id": f"{engine}/h1/-", **fields, "failures": 3 * (state > 0), "queue_depth": 7}


def test_healthcheck_is_degraded_naming_a_stalled_engine_or_one_that_stopped_reporting(
    mongo_db, services, no_supervisord
):
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    why = "stalled: 3 batches failed in a row, nothing acknowledged for 9 s; last error: x"
    enginehealth.write(mongo_db, [health_report("alerts", 3, why)], time.time())
    enginehealth.write(mongo_db, [health_report("context")], time.time())
    enginehealth.write(mongo_db, [health_report("hung")], time.time() - 600)
    resp = api.simulate_get("/api/v2/healthcheck")
    assert resp.status_code == 200, resp.text
    assert resp.json["status"] == "degraded"
    assert resp.json["stalled"] == {
        "alerts/h1/-": why,
        "hung/h1/-": "no report for 600 s (the process is hung or gone)",
    }
    metrics_text = api.simulate_get("/metrics", headers=api.as_role("viewer")).text
    assert 'canopsis_engine_stalled{engine="alerts",host="h1",worker="-"} 1' in metrics_text
    assert 'canopsis_engine_stalled{engine="context",host="h1",worker="-"} 0' in metrics_text
    assert 'canopsis_engine_batch_failures{engine="alerts",host="h1",worker="-"} 3' in metrics_text
    mongo_db[enginehealth.COLLECTION].delete_many({"engine": {"$ne": "context"}})
    assert api.simulate_get("/api/v2/healthcheck").json["status"] == "ok"


def test_engines_shows_what_each_engine_process_reports_of_its_progress(api, supervisord):
    enginehealth.write(api.db, [health_report("dummy", 3, "stalled: why")], 1_700_000_000.0)
    enginehealth.write(api.db, [health_report("other")], 1_700_000_000.0)
    resp = api.simulate_get("/api/v2/engines", headers=api.as_role("viewer"))
    [dummy] = resp.json["items"]
    assert dummy["health"] == {
        "dummy/h1/-": {
            "engine": "dummy",
            "host": "h1",
            "worker": None,
            "state": 3,
            "output": "stalled: why",
            "failures": 3,
            "queue_depth": 7,
            "updated": 1_700_000_000.0,
        }
    }


def test_healthcheck_is_503_when_the_broker_is_down(mongo_db, tmp_path, no_supervisord):
    api = ApiClient(mongo_db, broken_amqp_conf(tmp_path))
    started = time.monotonic()
    resp = api.simulate_get("/api/v2/healthcheck")
    assert time.monotonic() - started < 10
    assert resp.status_code == 503
    assert resp.json["status"] == "down" and resp.json["broker"] == "down"
    assert resp.json["database"] == "up"


# Prometheus metrics.


def test_metrics_in_the_prometheus_text_format(api):
    api.db.alarms.insert_many(
        [
            {"_id": "a1", "entity_id": "e1", "state": {"val": 2}, "status": {"val": 1}},
            {"_id": "a2", "entity_id": "e2", "state": {"val": 2}, "status": {"val": 1}},
            {"_id": "a3", "entity_id": "e3", "state": {"val": 3}, "status": {"val": 4}},
        ]
    )
    api.db.alarms.update_one({"_id": "a1"}, {"$set": {"pbehavior": {"id": "pb"}}})
    api.db.alarms.update_one({"_id": "a3"}, {"$set": {"canceled": {"val": 1}}})
    api.db.dead_letters.insert_one({"_id": "d1", "body": "{}", "reasons": []})
    report(api.db, "alerts", "h1", {"events_per_second": 2.5, "errors": 1, "queue_depth": 7})
    resp = api.simulate_get("/metrics", headers=api.as_role("viewer"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = resp.text.splitlines()
    assert 'canopsis_alarms{state="2"} 2' in lines
    assert 'canopsis_alarms{state="0"} 0' in lines
    assert 'canopsis_alarms{state="3"} 1' in lines
    assert 'canopsis_alarms_by_status{status="1"} 2' in lines
    assert 'canopsis_alarms_by_status{status="4"} 1' in lines
    assert "canopsis_alarm_problems 1" in lines  # a2: a1 is in a pbehavior, a3 cancelled
    assert "canopsis_alarms_in_pbehavior 1" in lines
    assert "canopsis_dead_letters 1" in lines
    assert 'canopsis_engine_events_per_second{engine="alerts",host="h1"} 2.5' in lines
    assert 'canopsis_engine_errors{engine="alerts",host="h1"} 1' in lines
    assert 'canopsis_queue_depth{engine="alerts",host="h1"} 7' in lines
    for family in (
        "canopsis_alarms",
        "canopsis_alarms_by_status",
        "canopsis_alarm_problems",
        "canopsis_alarms_in_pbehavior",
        "canopsis_dead_letters",
        "canopsis_engine_events_per_second",
        "canopsis_engine_errors",
        "canopsis_queue_depth",
    ):
        assert f"# TYPE {family} gauge" in lines
        assert any(line.startswith(f"# HELP {family} ") for line in lines)


def test_metrics_need_credentials(api):
    resp = api.simulate_get("/metrics")
    assert resp.status_code == 401 and error(resp)


# OpenAPI fragments.


def test_every_route_has_an_openapi_path_item():
    from canopsis.webserver.resources import engines as engines_module
    from canopsis.webserver.resources import meta, users
    from canopsis.webserver.resources import metrics as metrics_module

    for module in (users, engines_module, meta, metrics_module):
        paths = {path for path, _resource in module.routes(None)}
        assert paths == set(module.OPENAPI), module.__name__
