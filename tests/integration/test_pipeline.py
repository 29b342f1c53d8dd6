"""The default engine chain end to end, against real RabbitMQ and MongoDB, as processes.

Events are published to ``canopsis.events`` as a sender would; the tests read
what an operator would find in MongoDB: entities, alarms and their steps,
metrics, history. The streams of many entities are compared, alarm by alarm
and step by step, with the pure state machine of :mod:`canopsis.domain.alarm` fed
the same events: a lost event or a step applied twice shows as a difference.
"""

import json
import random
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

import kombu
import pymongo
import pytest

from bench.stack import wait_for_port
from canopsis.domain import alarm, metrics
from canopsis.domain.event import routing_key
from canopsis.ops import config
from canopsis.runtime import amqp, storage, topology
from canopsis.store import alarmcounts
from canopsis.store import alarms as alarm_store
from tests.conftest import ApiClient, EngineProcess, wait_for_broker
from tests.helpers import check_event

pytestmark = pytest.mark.integration

REPO_ENGINES = Path(__file__).resolve().parents[2] / "etc" / "engines"
CHAIN = (
    "cleaner",
    "event_filter",
    "context",
    "perfdata",
    "pbehavior",
    "alerts",
    "heartbeat",
    "eventstore",
)
FAST = "beat_interval = 1\nbatch_ms = 20\n"


def drop_workers(url: str, engine: str) -> None:
    """Delete the two worker queues and the exchange of ``engine`` a test gave it."""
    with kombu.Connection(url) as conn:
        channel = conn.default_channel
        for worker in (0, 1):
            channel.queue_delete(topology.queue_name(engine, 2, worker))
        channel.exchange_delete(topology.engine_exchange(engine).name)


def write_confs(prefix: Path, **extra: str) -> None:
    """The repository's engine configuration with fast beats, plus ``extra`` lines per engine."""
    engines = prefix / "etc" / "engines"
    for name in CHAIN:
        text = (REPO_ENGINES / f"{name}.conf").read_text()
        head, _sep, options = text.partition("[options]")
        lines = [
            line
            for line in head.splitlines()
            if not line.startswith(("beat_interval", "batch_ms", "numprocs"))
        ]
        body = "\n".join(lines) + "\n" + FAST + extra.get(name, "")
        (engines / f"{name}.conf").write_text(body + ("\n[options]" + options if options else ""))


@pytest.fixture(scope="module")
def site(services):
    write_confs(services.prefix)
    with kombu.Connection(services.amqp_url) as conn:
        conn.default_channel.queue_purge("Engine_cleaner")
    yield services
    for conf in (services.prefix / "etc" / "engines").glob("*.conf"):
        if (REPO_ENGINES / conf.name).exists():
            shutil.copy(REPO_ENGINES / conf.name, conf)


@pytest.fixture(scope="module")
def db(site):
    client = pymongo.MongoClient(site.mongo_uri, tz_aware=True)
    yield client[site.database]
    client.close()


def start(site, *args: str) -> EngineProcess:
    proc = EngineProcess(site, *args)
    proc.wait_ready()
    return proc


def stop(proc: EngineProcess) -> None:
    code = proc.stop()
    assert code == 0, proc.text()


@pytest.fixture(scope="class")
def pipeline(site):
    proc = start(site, *CHAIN)
    yield proc
    stop(proc)


def event(component: str, resource: str | None = "svc", **fields) -> dict:
    return check_event(
        component, resource, **{"connector": "it", "connector_name": "pipeline", **fields}
    )


def send(url: str, *events: dict) -> None:
    """Publish each event as its own persistent message with a message id, as canopsis does."""
    with kombu.Connection(url) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(
                json.dumps(ev),
                exchange="canopsis.events",
                routing_key=f"{ev['connector']}.{ev['component']}",
                content_type="application/json",
                delivery_mode=2,
                message_id=uuid.uuid4().hex,
            )


def wait_for(check: Callable[[], object], timeout: float = 30, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.1)


def kinds(doc: dict) -> list[tuple[str, object]]:
    return [(s["_t"], s["val"]) for s in doc["steps"]]


