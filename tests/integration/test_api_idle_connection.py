"""The API's broker connection after the process sat idle longer than two heartbeats: the broker
has closed it (nothing answered its heartbeats between requests), and the next request opens
another connection and is accepted, instead of failing with a 503. The same when the broker
closes the connection right after a request."""

import logging
from pathlib import Path

import kombu
import pytest
from configobj import ConfigObj

from tests.conftest import ApiClient
from tests.integration.test_api_alarms import received
from tests.integration.test_broker_blocked import event, rabbitmq
from tests.integration.test_pipeline import wait_for

pytestmark = pytest.mark.integration


def heartbeats(services) -> list[str]:
    """The heartbeat timeout of each connection the broker holds."""
    return rabbitmq(services, "rabbitmqctl", "list_connections", "timeout").split()


def test_a_request_after_an_idle_time_replaces_the_connection_the_broker_closed(
    services, mongo_db, tmp_path
):
    conf = ConfigObj(str(services.prefix / "etc" / "amqp.conf"), interpolation=False)
    conf.filename = str(tmp_path / "amqp.conf")
    conf["heartbeat"] = 1
    conf.write()
    api = ApiClient(mongo_db, Path(conf.filename))
    operator = api.as_role("operator")
    first = api.simulate_post("/api/v2/event", json=event("idle-1"), headers=operator)
    assert first.status_code == 202, first.text
    assert "1" in heartbeats(services)
    wait_for(lambda: "1" not in heartbeats(services), 60, "the broker to close the connection")
    after = api.simulate_post("/api/v2/event", json=event("idle-2"), headers=operator)
    assert after.status_code == 202, after.text
    assert api.simulate_get("/api/v2/healthcheck").json["broker"] == "up"


def test_a_connection_the_broker_closed_after_a_request_is_replaced_for_the_next(
    services, mongo_db, caplog
):
    caplog.set_level(logging.INFO, "canopsis.webserver")
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    operator = api.as_role("operator")
    exchange = kombu.Exchange("canopsis.events", type="topic", durable=True)
    with kombu.Connection(services.amqp_url) as conn:
        channel = conn.channel()
        exchange(channel).declare()
        key = "it.blocked.check.resource.*.disk"
        queue = kombu.Queue("", exchange, routing_key=key, exclusive=True)(channel)
        queue.declare()
        first = api.simulate_post("/api/v2/event", json=event("busy-1"), headers=operator)
        assert first.status_code == 202, first.text
        port = api.sender.conn.connection.sock.getsockname()[1]
        listed = rabbitmq(services, "rabbitmqctl", "list_connections", "pid", "peer_port")
        [pid] = [line.split()[0] for line in listed.splitlines() if line.split()[1:] == [str(port)]]
        rabbitmq(services, "rabbitmqctl", "close_connection", pid, "closed by the test")
        second = api.simulate_post("/api/v2/event", json=event("busy-2"), headers=operator)
        assert second.status_code == 202, second.text
        assert "broker connection lost" in caplog.text and "closed by the test" in caplog.text
        assert api.sender.conn.connection.sock.getsockname()[1] != port
        components = [sent["component"] for _key, sent in received(queue, 3, timeout=3)]
        assert components == ["busy-1", "busy-2"]
