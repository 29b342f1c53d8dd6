"""An action's author is who sent it: ``POST /api/v2/event`` replaces a forged ``author``
with the authenticated principal's (for an API key, the key itself; the published event is
read back from the real broker)."""

import json

import kombu
import pytest

from tests.conftest import ApiClient, author_of
from tests.integration.test_pipeline import wait_for

pytestmark = pytest.mark.integration


def comment(component: str, author: str) -> dict:
    return {
        "connector": "it",
        "connector_name": "author",
        "event_type": "comment",
        "source_type": "resource",
        "component": component,
        "resource": "disk",
        "output": "forged?",
        "author": author,
    }


def published(services) -> list[dict]:
    """The events waiting in the entry engine's queue (no engine runs), taken off it."""
    found = []
    with kombu.Connection(services.amqp_url) as conn:
        channel = conn.default_channel
        while (message := channel.basic_get("Engine_cleaner", no_ack=True)) is not None:
            found.append(json.loads(message.body))
    return found


def test_an_action_sent_as_an_event_is_authored_by_the_authenticated_user(services, mongo_db):
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    operator = api.as_role("operator")
    resp = api.simulate_post("/api/v2/event", json=comment("forged", "admin"), headers=operator)
    assert resp.status_code == 202, resp.text
    events = wait_for(lambda: published(services), 30, "the published event")
    assert [e["author"] for e in events] == [author_of(operator)]