class TestTheRunningChain:
    """One engine-pipeline process for these tests (the stream tests run their own)."""

    def test_a_check_becomes_an_entity_and_an_alarm(self, pipeline, site, db):
        send(site.amqp_url, event("p-web1", state=2, output="HTTP 500"))
        doc = wait_for(lambda: db.alarms.find_one({"component": "p-web1"}), what="alarm")
        assert doc["entity_id"] == "svc/p-web1"
        assert doc["state"]["val"] == 2 and doc["status"]["val"] == alarm.ONGOING
        assert doc["output"] == "HTTP 500"
        entity = db.entities.find_one({"_id": "svc/p-web1"})
        assert entity["type"] == "resource" and entity["depends"] == ["p-web1"]
        assert db.entities.find_one({"_id": "p-web1"})["type"] == "component"
        assert db.entities.find_one({"_id": "it/pipeline/connector"})["type"] == "connector"

    def test_a_connector_and_a_resource_named_alike_stay_two_entities(self, pipeline, site, db):
        """Connector nagios named p-n1, and resource nagios of component p-n1 sent by another
        connector (``send_event --connector zab --connector-name z1 --component p-n1
        --resource nagios``): both entities exist, the alarm is the resource's, and disabling
        the connector drops none of the resource's events."""
        api = ApiClient(db)
        admin = api.as_role("admin")
        send(site.amqp_url, event("p-host", connector="nagios", connector_name="p-n1"))
        wait_for(lambda: db.entities.find_one({"type": "connector", "name": "p-n1"}), what="it")
        zab = {"connector": "zab", "connector_name": "z1"}
        send(site.amqp_url, event("p-n1", resource="nagios", state=2, **zab))
        opened = wait_for(lambda: db.alarms.find_one({"component": "p-n1"}), what="the alarm")
        found = wait_for(
            lambda: api.simulate_get(
                "/api/v2/entities", params={"component": "p-n1"}, headers=admin
            ).json["items"],
            what="the resource entity",
        )
        assert [(e["_id"], e["type"], e["name"]) for e in found] == [
            (opened["entity_id"], "resource", "nagios")
        ]
        resource = api.simulate_get(
            f"/api/v2/entities/{quote(opened['entity_id'], safe='')}", headers=admin
        ).json
        assert resource["alarm"]["_id"] == opened["_id"]
        [connector] = api.simulate_get(
            "/api/v2/entities", params={"type": "connector", "search": "p-n1"}, headers=admin
        ).json["items"]
        assert connector["_id"] != opened["entity_id"]
        assert (connector["name"], connector["connector_type"]) == ("p-n1", "nagios")
        url = f"/api/v2/entities/{quote(connector['_id'], safe='')}"
        assert api.simulate_get(url, headers=admin).json["alarm"] is None
        off = api.simulate_put(url, json={"enabled": False}, headers=admin)
        assert off.status_code == 200 and off.json["enabled"] is False
        time.sleep(2.5)  # the context engine reloads the disabled entities every beat (1 s)
        send(site.amqp_url, event("p-n1", resource="nagios", state=3, **zab))
        raised = wait_for(
            lambda: db.alarms.find_one({"component": "p-n1", "state.val": 3}),
            what="the resource's next check, not dropped",
        )
        assert raised["_id"] == opened["_id"]

    def test_state_changes_and_actions_add_steps_and_history(self, pipeline, site, db):
        send(site.amqp_url, event("p-web2", state=1), event("p-web2", state=3))
        wait_for(
            lambda: db.alarms.find_one({"component": "p-web2", "state.val": 3}), what="state 3"
        )
        action = {"author": "alice", "output": "looking"}
        send(
            site.amqp_url,
            event("p-web2", event_type="ack", **action),
            event("p-web2", event_type="snooze", duration=3600, **action),
            event("p-web2", event_type="cancel", **action),
        )
        doc = wait_for(
            lambda: db.alarms.find_one({"component": "p-web2", "canceled": {"$ne": None}}),
            what="cancel",
        )
        assert kinds(doc) == [
            ("stateinc", 1),
            ("statusinc", alarm.ONGOING),
            ("stateinc", 3),
            ("ack", None),
            ("snooze", pytest.approx(time.time() + 3600, abs=30)),
            ("cancel", pytest.approx(time.time() + 3600, abs=30)),
            ("statusinc", alarm.CANCELLED),
        ]
        assert doc["ack"]["a"] == "alice" and doc["ack"]["m"] == "looking"
        history = wait_for(
            lambda: len(found := list(db.events_log.find({"component": "p-web2"}))) == 5 and found,
            what="history",
        )
        assert sorted(h["event_type"] for h in history) == [
            "ack",
            "cancel",
            "check",
            "check",
            "snooze",
        ]

    def test_perf_data_lands_in_metrics(self, pipeline, site, db):
        now = time.time()
        send(
            site.amqp_url, event("p-db1", resource="load", perf_data="load1=0.5;1;2;0; load5=0.25")
        )
        wait_for(lambda: db.perfdata.find_one({"entity_id": "load/p-db1"}), what="perfdata")
        found = metrics.fetch(db, "load/p-db1", "load1", now - 60, now + 60)
        assert [value for _t, value in found["points"]] == [0.5]
        assert found["meta"] == {"unit": None, "min": 0, "max": None, "warn": 1, "crit": 2}
        assert {m["metric"] for m in metrics.list_metrics(db, "load/p-db1")} == {"load1", "load5"}

    def test_an_event_filter_rule_drops_and_edits_events(self, pipeline, site, db):
        db.eventfilter_rules.insert_many(
            [
                {
                    "_id": "drop-noisy",
                    "match": {"component": "p-noisy"},
                    "actions": [{"type": "drop"}],
                },
                {
                    "_id": "raise",
                    "match": {"component": "p-raised"},
                    "actions": [{"type": "set", "field": "state", "value": 3}],
                },
            ]
        )
        time.sleep(2.5)  # the event_filter reloads its rules every beat (1 s here)
        send(site.amqp_url, event("p-noisy", state=2), event("p-raised", state=1))
        doc = wait_for(lambda: db.alarms.find_one({"component": "p-raised"}), what="alarm")
        assert doc["state"]["val"] == 3
        assert db.entities.find_one({"_id": "p-noisy"}) is None
        assert db.alarms.find_one({"component": "p-noisy"}) is None
        rule = wait_for(lambda: db.eventfilter_rules.find_one({"_id": "drop-noisy", "hits": 1}))
        assert rule["hits"] == 1


