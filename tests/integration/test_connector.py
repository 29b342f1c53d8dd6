"""The connectors' base against a real broker: what it publishes is on the entry queue,
exactly; its heartbeat goes out on its interval, and makes an alarm when it stops;
SIGTERM stops it."""

import socket
import subprocess
import time

import kombu
import pytest

from canopsis.ops import config
from tests.conftest import REPO, EngineProcess, new_services
from tests.integration import test_pipeline
from tests.integration.counting_connector import Counting
from tests.integration.test_api_event_author import published
from tests.integration.test_pipeline import CHAIN, start, stop, wait_for

pytestmark = pytest.mark.integration

KIND = "tests.integration.counting_connector"
#: the prefix with the repository's engine configuration and fast beats, and its database
site, db = test_pipeline.site, test_pipeline.db


def purge(services) -> None:
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")


@pytest.fixture
def entry(services):
    """The entry queue (declared by the managed broker at boot), empty before and after."""
    purge(services)
    yield services
    purge(services)


def test_published_events_and_the_heartbeat_are_on_the_entry_queue_exactly(entry):
    amqp_cfg = config.load("amqp", entry.prefix / "etc" / "amqp.conf")
    cfg = {"connector_name": "it", "heartbeat_interval": 30.0, "count": 0, "batch": 1}
    connector = Counting("counting-it", cfg, amqp_cfg)
    try:
        events = [connector.event("check", "h1", f"r{i}", state=i % 4) for i in range(250)]
        assert connector.publish(events) == 250
        connector.beat(time.time())
    finally:
        connector.close()
        connector._disconnect()
    found = published(entry)
    checks = [e for e in found if e["event_type"] == "check"]
    assert sorted(e["resource"] for e in checks) == sorted(f"r{i}" for i in range(250))
    assert {(e["connector"], e["connector_name"]) for e in checks} == {("counting", "it")}
    [beat] = [e for e in found if e["event_type"] == "heartbeat"]
    assert beat["resource"] == "connector-counting-it"
    assert beat["interval"] == 60.0
    assert len(found) == 251


class ConnectorProcess(EngineProcess):
    """``canopsis-connector`` running the counting connector NAME of a prefix, with ``conf``
    as its ``etc/connectors/<NAME>.conf``; its log in the prefix."""

    def __init__(self, services, name: str, conf: str) -> None:
        folder = services.prefix / "etc" / "connectors"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.conf").write_text(conf)
        self.log = services.prefix / "var" / "log" / f"connector-{name}.log"
        env = dict(services.env, PYTHONPATH=str(REPO))
        command = [services.command("canopsis-connector"), KIND, name]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_the_program_publishes_beats_and_stops_on_sigterm(entry):
    connector = ConnectorProcess(
        entry, "counting-it", "heartbeat_interval = 1\ncount = 45\nbatch = 10\n"
    )
    seen: list[dict] = []

    def enough() -> bool:
        seen.extend(published(entry))
        beats = [e for e in seen if e["event_type"] == "heartbeat"]
        return len(seen) - len(beats) >= 45 and len(beats) >= 3

    try:
        wait_for(enough, 30, "45 events and 3 heartbeats")
    finally:
        assert connector.stop(10) == 0
    seen.extend(published(entry))
    checks = [e for e in seen if e["event_type"] == "check"]
    assert sorted(e["output"] for e in checks) == sorted(f"n{i}" for i in range(45))
    beats = [e for e in seen if e["event_type"] == "heartbeat"]
    reported = sum(
        m["value"] for b in beats for m in b["perf_data_array"] if m["metric"] == "events_published"
    )
    assert reported == 45
    text = connector.text()
    assert "canopsis.connectors.counting-it: SIGTERM received: stopping" in text
    assert text.rstrip().endswith("canopsis.connectors.counting-it: stopped")


def test_sigterm_stops_it_at_once_while_it_waits_for_a_broker_that_is_down(tmp_path):
    (tmp_path / "prefix").mkdir()
    down = new_services(tmp_path / "prefix")  # nothing runs: its broker's port is closed
    connector = ConnectorProcess(down, "counting", "count = 5\n")
    try:
        wait_for(lambda: "broker unreachable" in connector.text(), 30, "a broker unreachable")
    finally:
        assert connector.stop(5) == 0
    assert connector.text().rstrip().endswith("canopsis.connectors.counting: stopped")


def test_a_connector_that_dies_becomes_an_alarm_on_its_own_entity(site, db):
    entity = f"connector-counting-dies/{socket.gethostname()}"
    db.alarms.delete_many({"entity_id": entity})
    engines = start(site, *CHAIN)
    connector = ConnectorProcess(site, "counting-dies", "heartbeat_interval = 1\n")
    try:
        wait_for(lambda: db.heartbeat_states.find_one({"_id": entity}), 60, "its heartbeat")
        assert db.alarms.find_one({"entity_id": entity}) is None
        connector.proc.kill()
        alarm = wait_for(
            lambda: db.alarms.find_one({"entity_id": entity, "state.val": 3}), 60, "an alarm"
        )
    finally:
        connector.proc.kill()
        connector.proc.wait()
        stop(engines)
    assert (alarm["connector"], alarm["connector_name"]) == ("canopsis", "connectors")
    assert alarm["output"].startswith(f"heartbeat {entity!r}: no event "), alarm["output"]
    assert alarm["output"].endswith(" ago, expected every 2s"), alarm["output"]
    db.alarms.delete_many({"entity_id": entity})
