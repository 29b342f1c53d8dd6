"""The perfdata engine: against the embedded MongoDB, then fed by the real collectd.

The end-to-end tests run ``cleaner -> perfdata`` as ``canopsis-engine`` in the
services prefix, with collectd (started by ``canopsis-launch``) publishing this
host's metrics to the broker.
"""

import copy
import math
import signal
import socket
import subprocess
import time

import kombu
import pymongo
import pytest

from canopsis.domain import metrics
from canopsis.domain.event import normalize
from canopsis.ops import config
from canopsis.runtime.engine import Engine, check_options, engine_class
from tests.conftest import REPO

pytestmark = pytest.mark.integration

HOUR = math.floor(time.time() / 3600) * 3600 - 3600  # the start of the previous hour


def event(event_type: str, resource: str, offset: float, **fields) -> dict:
    """A normalised event, as the cleaner passes it on."""
    raw = {
        "connector": "nagios",
        "connector_name": "n1",
        "event_type": event_type,
        "source_type": "resource",
        "component": "web1",
        "resource": resource,
        "state": 0,
        "timestamp": HOUR + offset,
        **fields,
    }
    normalized, errors = normalize(raw, time.time())
    assert errors == []
    return normalized


def batch() -> list[dict]:
    return [
        event(
            "check",
            "disk",
            10.5,
            output="DISK OK",
            perf_data_array=[
                {
                    "metric": "/var",
                    "value": 72.0,
                    "unit": "%",
                    "warn": 80.0,
                    "crit": 90.0,
                    "min": 0.0,
                    "max": 100.0,
                },
            ],
        ),
        event("perf", "http", 20, perf_data="time=0.25s;1;2;0 size=512B"),
        event("perf", "http", 30, perf_data="time=0.75s;1;2;0 size=1024B"),
        event("check", "ping", 40, state=2, output="PING CRITICAL"),
    ]


def work(engine: Engine, events: list[dict]) -> list:
    engine.prepare(events)
    return [engine.work(e) for e in events]


def stored(db) -> list[dict]:
    return sorted(
        (doc for name in ("perfdata", "metrics") for doc in db[name].find({}, {"_id": 0})),
        key=repr,
    )


@pytest.fixture
def engine(mongo_db) -> Engine:
    engine = engine_class("perfdata")("perfdata", {"retention_days": 30}, mongo_db)
    engine.setup()
    return engine


def test_the_shipped_configuration_is_accepted():
    path = REPO / "etc" / "engines" / "perfdata.conf"
    conf = config.load("engine", path)
    chain = config.load("engines", REPO / "etc" / "engines.conf")["chain"]
    assert chain[chain.index("perfdata") + 1] == "pbehavior"
    options = check_options(str(path), dict(conf["options"]), engine_class("perfdata").options_spec)
    assert options == {"retention_days": 90, "describe_every": 60.0}


def test_setup_sets_the_retention_and_can_run_again(engine, mongo_db):
    engine.setup()
    ttl = mongo_db.perfdata.index_information()["bucket_ttl"]["expireAfterSeconds"]
    assert ttl == 30 * 86400 + metrics.BUCKET_SECONDS
    assert mongo_db.metrics.index_information()["last_seen_ttl"]["expireAfterSeconds"] == 30 * 86400


def test_points_of_checks_and_perf_events_are_stored_and_events_passed_on(engine, mongo_db):
    events = batch()
    sent = copy.deepcopy(events)
    assert work(engine, events) == sent
    engine.flush()

    disk = metrics.fetch(mongo_db, "disk/web1", "/var", HOUR, HOUR + 3600, max_points=3600)
    assert disk["points"] == [[HOUR + 10, 72.0]]
    assert disk["meta"] == {"unit": "%", "min": 0.0, "max": 100.0, "warn": 80.0, "crit": 90.0}
    http = metrics.fetch(mongo_db, "http/web1", "time", HOUR, HOUR + 3600, max_points=3600)
    assert http["points"] == [[HOUR + 20, 0.25], [HOUR + 30, 0.75]]
    assert http["meta"] == {"unit": "s", "min": 0.0, "max": None, "warn": 1.0, "crit": 2.0}
    assert [m["metric"] for m in metrics.list_metrics(mongo_db, "http/web1")] == ["size", "time"]
    assert metrics.list_metrics(mongo_db, "http/web1")[0]["last_seen"] == HOUR + 30
    assert metrics.list_metrics(mongo_db, "ping/web1") == []


