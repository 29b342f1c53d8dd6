"""One sender cannot stop the pipeline, and an engine that makes no progress is seen.

Against real RabbitMQ and MongoDB, the engines as processes (see test_pipeline):

- eight checks of 3 MB on one entity (together larger than MongoDB's 16 MB
  document limit once in one alarm) followed by more than a batch of normal
  checks from another connector: the normal checks become alarms, the big
  ones are stored cut;
- a write the database refuses for good (a validator on the alarms) is
  isolated to its event, which goes to the dead letters with the reason, and
  the events around it go on;
- an engine whose batches keep failing (its next engine's queue refuses
  every message) is stalled: its perf event is critical, the healthcheck is
  degraded naming it, ``/metrics`` shows it; it recovers when the queue accepts again.
"""

import contextlib
import json
import socket
import subprocess
import uuid

import kombu
import pytest
from configobj import ConfigObj

from canopsis.runtime import topology
from tests.conftest import ApiClient
from tests.integration import test_pipeline
from tests.integration.test_pipeline import CHAIN, event, send, start, stop, wait_for

pytestmark = pytest.mark.integration

#: the prefix with the repository's engine configuration and fast beats, and its database
site, db = test_pipeline.site, test_pipeline.db

MB3 = "o" * 3_000_000
DEADLINE = 120


def test_eight_checks_of_3_mb_on_one_entity_do_not_stop_the_others(site, db):
    huge = [event("huge", output=MB3, long_output=MB3, state=1 + i % 3) for i in range(8)]
    # more than a batch after them: a batch that fails forever holds back all the later ones
    normal = [
        event(f"normal-{i}", state=2, connector="other", connector_name="later") for i in range(150)
    ]
    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, *huge)
        send(site.amqp_url, *normal)
        wait_for(
            lambda: db.alarms.count_documents({"connector": "other"}) == len(normal),
            timeout=DEADLINE,
            what="the normal checks sent after the big ones to become alarms",
        )
        wait_for(
            lambda: (db.alarms.find_one({"component": "huge"}) or {}).get("events_count") == 8,
            timeout=DEADLINE,
            what="the 8 big checks applied",
        )
    finally:
        stop(proc)
    [big] = db.alarms.find({"component": "huge"})
    for key in ("output", "long_output"):
        assert big[key].endswith("… [truncated: 3000000 bytes]")
        assert len(big[key].encode()) <= 65536
    assert [s["val"] for s in big["steps"] if s["_t"].startswith("state")] == [
        1,
        2,
        3,
        1,
        2,
        3,
        1,
        2,
    ]
    assert all(len(s["m"].encode()) <= 1024 for s in big["steps"])
    history = list(db.events_log.find({"component": "huge"}))
    assert len(history) == 8  # each check changed the state
    assert all(len(h["output"].encode()) <= 65536 for h in history)
    assert all(a["events_count"] == 1 for a in db.alarms.find({"connector": "other"}))
    sent = [f"{ev['connector']}.{ev['component']}" for ev in (*huge, *normal)]
    assert db.dead_letters.count_documents({"routing_key": {"$in": sent}}) == 0


def test_a_write_the_database_refuses_for_good_is_dead_lettered_and_the_rest_goes_on(site, db):
    before = [event(f"before-{i}", state=2) for i in range(10)]
    after = [event(f"after-{i}", state=3) for i in range(10)]
    refused = event("refused", state=2)
    proc = start(site, *CHAIN)  # creates the alarms collection
    try:
        db.command("collMod", "alarms", validator={"component": {"$ne": "refused"}})
        send(site.amqp_url, *before, refused, *after)
        wait_for(
            lambda: db.alarms.count_documents({"component": {"$regex": "^(before|after)-"}}) == 20,
            timeout=DEADLINE,
            what="the events around the refused one to become alarms",
        )
        [letter] = wait_for(
            lambda: list(db.dead_letters.find({"routing_key": "it.refused"})),
            timeout=DEADLINE,
            what="the refused event in the dead letters",
        )
    finally:
        db.command("collMod", "alarms", validator={})
        stop(proc)
    assert json.loads(letter["body"]) == refused and letter["engine"] == "alerts"
    [reason] = letter["reasons"]
    assert reason["reason"].startswith("engine alerts could not write what this event caused")
    assert reason["reason"].endswith("BulkWriteError: Document failed validation (code 121)")
    assert db.alarms.count_documents({"component": "refused"}) == 0
    assert db.entities.count_documents({"_id": "svc/refused"}) == 1
    for ev in (*before, *after):
        [alarm] = db.alarms.find({"component": ev["component"]})
        assert alarm["events_count"] == 1 and alarm["state"]["val"] == ev["state"]
    around = [f"it.{ev['component']}" for ev in (*before, *after)]
    assert db.dead_letters.count_documents({"routing_key": {"$in": around}}) == 0
    db.dead_letters.delete_one({"_id": letter["_id"]})