# Streams of many entities, compared with the pure state machine.


def stream(prefix: str, entities: int = 30, length: int = 20, seed: int = 7) -> list[dict]:
    """``length`` checks per entity, interleaved; the first of each is a problem."""
    rng = random.Random(seed)
    states = {
        e: [rng.randint(1, 3)] + [rng.choice((0, 1, 2, 3)) for _ in range(length - 1)]
        for e in range(entities)
    }
    return [
        event(f"{prefix}-{e}", state=states[e][i], output=f"{i}")
        for i in range(length)
        for e in range(entities)
    ]


def expected(events: list[dict]) -> dict[str, tuple[list, int, int]]:
    """Per component: ``(step kinds, events_count, state)`` by the pure state machine."""
    alarms: dict[str, dict | None] = {}
    cfg = alarm.AlarmConfig()
    for n, ev in enumerate(events):
        full = {**ev, "entity_id": f"svc/{ev['component']}", "timestamp": 0.0}
        outcome = alarm.apply_event(alarms.get(ev["component"]), full, 1000 + n / 1000, cfg, str(n))
        alarms[ev["component"]] = outcome.alarm
    return {c: (kinds(a), a["events_count"], a["state"]["val"]) for c, a in alarms.items()}


def stored(db, prefix: str) -> dict[str, tuple[list, int, int]]:
    found = db.alarms.find({"component": {"$regex": f"^{prefix}-"}})
    return {a["component"]: (kinds(a), a["events_count"], a["state"]["val"]) for a in found}


def wait_applied(db, prefix: str, events: list[dict], timeout: float = 120) -> dict:
    """The stored alarms once they hold as many checks as were sent."""
    total = len(events)

    def done():
        got = stored(db, prefix)
        return got if sum(count for _k, count, _s in got.values()) >= total else None

    wait_for(done, timeout, f"{total} checks applied for {prefix}")
    time.sleep(1)  # a duplicate applied late would show now
    return stored(db, prefix)