def test_a_redelivered_batch_stores_the_same_documents(engine, mongo_db):
    work(engine, batch())
    engine.flush()
    first = stored(mongo_db)
    assert len(first) == 6  # a bucket and a description for each of /var, time and size
    work(engine, batch())
    engine.flush()
    assert stored(mongo_db) == first


def test_an_unchanged_description_is_written_again_once_describe_every_old(engine, mongo_db):
    def send(offset: float, perf_data: str, to: Engine = engine) -> tuple[int, str]:
        work(to, [event("perf", "http", offset, perf_data=perf_data)])
        to.flush()
        [described] = metrics.list_metrics(mongo_db, "http/web1")
        return described["last_seen"] - HOUR, described["unit"]

    assert send(0, "time=0.25s") == (0, "s")
    assert send(30, "time=0.5s") == (0, "s")  # the same description, 30 s later
    assert send(60, "time=0.5s") == (60, "s")
    assert send(70, "time=500ms") == (70, "ms")  # a changed one at once
    restarted = engine_class("perfdata")("perfdata", {"retention_days": 30}, mongo_db)
    assert send(80, "time=400ms", restarted) == (80, "ms")  # new to it: found stored, updated
    points = metrics.fetch(mongo_db, "http/web1", "time", HOUR, HOUR + 3600, max_points=3600)
    assert [t - HOUR for t, _value in points["points"]] == [0, 30, 60, 70, 80]
    assert mongo_db.perfdata.count_documents({}) == 1


def test_a_failed_batch_is_written_whole_again_when_redelivered(engine, mongo_db):
    """A database killed before the batch was made durable loses writes it had answered: the
    batch fails and is redelivered, and this time its points and descriptions are written."""
    work(engine, batch())
    engine.flush()
    first = stored(mongo_db)
    mongo_db.perfdata.delete_many({})  # what the crash lost
    mongo_db.metrics.delete_many({})
    engine.discard()
    work(engine, batch())
    engine.flush()
    assert stored(mongo_db) == first


def test_a_discarded_batch_writes_nothing(engine, mongo_db):
    work(engine, batch())
    engine.discard()
    engine.flush()
    assert stored(mongo_db) == []


# collectd -> cleaner -> perfdata, for real


@pytest.fixture(scope="module")
def pipeline(services):
    confs = {"cleaner": "beat_interval = 1\nbatch_ms = 20\n", "perfdata": "beat_interval = 1\n"}
    with services.engines("cleaner, perfdata", **confs):
        with kombu.Connection(services.amqp_url) as conn:
            conn.default_channel.queue_purge("Engine_cleaner")
        log = services.prefix / "var" / "log" / "engine-cleaner-perfdata.log"
        proc = subprocess.Popen(
            [services.command("canopsis-engine"), "cleaner", "perfdata"],
            env=services.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while "consuming Engine_cleaner" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.05)
            yield services
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0, log.read_text(errors="replace")


@pytest.fixture(scope="module")
def db(pipeline):
    client = pymongo.MongoClient(pipeline.mongo_uri, tz_aware=True)
    yield client[pipeline.database]
    client.close()


def test_collectd_metrics_of_this_host_are_stored_within_a_minute(pipeline, db):
    host = socket.gethostname()  # collectd's host name with FQDNLookup false
    start = math.floor(time.time())
    collectd = pipeline.start("collectd")
    log = pipeline.prefix / "var" / "log" / "collectd.log"
    try:
        wanted = {(f"load/{host}", "load-shortterm"), (f"memory/{host}", "memory-used")}
        found: dict[tuple[str, str], dict] = {}
        deadline = time.monotonic() + 60
        while len(found) < len(wanted):
            assert collectd.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, (
                f"only {sorted(found)} of {sorted(wanted)} after 60 s; collectd's log:\n"
                + log.read_text(errors="replace")
            )
            for entity, metric in wanted - found.keys():
                got = metrics.fetch(db, entity, metric, start, time.time() + 60, max_points=1)
                if got["points"]:
                    found[entity, metric] = got
            time.sleep(0.5)
    finally:
        pipeline.stop("collectd")
    load = found[f"load/{host}", "load-shortterm"]
    assert load["points"][0][1] >= 0
    memory = found[f"memory/{host}", "memory-used"]
    assert memory["meta"]["unit"] == "B"
    assert memory["points"][0][1] > 0
