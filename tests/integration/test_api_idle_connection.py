"""The API's broker connection after the process sat idle longer than two heartbeats: the broker
has closed it (nothing answered its heartbeats between requests), and the next request opens
another connection and is accepted, instead of failing with a 503."""

from pathlib import Path

import pytest
from configobj import ConfigObj

from tests.conftest import ApiClient
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
