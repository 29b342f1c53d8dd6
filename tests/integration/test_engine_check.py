"""An engine slower than the thresholds of its conf becomes an alarm on its own entity.

Against real RabbitMQ and MongoDB, the engines as one process (see test_pipeline): each
engine's check about itself goes through the pipeline like any other event.
"""

import re
import socket

import pytest

from tests.integration import test_pipeline
from tests.integration.test_pipeline import CHAIN, start, stop, wait_for

pytestmark = pytest.mark.integration

#: the prefix with the repository's engine configuration and fast beats, and its database
site, db = test_pipeline.site, test_pipeline.db

DEADLINE = 90
#: [perf] lines per engine: context warns past 1 µs per event, alerts is critical past it
PERF = {
    "context": {"warn_ms_per_event = 100\n": "warn_ms_per_event = 0.001\n"},
    "alerts": {
        "warn_ms_per_event = 100\n": "warn_ms_per_event = 0.0005\n",
        "crit_ms_per_event = 1000\n": "crit_ms_per_event = 0.001\n",
    },
}


def test_an_engine_over_its_thresholds_raises_an_alarm_on_its_own_entity(site, db):
    host = socket.gethostname()
    mine = {"component": host, "resource": {"$in": ["engine-context", "engine-alerts"]}}
    db.alarms.delete_many(mine)  # those other tests' stalled engines left
    confs = {name: site.prefix / "etc" / "engines" / f"{name}.conf" for name in PERF}
    saved = {name: path.read_text() for name, path in confs.items()}
    for name, changes in PERF.items():
        text = saved[name]
        for old, new in changes.items():
            assert old in text
            text = text.replace(old, new)
        confs[name].write_text(text)
    proc = start(site, *CHAIN)  # its engines' checks about themselves are its events
    try:
        context = wait_for(
            lambda: db.alarms.find_one({**mine, "resource": "engine-context", "state.val": 1}),
            timeout=DEADLINE,
            what="a warning alarm on the context engine",
        )
        alerts = wait_for(
            lambda: db.alarms.find_one({**mine, "resource": "engine-alerts", "state.val": 2}),
            timeout=DEADLINE,
            what="a critical alarm on the alerts engine",
        )
    finally:
        for name, path in confs.items():
            path.write_text(saved[name])
        stop(proc)
    number = r"[0-9][0-9.,e-]*"
    assert re.fullmatch(
        rf"context: {number} ms per event \(warning above 0\.001\)", context["output"]
    ), context["output"]
    assert re.fullmatch(
        rf"alerts: {number} ms per event \(critical above 0\.001\)", alerts["output"]
    ), alerts["output"]
    assert (context["connector"], context["connector_name"]) == ("canopsis", "engines")
    db.alarms.delete_many(mine)