def counts_gap(db) -> dict[str, int]:
    """How far the counts the alerts engine keeps are from counting the open alarms, by
    figure (other modules' tests delete alarms directly, which the kept counts do not see;
    none kept yet: no gap, the next alerts process counts what is there)."""
    kept = alarmcounts.summed(db)
    if kept is None:
        return {}
    counted = alarm_store.counts(db, alarm_store.OPEN, {})
    flat = {}
    for name, value in counted.items():
        pairs = value.items() if isinstance(value, dict) else [("", value)]
        for key, n in pairs:
            mine = kept[name][key] if key else kept[name]
            flat[f"{name}{key}"] = mine - n
    return {name: gap for name, gap in flat.items() if gap}


def acknowledged(proc: EngineProcess) -> int:
    """The messages a stopped engine says it acknowledged."""
    return int(proc.text().rstrip().rsplit("stopped: ", 1)[1].split()[0])


def test_kill_9_in_the_middle_of_a_stream_loses_nothing_and_duplicates_nothing(site, db):
    gap = counts_gap(db)
    events = stream("kill")
    first = start(site, *CHAIN)
    try:
        send(site.amqp_url, *events)
        wait_for(
            lambda: (
                sum(a["events_count"] for a in db.alarms.find({"component": {"$regex": "^kill-"}}))
                > 50
            ),
            what="part of the stream applied",
        )
    finally:
        first.proc.kill()
        first.proc.wait()
    assert sum(
        a["events_count"] for a in db.alarms.find({"component": {"$regex": "^kill-"}})
    ) < len(events)
    second = start(site, *CHAIN)
    try:
        assert wait_applied(db, "kill", events) == expected(events)
        assert counts_gap(db) == gap  # the kept counts followed every change
    finally:
        stop(second)


def test_a_broker_restart_is_survived_without_losing_an_event(site, db):
    events = stream("restart", seed=11)
    half = len(events) // 2
    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, *events[:half])
        site.stop("rabbitmq-server")
        wait_for_broker(site.amqp_url, 90, site.start("rabbitmq-server"))
        send(site.amqp_url, *events[half:])
        assert wait_applied(db, "restart", events) == expected(events)
        assert proc.proc.poll() is None, proc.text()
        assert "broker unreachable" in proc.text()
    finally:
        stop(proc)


# The database killed (kill -9) under load: what was acknowledged stays written.

#: the stream of the crash runs, events per second (the issue's: 400, near the chain's best)
CRASH_RATE = 400
#: identical critical checks per entity: each alarm must count them all
CHECKS = 5


def kill_database(site) -> None:
    """SIGKILL the database server, then start it again and wait until it answers.

    ``canopsis-launch`` replaces itself with the server (``exec``): the process
    it started is the server, which dies without a chance to write anything.
    """
    proc = site.procs["mongodb"]
    assert b"/secantusd-" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    wait_for_port(urlsplit(site.mongo_uri).port, 60, site.start("mongodb"))


def test_writes_answered_before_make_durable_survive_a_kill_9_of_the_database(site):
    """The mechanism the engines rely on: one journaled write, from another client, after
    unjournaled writes to two collections keeps them all. Without it (sync_on_commit = false)
    nearly every kill in the middle of such writes loses some that were answered."""
    rng = random.Random(5)
    for attempt in range(5):
        writer = pymongo.MongoClient(site.mongo_uri, serverSelectionTimeoutMS=2000)
        marker = pymongo.MongoClient(site.mongo_uri, serverSelectionTimeoutMS=2000)
        db, marks = writer[site.database], marker[site.database]
        upserts, inserts = db[f"durable_u{attempt}"], db[f"durable_i{attempt}"]
        durable = {"rounds": 0}

        def write(upserts=upserts, inserts=inserts, marks=marks, durable=durable) -> None:
            n = 0
            try:
                while True:
                    upserts.bulk_write(
                        [
                            pymongo.UpdateOne({"_id": n * 50 + i}, {"$set": {"n": n}}, upsert=True)
                            for i in range(50)
                        ]
                    )
                    inserts.insert_many([{"_id": n * 20 + i} for i in range(20)])
                    storage.make_durable(marks, "test")
                    n += 1
                    durable["rounds"] = n
            except pymongo.errors.PyMongoError:
                return

        thread = threading.Thread(target=write)
        thread.start()
        try:
            time.sleep(rng.uniform(0.5, 1.5))
        finally:
            kill_database(site)
            thread.join()
            writer.close()
            marker.close()
        rounds = durable["rounds"]
        assert rounds > 0
        with pymongo.MongoClient(site.mongo_uri) as client:
            db = client[site.database]
            found = (
                db[f"durable_u{attempt}"].count_documents({}),
                db[f"durable_i{attempt}"].count_documents({}),
            )
            assert found[0] >= rounds * 50 and found[1] >= rounds * 20, (
                f"kill {attempt + 1}: {rounds} rounds made durable, "
                f"{found[0]} of their {rounds * 50} upserts and {found[1]} of their "
                f"{rounds * 20} inserts found"
            )
            db[f"durable_u{attempt}"].drop()
            db[f"durable_i{attempt}"].drop()


