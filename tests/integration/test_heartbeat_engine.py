"""The heartbeat engine against the embedded MongoDB: what counts as a sign of life."""

import time

import pytest

from canopsis.engines.heartbeat import Heartbeat

pytestmark = pytest.mark.integration


def event(event_type: str) -> dict:
    return {
        "connector": "agent",
        "connector_name": "agent-7",
        "event_type": event_type,
        "source_type": "component",
        "component": "host7",
        "entity_id": "host7",
        "timestamp": time.time(),
        "state": 0,
    }


@pytest.mark.parametrize(
    ("event_type", "seen"),
    [("check", True), ("perf", True), ("ack", False), ("comment", False), ("pbehavior", False)],
)
def test_only_what_a_source_sends_of_itself_is_a_sign_of_life(mongo_db, event_type, seen):
    mongo_db.heartbeats.insert_one(
        {"_id": "agent-7", "match": {"connector_name": "agent-7"}, "interval": 60}
    )
    engine = Heartbeat("heartbeat", {}, mongo_db)
    engine.setup()
    sent = event(event_type)
    engine.prepare([sent])
    assert engine.work(sent) is sent
    engine.flush()
    state = mongo_db.heartbeat_states.find_one({"_id": "agent-7"})
    assert (state is not None and state["last_seen"] > 0) is seen