def rabbitmqctl(site, *args: str) -> None:
    cfg = ConfigObj(str(site.prefix / "etc" / "amqp.conf"))
    cookie = (site.prefix / "var" / "lib" / "rabbitmq" / ".erlang.cookie").read_text().strip()
    ctl = "/usr/lib/rabbitmq/bin/rabbitmqctl"
    done = subprocess.run(
        [ctl, "--erlang-cookie", cookie, "-n", cfg["nodename"], "-p", cfg["vhost"], *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}"


def test_an_engine_whose_batches_keep_failing_is_seen_stalled_and_recovers(site, db):
    api = ApiClient(db, site.prefix / "etc" / "amqp.conf")
    viewer = api.as_role("viewer")
    report = f"cleaner/{socket.gethostname()}/-"
    perf_queue = f"test-perf-{uuid.uuid4().hex[:8]}"
    conn = kombu.Connection(site.amqp_url)
    channel = conn.channel()
    channel.queue_declare(perf_queue, auto_delete=False)
    channel.queue_bind(perf_queue, "canopsis.events", "canopsis.engines.check.#")
    db.engine_health.delete_many({})  # the reports of engines other tests killed
    assert api.simulate_get("/api/v2/healthcheck").json["status"] == "ok"

    def critical_perf_event():
        while (message := channel.basic_get(perf_queue, no_ack=True)) is not None:
            ev = json.loads(message.body)
            if ev["resource"] == "engine-cleaner" and ev["state"] == 3:
                return ev
        return None

    full = f"^{topology.queue_name('event_filter', 1)}$"
    rabbitmqctl(site, "set_policy", "--apply-to", "queues", "full", full,
                '{"max-length": 0, "overflow": "reject-publish"}')  # fmt: skip
    proc = start(site, "cleaner")
    try:
        send(site.amqp_url, *[event(f"stall-{i}", state=2) for i in range(5)])
        health = wait_for(
            lambda: (body := api.simulate_get("/api/v2/healthcheck").json).get("stalled") and body,
            timeout=DEADLINE,
            what="the healthcheck to see the cleaner stalled",
        )
        assert health["status"] == "degraded"
        assert list(health["stalled"]) == [report], health
        assert "batches failed in a row" in health["stalled"][report]
        assert "the broker refused" in health["stalled"][report]
        metrics = api.simulate_get("/metrics", headers=viewer).text
        labels = f'engine="cleaner",host="{socket.gethostname()}",worker="-"'
        assert f"canopsis_engine_stalled{{{labels}}} 1" in metrics
        perf = wait_for(critical_perf_event, timeout=DEADLINE, what="a critical perf event")
        assert "batches failed in a row" in perf["output"]

        rabbitmqctl(site, "clear_policy", "full")
        wait_for(
            lambda: "stalled" not in api.simulate_get("/api/v2/healthcheck").json,
            timeout=DEADLINE,
            what="the healthcheck to see the cleaner recover",
        )
        assert api.simulate_get("/api/v2/healthcheck").json["status"] == "ok"
        metrics = api.simulate_get("/metrics", headers=viewer).text
        assert f"canopsis_engine_stalled{{{labels}}} 0" in metrics
    finally:
        with contextlib.suppress(AssertionError):
            rabbitmqctl(site, "clear_policy", "full")
        stop(proc)
        channel.queue_delete(perf_queue)
        channel.queue_delete(topology.queue_name("event_filter", 1))
        conn.release()
    assert db.engine_health.count_documents({}) == 0  # a clean stop removes its report