def publish_at(site, events: list[dict], rate: float) -> None:
    """Publish ``events`` at ``rate`` per second, each with its own message id, confirmed
    by the broker before the next ones."""
    cfg = config.load("amqp", site.prefix / "etc" / "amqp.conf")
    with amqp.connection(cfg) as conn:
        publisher = amqp.Publisher(conn, cfg)
        start, sent = time.monotonic(), 0
        while sent < len(events):
            due = min(len(events), int((time.monotonic() - start) * rate) + 1)
            with publisher.batch():
                for ev in events[sent:due]:
                    publisher.to_events(json.dumps(ev), routing_key(ev))
            sent = due
            time.sleep(0.02)


def settled(db, prefix: str, want: dict, timeout: float = 300) -> dict:
    """The stored alarms once they are ``want``, or once nothing changed for 40 s."""
    deadline = time.monotonic() + timeout
    last, changed = None, time.monotonic()
    while time.monotonic() < deadline:
        got = stored(db, prefix)
        if got == want:
            time.sleep(1)  # a duplicate applied late would show now
            return stored(db, prefix)
        if got != last:
            last, changed = got, time.monotonic()
        elif time.monotonic() - changed > 40:
            break
        time.sleep(0.5)
    return stored(db, prefix)


def kill_after_an_ack(site, channel, timeout: float = 10) -> None:
    """Kill the database just after the engine acknowledged a batch (its last writes answered,
    perhaps not yet on disk): the broker then sends it more of its queue at once, so the
    messages ready there drop by most of a batch. Without a backlog, kill at ``timeout``."""
    queue = topology.queue_name(CHAIN[0], 1)
    ready = channel.queue_declare(queue=queue, passive=True).message_count
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before, ready = ready, channel.queue_declare(queue=queue, passive=True).message_count
        if ready < before - 50:
            break
        time.sleep(0.002)
    kill_database(site)


@pytest.mark.parametrize("run", range(2))
def test_kill_9_of_the_database_under_load_loses_no_acknowledged_event(site, db, run):
    """The issue's scenario: entities x 5 identical critical checks at 400 events/s, unique
    message ids, publisher confirms; the database killed (SIGKILL) and restarted 8 times
    during the stream, each time just after the engine acknowledged a batch. Every alarm
    must count its 5 checks, and every entity be there."""
    prefix = f"crash{run}"
    entities = 1500
    events = [
        event(f"{prefix}-{e}", state=3, output="down")
        for _ in range(CHECKS)
        for e in range(entities)
    ]
    rng = random.Random(run)
    gap = counts_gap(db)
    proc = start(site, *CHAIN)
    try:
        with ThreadPoolExecutor(1) as pool, kombu.Connection(site.amqp_url) as conn:
            stream = pool.submit(publish_at, site, events, CRASH_RATE)
            channel = conn.channel()
            for _ in range(8):
                time.sleep(rng.uniform(1.0, 2.0))
                kill_after_an_ack(site, channel)
            stream.result()
        got = settled(db, prefix, expected(events))
        short = sorted(c for c, (_k, count, _s) in got.items() if count != CHECKS)
        assert got == expected(events), (
            f"{len(got)} alarms for {entities} entities; {len(short)} do not count "
            f"{CHECKS} checks: " + ", ".join(f"{c}: {got[c][1]}" for c in short[:10])
        )
        resources = db.entities.count_documents(
            {"type": "resource", "component": {"$regex": f"^{prefix}-"}}
        )
        components = db.entities.count_documents(
            {"type": "component", "_id": {"$regex": f"^{prefix}-"}}
        )
        alarms = db.alarms.count_documents({"component": {"$regex": f"^{prefix}-"}})
        assert (alarms, components, resources) == (entities, entities, entities)
        mark = db.durable_marks.find_one({"_id": f"{socket.gethostname()}/Engine_cleaner"})
        assert mark["batches"] > 0  # each batch was made durable
        assert counts_gap(db) == gap  # the kept counts followed every change
    finally:
        stop(proc)


