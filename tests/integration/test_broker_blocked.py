"""A broker in a resource alarm, on the real RabbitMQ: its disk free limit raised above the
free space (``rabbitmqctl set_disk_free_limit``), so it blocks every connection that publishes,
then lowered again.

Senders (the API through gunicorn, the ingest service, ``send_event``) answer at once that the
broker refuses publishes, naming the alarm, and publish nothing; the healthchecks say the broker
is blocked; engines wait with what they hold and go on, exactly, when the alarm clears.
"""

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator

import kombu
import pymongo
import pytest
from configobj import ConfigObj

from canopsis.domain import ingestkeys
from canopsis.ops import config
from canopsis.runtime import deadletters, topology
from tests.conftest import free_port, make_key, wait_for_port
from tests.integration.test_api_gunicorn import call
from tests.integration.test_ingest import ingest  # noqa: F401 (a fixture)
from tests.integration.test_pipeline import (  # noqa: F401 (site: a fixture)
    expected,
    send,
    site,
    start,
    stop,
    stored,
    stream,
    wait_applied,
    wait_for,
)

pytestmark = pytest.mark.integration

RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"
REFUSED = "the broker refuses publishes: disk alarm"


def rabbitmq(services, command: str, *args: str) -> str:
    """``command`` (rabbitmqctl, rabbitmq-diagnostics) against the services' node; its output."""
    home = services.prefix / "var" / "lib" / "rabbitmq"
    node = config.load("amqp", services.prefix / "etc" / "amqp.conf")["nodename"]
    result = subprocess.run(
        [f"{RABBITMQ_BIN}/{command}", "-q", "-n", node, *args],
        env={**services.env, "HOME": str(home)},  # the node's Erlang cookie
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def disk_alarm_on(services) -> bool:
    return "disk" in rabbitmq(services, "rabbitmq-diagnostics", "alarms")


@contextlib.contextmanager
def disk_alarm(services) -> Iterator[None]:
    """The broker in a disk alarm for the block; its configured limit back afterwards."""
    tuning = (services.prefix / "etc" / "rabbitmq" / "rabbitmq.conf").read_text()
    limit = tuning.split("disk_free_limit.absolute =", 1)[1].split()[0]
    free = shutil.disk_usage(services.prefix).free
    try:
        rabbitmq(services, "rabbitmqctl", "set_disk_free_limit", str(free + 10**12))
        wait_for(lambda: disk_alarm_on(services), 30, "the disk alarm")
        yield
    finally:
        rabbitmq(services, "rabbitmqctl", "set_disk_free_limit", limit)
        wait_for(lambda: not disk_alarm_on(services), 30, "the end of the disk alarm")


def event(component: str) -> dict:
    return {
        "connector": "it",
        "connector_name": "blocked",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": "disk",
        "state": 2,
    }


def entry_depth(services) -> int:
    """Messages waiting in the entry engine's queue (no engine runs in these tests)."""
    with kombu.Connection(services.amqp_url) as conn:
        return conn.default_channel.queue_declare("Engine_cleaner", passive=True).message_count


@pytest.fixture
def empty_entry(services):
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")


@pytest.fixture
def db(services):
    client = pymongo.MongoClient(services.mongo_uri, serverSelectionTimeoutMS=5000)
    yield client[services.database]
    client.close()


def key(services, db, role: str) -> dict[str, str]:
    """The key header of a new user with ``role``, also in the ingest service's key file."""
    _doc, secret = make_key(db, role, "blocked")
    ingestkeys.write(db, services.prefix / "var" / "lib" / "ingest" / "keys.json")
    return {"Authorization": f"Key {secret}"}


@pytest.fixture
def keys(services, db) -> dict[str, str]:
    """An operator's key header."""
    return key(services, db, "operator")


@pytest.fixture
def webserver(services) -> Iterator[str]:
    """gunicorn serving the API (``canopsis-launch webserver``), no engine; its base URL."""
    conf = ConfigObj(str(services.prefix / "etc" / "webserver.conf"), interpolation=False)
    port = free_port()
    conf["server"]["port"] = port
    conf.write()
    (services.prefix / "var" / "run").mkdir(parents=True, exist_ok=True)
    try:
        wait_for_port(port, 30, services.start("webserver"))
        yield f"http://127.0.0.1:{port}/api/v2"
    finally:
        services.stop("webserver")


def test_the_api_answers_503_naming_the_alarm_and_publishes_nothing(
    services, webserver, db, keys, empty_entry
):
    admin = key(services, db, "admin")
    db[deadletters.COLLECTION].insert_one(
        deadletters.letter("blocked-1", json.dumps(event("replayed")), [], "k", "cleaner", 0)
    )
    replay = f"{webserver}/deadletters/blocked-1/replay"
    assert call(f"{webserver}/event", event("before"), keys)[0] == 202
    with disk_alarm(services):
        for component in ("during-1", "during-2"):
            status, body = call(f"{webserver}/event", event(component), keys)
            assert (status, body) == (
                503,
                {"error": {"code": 503, "message": f"{REFUSED}; retry later", "fields": {}}},
            )
        assert call(replay, {}, admin) == (503, body)
        status, health = call(f"{webserver}/healthcheck")
        assert status == 200, health
        assert (health["status"], health["broker"]) == ("degraded", "blocked")
    wait_for(
        lambda: call(f"{webserver}/event", event("after"), keys)[0] == 202,
        30,
        "the API to take events again",
    )
    status, health = call(f"{webserver}/healthcheck")
    assert (status, health["status"], health["broker"]) == (200, "ok", "up")
    assert call(replay, {}, admin)[0] == 202  # the letter was kept
    # the refused requests published nothing: their senders may send them again
    assert entry_depth(services) == 3


def test_the_ingest_service_answers_503_naming_the_alarm(
    services,
    ingest,  # noqa: F811
    keys,
    empty_entry,
):
    url = f"http://127.0.0.1:{ingest}"
    with disk_alarm(services):
        status, body = call(f"{url}/event", event("ingest-during"), keys)
        assert (status, body["error"]["message"]) == (503, f"{REFUSED}; retry later")
        assert call(f"{url}/health") == (200, {"status": "degraded", "broker": "blocked"})
    wait_for(
        lambda: call(f"{url}/event", event("ingest-after"), keys)[0] == 202,
        30,
        "the ingest service to take events again",
    )
    assert call(f"{url}/health") == (200, {"status": "ok", "broker": "up"})
    assert entry_depth(services) == 1


def send_event(services, component: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [services.command("send_event"), "--file", "-"],
        input=json.dumps(event(component)),
        env=services.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_send_event_exits_1_naming_the_alarm(services, empty_entry):
    with disk_alarm(services):
        refused = send_event(services, "cli-during")
    assert (refused.returncode, refused.stderr) == (1, f"send_event: {REFUSED}\n")
    sent = send_event(services, "cli-after")
    assert sent.returncode == 0, sent.stderr
    assert entry_depth(services) == 1


SPLIT = (
    ("cleaner", "event_filter", "context", "perfdata", "pbehavior"),
    ("alerts", "heartbeat", "eventstore"),
)


def test_engines_wait_while_the_broker_blocks_them_and_lose_nor_duplicate_anything(
    site,  # noqa: F811
    db,
):
    """The chain in two processes, so the first forwards every event through the broker; a
    batch's forwards (200 KB events) are more than the sockets hold, and the alarm outlasts a
    confirm's timeout (amqp.CONFIRM_TIMEOUT, 30 s)."""
    services = site
    events = [{**ev, "detail": "x" * 200_000} for ev in stream("blocked", entities=20, length=3)]
    procs = []
    try:
        send(services.amqp_url, *events)
        with disk_alarm(services):
            procs = [start(services, *SPLIT[1]), start(services, *SPLIT[0])]
            # the first batch is written (entities) and its forwards wait for the broker
            wait_for(lambda: db.entities.find_one({"component": "blocked-0"}), 60, "a batch")
            time.sleep(35)
            assert stored(db, "blocked") == {}
            assert all(proc.proc.poll() is None for proc in procs)
        assert wait_applied(db, "blocked", events) == expected(events)
    finally:
        for proc in procs:
            stop(proc)
        with kombu.Connection(services.amqp_url) as conn:  # a layout other tests do not expect
            conn.default_channel.queue_delete(topology.queue_name("alerts", 1))
            conn.default_channel.exchange_delete(topology.engine_exchange("alerts").name)
    first = procs[1].text()
    assert "failed" not in first + procs[0].text(), first
    assert f"canopsis.amqp: {REFUSED}" in first and "accepts publishes again" in first
