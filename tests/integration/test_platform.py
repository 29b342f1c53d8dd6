"""build-install.sh into a temporary prefix on free ports, then hypcontrol and service.

The tests of this module run in order on one installed prefix: install,
start, drive the programs, stop, update, remove.
"""

import grp
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import kombu
import pymongo
import pytest
from configobj import ConfigObj

from canopsis.ops import config
from tests.conftest import REPO, free_port
from tests.integration.test_exposure import (
    LOOPBACK,
    assert_anonymous_refused,
    assert_wrong_password,
    epmd_addresses,
    listening,
)

pytestmark = pytest.mark.integration

PROGRAMS = {"mongodb", "rabbitmq-server", "collectd", "webserver", "ingest", "engine-pipeline"}


def run(
    *command: str, check: bool = False, env: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in (env or os.environ).items() if k != "CANOPSIS_PREFIX"}
    # not from the checkout: ``python -m`` puts the working directory first on sys.path, so an
    # installed program (an older canopsis' install steps) would import this tree's code
    kwargs.setdefault("cwd", "/")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, **kwargs)
    if check:
        assert done.returncode == 0, (
            f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def new_prefix(db_password: bool = True) -> tuple[Path, dict[str, int]]:
    """A temporary prefix whose administrator chose free ports before installing (and the
    password of canopsis' database user, which a canopsis older than it does not know)."""
    prefix = Path(tempfile.mkdtemp(prefix="canopsis-test-", dir="/var/tmp"))
    prefix.chmod(0o755)
    ports = {name: free_port() for name in ("amqp", "dist", "mongo", "web", "ingest")}
    (prefix / "etc").mkdir()
    (prefix / "etc" / "amqp.conf").write_text(
        f"port = {ports['amqp']}\ndist_port = {ports['dist']}\n"
        f"nodename = {prefix.name}@localhost\npassword = s3cret-test\n"
    )
    (prefix / "etc" / "mongo.conf").write_text(
        f"port = {ports['mongo']}\n" + ("password = s3cret-db\n" if db_password else "")
    )
    (prefix / "etc" / "webserver.conf").write_text(f"[server]\nport = {ports['web']}\n")
    (prefix / "etc" / "ingest.conf").write_text(f"[server]\nport = {ports['ingest']}\n")
    return prefix, ports


def remove_prefix(prefix: Path) -> None:
    """Stop what runs in ``prefix``, then remove it."""
    if (prefix / "var" / "run" / "supervisor.sock").exists():
        run(str(prefix / "bin" / "hypcontrol"), "stop")
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def site():
    prefix, ports = new_prefix()
    install = run(str(REPO / "build-install.sh"), "--prefix", str(prefix))
    yield {"prefix": prefix, "ports": ports, "install": install}
    remove_prefix(prefix)


def mongo(site) -> pymongo.MongoClient:
    """A client of the installed database, as canopsis' user."""
    cfg = config.load("mongo", site["prefix"] / "etc" / "mongo.conf")
    return pymongo.MongoClient(config.mongo_uri(cfg), serverSelectionTimeoutMS=5000)


def bin_(site, command: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return run(str(site["prefix"] / "bin" / command), *args, **kwargs)


def status(site) -> dict[str, tuple[str, int]]:
    out = bin_(site, "hypcontrol", "status").stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    return {row[0].split(":")[-1]: (row[1], int(row[2]) if row[2] != "-" else 0) for row in rows}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def prefix_processes(prefix: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(prefix) in cmdline and int(proc.name) != os.getpid():
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


def test_install_prints_one_line_per_step(site):
    install = site["install"]
    assert install.returncode == 0, install.stdout + install.stderr
    lines = install.stdout.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert [s.split()[1] for s in steps] == [
        "layout",
        "rabbitmq-server",
        "collectd-core",
        "python",
        "canopsis",
        "console",
        "mongodb:",
        "supervisor",
    ]
    assert all(line.startswith("[ok] ") for line in steps)
    assert re.search(
        r"^\[ok\] rabbitmq-server 3\.\d+ \((present|installed)\)", install.stdout, re.M
    )
    assert (
        "etc/amqp.conf: changed here, kept; the new default is beside it as "
        "etc/amqp.conf.dist" in install.stdout
    )
    for folder in ("bin", "etc", "var/log", "var/run", "var/lib", "var/cache"):
        assert (site["prefix"] / folder).is_dir(), folder
    for command in ("hypcontrol", "service", "canopsis-launch", "canopsis-engine", "send_event"):
        assert os.access(site["prefix"] / "bin" / command, os.X_OK), command
    password_file = site["prefix"] / "etc" / "admin-password"
    name, password = password_file.read_text().split()
    assert f"first admin: {name} / {password} " in install.stdout
    assert password_file.stat().st_mode & 0o777 == 0o600 and password_file.stat().st_uid == 0


def test_second_install_changes_nothing(site):
    before = {p: p.stat().st_mtime_ns for p in (site["prefix"] / "etc").rglob("*")}
    again = run(str(REPO / "build-install.sh"), "--prefix", str(site["prefix"]), check=True)
    assert (
        again.stdout.splitlines()[-2]
        == f"canopsis is up to date in {site['prefix']}: nothing changed"
    )
    assert "(present)" in again.stdout
    after = {p: p.stat().st_mtime_ns for p in (site["prefix"] / "etc").rglob("*")}
    assert after == before


def test_hypcontrol_start_runs_every_program_and_every_port_answers(site):
    started = bin_(site, "hypcontrol", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert [line.split()[2] for line in started.stdout.splitlines()] == [
        "storage:",
        "engines:",
        "frontend:",
    ]
    states = status(site)
    assert set(states) == PROGRAMS
    assert {state for state, _ in states.values()} == {"RUNNING"}
    assert bin_(site, "hypcontrol", "status").returncode == 0

    ports = site["ports"]
    with mongo(site) as client:
        assert client.admin.command("ping")["ok"] == 1
    amqp = ConfigObj(str(site["prefix"] / "etc" / "amqp.conf"))
    with kombu.Connection(
        f"amqp://canopsis:{amqp['password']}@127.0.0.1:{ports['amqp']}/canopsis"
    ) as conn:
        conn.connect()
        assert conn.connected
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['web']}/api/v2/version") as answer:
        assert answer.status == 200


def test_the_running_system_listens_on_loopback_only(site):
    pid = int((site["prefix"] / "var" / "run" / "supervisord.pid").read_text())
    found = listening([pid], site["prefix"])
    ports = site["ports"]
    assert {ports[name] for name in ports} <= {port for _, port in found}, found
    assert [(address, port) for address, port in found if address not in LOOPBACK] == []
    assert epmd_addresses([pid]) == ["127.0.0.1"]


def test_the_database_answers_only_canopsis_user(site):
    with mongo(site) as client:
        client.canopsis.users.find_one()
    assert_anonymous_refused(site["ports"]["mongo"], "canopsis")
    assert_wrong_password(
        f"mongodb://canopsis:wrong@127.0.0.1:{site['ports']['mongo']}/", "canopsis"
    )


def assert_logs_private(prefix: Path) -> None:
    """Every log is 0640 and every folder of logs 2750, of the canopsis group."""
    logs = prefix / "var" / "log"
    seen = {}
    for path in [logs, *logs.rglob("*")]:
        info = path.stat()
        seen[str(path.relative_to(prefix))] = (
            oct(info.st_mode & 0o7777),
            grp.getgrgid(info.st_gid).gr_name,
        )
    wanted = {
        name: (
            "0o2751" if name == "var/log" else "0o2750" if (prefix / name).is_dir() else "0o640",
            "canopsis",
        )
        for name in seen
    }
    assert seen == wanted
    assert "var/log/supervisord.log" in seen and "var/log/webserver-access.log" in seen


def test_logs_are_readable_by_the_canopsis_group_only(site):
    assert_logs_private(site["prefix"])
    assert any(
        name.endswith(".log")
        for name in map(str, (site["prefix"] / "var" / "log" / "rabbitmq").iterdir())
    )


def test_broker_refuses_guest(site):
    guest = kombu.Connection(f"amqp://guest:guest@127.0.0.1:{site['ports']['amqp']}//")
    with guest, pytest.raises(Exception, match="ACCESS_REFUSED"):
        guest.connect()


def test_collectd_publishes_host_metrics_to_the_broker(site):
    amqp = ConfigObj(str(site["prefix"] / "etc" / "amqp.conf"))
    url = f"amqp://canopsis:{amqp['password']}@127.0.0.1:{site['ports']['amqp']}/canopsis"
    exchange = kombu.Exchange("canopsis.events", type="topic", durable=True)
    queue = kombu.Queue("test-collectd", exchange, routing_key="collectd", auto_delete=True)
    plugins = set()
    with kombu.Connection(url) as conn, conn.SimpleQueue(queue) as simple:
        deadline = time.monotonic() + 40
        while not {"cpu", "memory", "load"} <= plugins and time.monotonic() < deadline:
            try:
                message = simple.get(timeout=2)
            except simple.Empty:
                continue
            plugins |= {item["plugin"] for item in message.payload}
            message.ack()
    assert {"cpu", "memory", "load"} <= plugins


def test_engine_pipeline_consumes_and_stays_running(site):
    _, pid = status(site)["engine-pipeline"]
    log = site["prefix"] / "var" / "log" / "engine-pipeline.log"
    chain = "consuming Engine_cleaner (cleaner -> event_filter -> context -> perfdata -> pbehavior"
    wait_for(lambda: chain in log.read_text(), 30, "the engine chain to consume")
    time.sleep(3)
    assert status(site)["engine-pipeline"] == ("RUNNING", pid)
    assert "Traceback" not in log.read_text()


def test_a_sent_event_becomes_an_alarm_and_host_metrics_are_stored(site):
    sent = bin_(
        site,
        "send_event",
        *("--connector", "nagios", "--connector-name", "n1", "--event-type", "check"),
        *("--component", "web1", "--resource", "http", "--state", "2", "--output", "HTTP 500"),
    )
    assert sent.returncode == 0, sent.stderr
    with mongo(site) as client:
        db = client["canopsis"]
        alarm = wait_for(lambda: db.alarms.find_one({"entity_id": "http/web1"}), 30, "the alarm")
        assert alarm["state"]["val"] == 2 and alarm["output"] == "HTTP 500"
        assert db.entities.find_one({"_id": "http/web1"})["depends"] == ["web1"]
        load = {"entity_id": {"$regex": "^load/"}, "metric": "load-shortterm"}
        wait_for(lambda: db.perfdata.find_one(load), 60, "collectd's load metric in perfdata")


def test_the_first_admin_logs_in_and_posts_an_event_through_gunicorn(site):
    base = f"http://127.0.0.1:{site['ports']['web']}/api/v2"
    name, password = (site["prefix"] / "etc" / "admin-password").read_text().split()
    login = call(f"{base}/auth/login", {"name": name, "password": password})
    assert login.status == 200
    cookie = login.headers["Set-Cookie"].split(";")[0]
    event = {
        "connector": "api",
        "connector_name": "platform",
        "event_type": "check",
        "source_type": "component",
        "component": "db-é1",
        "state": 3,
    }
    posted = call(f"{base}/event", [event, {**event, "state": 9}], cookie)
    assert posted.status == 202
    body = json.loads(posted.read())
    assert body["accepted"] == 1 and body["refused"][0]["index"] == 1
    listed = wait_for(
        lambda: json.loads(call(f"{base}/alarms?component=db-%C3%A91", None, cookie).read())[
            "items"
        ],
        30,
        "the alarm in GET /api/v2/alarms",
    )
    [alarm] = listed
    assert alarm["state"]["val"] == 3 and "steps" not in alarm
    alarm_path = f"{base}/alarms/{urllib.parse.quote(alarm['_id'], safe='')}"
    acked = call(f"{alarm_path}/ack", {"output": "on it"}, cookie)
    assert acked.status == 202
    detail = wait_for(
        lambda: (found := json.loads(call(alarm_path, None, cookie).read()))["ack"] and found,
        30,
        "the ack",
    )
    assert detail["ack"]["a"] == name and detail["steps"][-1]["_t"] == "ack"
    denied = call(f"{base}/auth/me", None)
    assert denied.status == 401


def test_the_ingest_service_takes_an_event_with_a_key_made_through_the_api(site):
    base = f"http://127.0.0.1:{site['ports']['web']}/api/v2"
    name, password = (site["prefix"] / "etc" / "admin-password").read_text().split()
    login = call(f"{base}/auth/login", {"name": name, "password": password})
    cookie = login.headers["Set-Cookie"].split(";")[0]
    made = call(f"{base}/apikeys", {"role": "operator", "description": "probe"}, cookie)
    assert made.status == 201
    key = json.loads(made.read())["key"]
    ingest = f"http://127.0.0.1:{site['ports']['ingest']}/event"
    event = {
        "connector": "probe",
        "connector_name": "http",
        "event_type": "check",
        "source_type": "component",
        "component": "www-ingest",
        "state": 2,
    }
    assert call(ingest, event, headers={"Authorization": f"Key {key}"}).status == 202
    assert call(ingest, event).status == 401
    with mongo(site) as client:
        alarms = client["canopsis"].alarms
        wait_for(lambda: alarms.find_one({"entity_id": "www-ingest"}), 30, "the ingested alarm")


def call(url: str, body, cookie: str | None = None, headers: dict[str, str] | None = None):
    """One request to the installed API; the response, whatever its status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    for header, value in (headers or {}).items():
        request.add_header(header, value)
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        return urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc


def test_service_restart_gives_a_new_pid(site):
    _, before = status(site)["webserver"]
    restarted = bin_(site, "service", "webserver", "restart")
    assert restarted.returncode == 0, restarted.stderr
    state, after = status(site)["webserver"]
    assert state == "RUNNING" and after not in (0, before)


def test_killed_program_is_restarted_by_supervisord(site):
    _, pid = status(site)["mongodb"]
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: status(site)["mongodb"][0] == "RUNNING" and status(site)["mongodb"][1] != pid,
        30,
        "supervisord to restart mongodb",
    )


def test_service_status_exits_3_when_stopped(site):
    assert bin_(site, "service", "collectd", "status").returncode == 0
    assert bin_(site, "service", "collectd", "stop").returncode == 0
    stopped = bin_(site, "service", "collectd", "status")
    assert stopped.returncode == 3
    assert "STOPPED" in stopped.stdout
    assert bin_(site, "hypcontrol", "status").returncode != 0
    assert bin_(site, "service", "collectd", "start").returncode == 0


def test_service_takes_a_group_or_a_pattern(site):
    group = bin_(site, "service", "engines", "status")
    assert group.returncode == 0 and "engines:engine-pipeline" in group.stdout
    pattern = bin_(site, "service", "rabbit*", "status")
    assert pattern.returncode == 0 and "rabbitmq-server" in pattern.stdout


def test_unknown_service_name_gets_one_line_with_the_known_names(site):
    unknown = bin_(site, "service", "nosuch", "start")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "service: unknown service 'nosuch'; known: collectd, engine-pipeline, engines, "
        "ingest, mongodb, rabbitmq-server, webserver"
    ]


def test_unknown_hypcontrol_verb_gets_one_line(site):
    wrong = bin_(site, "hypcontrol", "launch")
    assert wrong.returncode == 2
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'launch'" in wrong.stderr


def test_reload_restarts_only_the_programs_whose_configuration_changed(site):
    before = status(site)
    conf = site["prefix"] / "etc" / "webserver.conf"
    conf.write_text(conf.read_text() + "# read again by the webserver only\n")
    reloaded = bin_(site, "hypcontrol", "reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    assert re.fullmatch(
        r"hypcontrol: \[ok\] frontend: webserver restarted \([\d.]+ s\)\n", reloaded.stdout
    )
    after = status(site)
    assert after.pop("webserver")[1] != before.pop("webserver")[1]
    assert after == {name: (state, pid) for name, (state, pid) in before.items()}
    again = bin_(site, "hypcontrol", "reload")
    assert again.stdout == (
        "hypcontrol: every program runs its current code and configuration: nothing to restart\n"
    )


def test_bad_config_value_fails_naming_file_and_key(site):
    conf = site["prefix"] / "etc" / "webserver.conf"
    good = conf.read_text()
    conf.write_text(good.replace(f"port = {site['ports']['web']}", "port = abc"))
    try:
        bad = bin_(site, "hypcontrol", "start")
        assert bad.returncode == 1
        assert bad.stderr.strip().splitlines() == [
            f"hypcontrol: {conf}: server.port = 'abc': expected integer(min=1, max=65535)"
        ]
        assert bad.stdout.splitlines()[-1] == "hypcontrol: [FAIL] frontend: not started"
    finally:
        conf.write_text(good)


def test_a_failed_section_does_not_stop_the_sections_that_do_not_need_it(site):
    assert bin_(site, "service", "engines", "stop").returncode == 0
    conf = site["prefix"] / "etc" / "engines" / "alerts.conf"
    good = conf.read_text()
    conf.write_text(good.replace("batch_size = 500", "batch_size = lots"))
    try:
        started = bin_(site, "hypcontrol", "start")
    finally:
        conf.write_text(good)
    assert started.returncode == 1
    assert "hypcontrol: [FAIL] engines: engines:engine-pipeline" in started.stdout
    assert re.search(
        r"^hypcontrol: \[ok\] frontend: webserver, ingest, collectd started", started.stdout, re.M
    )
    assert f"{conf}: batch_size = 'lots': expected integer" in started.stderr
    assert started.stderr.splitlines()[-1] == (
        "hypcontrol: not started: engines:engine-pipeline (section engines)"
    )
    states = status(site)
    assert states.pop("engine-pipeline")[0] == "FATAL"
    assert {state for state, _ in states.values()} == {"RUNNING"}
    with urllib.request.urlopen(
        f"http://127.0.0.1:{site['ports']['web']}/api/v2/version"
    ) as answer:
        assert answer.status == 200


def test_hypcontrol_stop_leaves_no_process_behind(site):
    stopped = bin_(site, "hypcontrol", "stop")
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: prefix_processes(site["prefix"]) == [], 30, "the prefix's processes to end")
    assert bin_(site, "hypcontrol", "status").returncode == 3


def test_service_starts_supervisord_when_it_is_not_running(site):
    assert not (site["prefix"] / "var" / "run" / "supervisor.sock").exists()
    stopped = bin_(site, "service", "mongodb", "status")
    assert stopped.returncode == 3
    assert "STOPPED" in stopped.stdout


def test_an_unmanaged_database_is_left_to_its_own_server(site):
    conf = site["prefix"] / "etc" / "mongo.conf"
    good = conf.read_text()
    conf.write_text(good + 'managed = false\nuri = "mongodb://db.example:27017/"\n')
    try:
        started = bin_(site, "hypcontrol", "start")
        assert started.returncode == 0, started.stderr
        states = status(site)
        assert states.pop("mongodb") == ("UNMANAGED", 0)
        assert {state for state, _ in states.values()} == {"RUNNING"}
        refused = bin_(site, "service", "mongodb", "start")
        assert refused.returncode == 1
        assert refused.stdout.strip() == (
            f"service: mongodb is not run by canopsis (managed = false in {conf})"
        )
    finally:
        conf.write_text(good)
        bin_(site, "hypcontrol", "stop")


def test_administrator_edit_survives_an_update(site):
    conf = site["prefix"] / "etc" / "hypcontrol.conf"
    edited = conf.read_text().replace("timeout = 120", "timeout = 200")
    conf.write_text(edited)
    update = run(
        str(REPO / "build-install.sh"), "--prefix", str(site["prefix"]), "--update", check=True
    )
    assert (
        "etc/hypcontrol.conf: changed here, kept; the new default is beside it as "
        "etc/hypcontrol.conf.dist" in update.stdout
    )
    assert conf.read_text() == edited
    assert (
        conf.with_name("hypcontrol.conf.dist").read_text()
        == (REPO / "etc" / "hypcontrol.conf").read_text()
    )


def test_build_install_refuses_a_non_root_user(site):
    script = Path(tempfile.mkdtemp(dir="/var/tmp")) / "build-install.sh"
    script.parent.chmod(0o755)
    shutil.copy(REPO / "build-install.sh", script)
    refused = run(
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        str(script),
        "--prefix",
        str(site["prefix"]),
    )
    shutil.rmtree(script.parent)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"build-install.sh: must be run as root (try: sudo {script} --prefix {site['prefix']})"
    ]


def test_remove_keeps_configuration_and_data_and_purge_removes_all(site):
    prefix = site["prefix"]
    removed = run(str(REPO / "build-install.sh"), "--prefix", str(prefix), "--remove", check=True)
    assert "canopsis removed from" in removed.stdout
    assert not (prefix / "venv").exists() and not (prefix / "bin").exists()
    assert (prefix / "etc" / "amqp.conf").exists()
    assert (prefix / "var" / "lib" / "mongodb").is_dir()
    # installed again on the kept configuration and data, canopsis reads its alarms
    run(str(REPO / "build-install.sh"), "--prefix", str(prefix), check=True)
    try:
        run(str(prefix / "bin" / "hypcontrol"), "start", check=True)
        with mongo(site) as client:
            assert client.canopsis.alarms.find_one({"entity_id": "http/web1"})
        assert_anonymous_refused(site["ports"]["mongo"], "canopsis")
    finally:
        run(str(prefix / "bin" / "hypcontrol"), "stop", check=True)
    run(str(REPO / "build-install.sh"), "--prefix", str(prefix), "--remove", "--purge", check=True)
    assert not prefix.exists()