def test_alerts_as_two_processes_gives_exactly_what_one_process_gives(site, db):
    one, two = stream("one", seed=3), stream("two", seed=3)
    fused = start(site, *CHAIN)
    try:
        send(site.amqp_url, *one)
        by_one = wait_applied(db, "one", one)
    finally:
        stop(fused)
    write_confs(site.prefix, alerts="numprocs = 2\n")
    procs = []
    try:
        procs.append(start(site, "cleaner", "event_filter", "context", "perfdata", "pbehavior"))
        procs += [
            start(site, "alerts", "heartbeat", "eventstore", "--worker", str(w)) for w in (0, 1)
        ]
        send(site.amqp_url, *two)
        by_two = wait_applied(db, "two", two)
    finally:
        for proc in procs:
            stop(proc)
        write_confs(site.prefix)
        for proc in procs[1:]:
            assert acknowledged(proc) > 0, proc.text()
        drop_workers(site.amqp_url, "alerts")
    rename = {f"two-{n}": f"one-{n}" for n in range(30)}
    assert (
        {rename[c]: v for c, v in by_two.items()}
        == by_one
        == {c: v for c, v in expected(one).items()}
    )


def test_a_snooze_ends_on_time_after_an_engine_restart_in_the_middle_of_it(site, db):
    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, event("p-snooze", state=2))
        wait_for(lambda: db.alarms.find_one({"component": "p-snooze"}), what="alarm")
        send(site.amqp_url, event("p-snooze", event_type="snooze", duration=4, author="op"))
        snoozed = wait_for(
            lambda: db.alarms.find_one({"component": "p-snooze", "snooze": {"$ne": None}}),
            what="snooze",
        )
    finally:
        stop(proc)
    wake = snoozed["snooze"]["val"]
    proc = start(site, *CHAIN)
    try:
        woken = wait_for(
            lambda: db.alarms.find_one({"component": "p-snooze", "snooze": None}),
            timeout=wake - time.time() + 10,
            what="the end of the snooze",
        )
        # the beat (every second here) ends it at its wake-up time, not before
        assert wake <= woken["last_update_date"] <= wake + 3
    finally:
        stop(proc)


def test_a_silent_source_raises_a_heartbeat_alarm_that_resolves_when_it_sends_again(site, db):
    db.heartbeats.insert_one(
        {"_id": "hb-agent", "match": {"connector_name": "hb-agent"}, "interval": 3}
    )
    beat = {**event("hb-host"), "connector_name": "hb-agent"}
    proc = start(site, *CHAIN)
    try:
        for _ in range(3):
            send(site.amqp_url, beat)
            time.sleep(0.5)
        last_sent = time.time()
        late = wait_for(
            lambda: db.alarms.find_one({"entity_id": "hb-agent/heartbeats", "state.val": 3}),
            timeout=20,
            what="the heartbeat alarm",
        )
        # within the interval plus one beat (1 s here), with the pipeline's latency
        assert late["creation_date"] - last_sent < 3 + 1 + 3
        assert late["output"].endswith("expected every 3s")
        send(site.amqp_url, beat)
        back = wait_for(
            lambda: db.alarms.find_one({"entity_id": "hb-agent/heartbeats", "state.val": 0}),
            timeout=20,
            what="the heartbeat back to OK",
        )
        assert ("statedec", 0) in [(s["_t"], s["val"]) for s in back["steps"]]
    finally:
        stop(proc)


# Planned maintenance.


def window(pb_id: str, components: list[str], start: float, end: float) -> dict:
    return {
        "_id": pb_id,
        "name": "upgrade",
        "type": "maintenance",
        "reason": "kernel update",
        "author": "alice",
        "filter": {"component": {"$in": components}},
        "start": start,
        "end": end,
    }


def steps_of(db, component: str, kind: str) -> list[dict]:
    doc = db.alarms.find_one({"component": component}) or {"steps": []}
    return [s for s in doc["steps"] if s["_t"] == kind]


def test_a_maintenance_window_flags_alarms_keeps_them_out_of_problems_and_ends_on_time(site, db):
    opens = time.time() + 6
    db.pbehaviors.insert_one(window("mw", ["mw-old", "mw-new"], opens, opens + 6))
    api = ApiClient(db)
    viewer = api.as_role("viewer")

    def counts() -> dict:
        params = {"search": "mw-"}
        return api.simulate_get("/api/v2/alarms/counts", params=params, headers=viewer).json

    proc = start(site, *CHAIN)
    try:
        send(site.amqp_url, event("mw-old", state=2))
        old = wait_for(lambda: db.alarms.find_one({"component": "mw-old"}), what="alarm")
        assert old["pbehavior"] is None and alarm.is_problem(old)
        # the period starts: the beat (1 s here) makes the open alarm enter it
        [enter] = wait_for(lambda: steps_of(db, "mw-old", "pbhenter"), 15, "pbhenter")
        assert opens <= enter["t"] <= opens + 3
        assert (enter["a"], enter["val"]) == ("alice", "mw")
        # a new alarm in the period is flagged from its first write
        send(site.amqp_url, event("mw-new", state=3))
        new = wait_for(lambda: db.alarms.find_one({"component": "mw-new"}), what="alarm")
        assert time.time() < opens + 6, "the window ended before the test could look"
        assert new["pbehavior"]["id"] == "mw" and not alarm.is_problem(new)
        assert ("pbhenter", "mw") in kinds(new)
        flagged = counts()
        assert (flagged["total"], flagged["problems"], flagged["in_pbehavior"]) == (2, 0, 2)
        in_maintenance = api.simulate_get(  # this test's alarms (the database is shared)
            "/api/v2/alarms", params={"in_maintenance": "true", "search": "mw-"}, headers=viewer
        ).json
        assert {a["component"] for a in in_maintenance["items"]} == {"mw-old", "mw-new"}
        # the period ends: both leave it, and count as problems again
        for component in ("mw-old", "mw-new"):
            [leave] = wait_for(lambda c=component: steps_of(db, c, "pbhleave"), 15, "pbhleave")
            assert opens + 6 <= leave["t"] <= opens + 6 + 3
        assert counts()["problems"] == 2
    finally:
        stop(proc)


def test_two_pbehavior_engine_instances_do_each_beat_once(site, db):
    """Both instances beat every second while the alerts engine is stopped, so no alarm can
    follow in between: each alarm is sent one pbehavior event, not one per instance."""
    components = [f"pb2-{n}" for n in range(8)]
    write_confs(site.prefix, pbehavior="numprocs = 2\n")
    downstream = ("alerts", "heartbeat", "eventstore")
    procs = []
    try:
        procs.append(start(site, "cleaner", "event_filter", "context", "perfdata"))
        procs += [start(site, "pbehavior", "--worker", str(w)) for w in (0, 1)]
        alerts = start(site, *downstream)
        send(site.amqp_url, *(event(c, state=2) for c in components))
        wait_for(
            lambda: db.alarms.count_documents({"component": {"$in": components}}) == 8,
            what="8 alarms",
        )
        stop(alerts)
        db.pbehaviors.insert_one(window("twice", components, time.time(), time.time() + 3600))
        time.sleep(4)  # beats of both instances
        procs.append(start(site, *downstream))
        for component in components:
            wait_for(lambda c=component: steps_of(db, c, "pbhenter"), 20, f"{component} enters")
        time.sleep(2)  # a second event would be stored by now
        for component in components:
            assert len(steps_of(db, component, "pbhenter")) == 1
            sent = db.events_log.count_documents(
                {"component": component, "event_type": "pbehavior"}
            )
            assert sent == 1, f"{sent} pbehavior events for {component}"
    finally:
        for proc in procs:
            stop(proc)
        write_confs(site.prefix)
        db.pbehaviors.delete_one({"_id": "twice"})
        for proc in procs[1:3]:
            assert acknowledged(proc) > 0, proc.text()
        drop_workers(site.amqp_url, "pbehavior")
