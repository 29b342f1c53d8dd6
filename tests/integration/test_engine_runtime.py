"""The engine runtime against real RabbitMQ and MongoDB: the cleaner run as ``canopsis-engine``.

The prefix's chain is ``cleaner -> sink``: ``sink`` has only a configuration
(``numprocs = 2``), so the cleaner declares its consistent-hash exchange and
its two queues ``Engine_sink.0`` and ``Engine_sink.1``, which the tests read.
"""

import json
import subprocess
import time
from pathlib import Path

import kombu
import pymongo
import pytest

from canopsis.runtime import deadletters
from tests.conftest import EngineProcess, wait_for_port

pytestmark = pytest.mark.integration

SINK_QUEUES = ("Engine_sink.0", "Engine_sink.1")


def check(component: str = "host1", resource: str = "cpu", **extra) -> dict:
    return {
        "connector": "test",
        "connector_name": "it",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": resource,
        "state": 2,
        **extra,
    }


@pytest.fixture(scope="module")
def chain(services):
    cleaner = "beat_interval = 1\nbatch_size = 50\nbatch_ms = 20\n"
    with services.engines("cleaner, sink", cleaner=cleaner, sink="numprocs = 2\n"):
        yield services


@pytest.fixture(scope="module")
def db(chain):
    client = pymongo.MongoClient(chain.mongo_uri, tz_aware=True)
    yield client[chain.database]
    client.close()


@pytest.fixture
def broker(chain):
    with kombu.Connection(chain.amqp_url) as conn:
        yield conn


@pytest.fixture
def cleaner(chain, broker):
    purge(broker)
    engine = EngineProcess(chain, "cleaner")
    engine.wait_ready()
    yield engine
    engine.stop()
    if engine.proc.returncode is None:
        engine.proc.kill()


def purge(conn: kombu.Connection) -> None:
    channel = conn.default_channel
    for name in (*SINK_QUEUES, "Engine_cleaner"):
        try:
            channel.queue_purge(name)
        except conn.channel_errors:
            channel = conn.channel()


def publish(conn: kombu.Connection, body: str | bytes, routing_key: str) -> None:
    producer = conn.Producer()
    producer.publish(
        body,
        exchange="canopsis.events",
        routing_key=routing_key,
        content_type="application/json",
        content_encoding="utf-8" if isinstance(body, str) else "binary",
        delivery_mode=2,
    )


def collect(conn, count: int, timeout: float = 20, connector: str = "test") -> list:
    """``(queue, event, message)`` from the sink queues until ``count`` of ``connector``'s."""
    channel = conn.channel()
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        got = False
        for queue in SINK_QUEUES:
            message = channel.basic_get(queue, no_ack=True)
            if message is None:
                continue
            got = True
            event = json.loads(message.body)
            if event["connector"] == connector:
                found.append((queue, event, message))
        if not got:
            time.sleep(0.02)
    channel.close()
    return found


def wait_letters(db, query: dict, count: int = 1, timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        docs = list(db.dead_letters.find(query))
        if len(docs) >= count:
            return docs
        time.sleep(0.1)
    raise AssertionError(
        f"no {count} dead letters matching {query}: {list(db.dead_letters.find())}"
    )


def run(services, command: str, *args: str, stdin: str | None = None):
    return subprocess.run(
        [services.command(command), *args],
        env=services.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_valid_event_arrives_normalized_on_the_next_engine_queue(cleaner, broker):
    publish(broker, json.dumps(check(tags={"env": "prod"})), "whatever.the.sender.says")
    [(_queue, event, message)] = collect(broker, 1)
    assert event["routing_key"] == "test.it.check.resource.host1.cpu"
    assert event["entity_id"] == "cpu/host1"
    assert event["tags"] == ["env:prod"]
    assert event["state"] == 2 and event["state_type"] == 1
    assert abs(event["timestamp"] - time.time()) < 30
    assert message.delivery_info["routing_key"] == "cpu/host1"
    assert message.properties["delivery_mode"] == 2


def test_a_list_body_gives_each_event_its_own_fate(cleaner, broker, db):
    body = [check(component="list-ok"), check(component="list-bad", state=7)]
    publish(broker, json.dumps(body), "list.body")
    [(_q, event, _m)] = collect(broker, 1)
    assert event["component"] == "list-ok"
    [letter] = wait_letters(db, {"routing_key": "list.body"})
    assert json.loads(letter["body"])["component"] == "list-bad"
    assert letter["reasons"][0]["field"] == "state"


def test_malformed_and_invalid_events_are_dead_lettered_with_reasons(cleaner, broker, db):
    publish(broker, "{not json", "bad.json")
    publish(broker, b"\xff\xfe", "bad.bytes")
    invalid = check(component="inv")
    del invalid["state"]
    publish(broker, json.dumps(invalid), "bad.event")
    [bad_json] = wait_letters(db, {"routing_key": "bad.json"})
    assert bad_json["body"] == "{not json"
    assert bad_json["engine"] == "cleaner"
    assert bad_json["reasons"][0]["field"] == "body"
    assert bad_json["reasons"][0]["reason"].startswith("not JSON")
    assert bad_json["time"].timestamp() == pytest.approx(time.time(), abs=30)
    [bad_bytes] = wait_letters(db, {"routing_key": "bad.bytes"})
    assert bad_bytes["body_encoding"] == "base64"
    assert deadletters.decode_body(bad_bytes) == b"\xff\xfe"
    [bad_event] = wait_letters(db, {"routing_key": "bad.event"})
    assert bad_event["reasons"] == [{"field": "state", "reason": "is required for a check event"}]
    assert json.loads(bad_event["body"]) == invalid


def test_deadletters_cli_lists_shows_replays_and_purges(cleaner, broker, db, chain):
    publish(broker, "[1,", "cli.bad")
    [letter] = wait_letters(db, {"routing_key": "cli.bad"})
    listed = run(chain, "canopsis", "deadletters", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(letter["_id"]))
    assert "cleaner  cli.bad  body: not JSON" in line
    shown = run(chain, "canopsis", "deadletters", "show", letter["_id"])
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["body"] == "[1,"

    # Replayed as is, it is refused again: a new dead letter, the old one gone.
    replayed = run(chain, "canopsis", "deadletters", "replay", letter["_id"])
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"replayed {letter['_id']} (cli.bad)"
    wait_letters(db, {"routing_key": "cli.bad", "_id": {"$ne": letter["_id"]}})
    assert db.dead_letters.find_one({"_id": letter["_id"]}) is None

    # A letter whose body is now acceptable (refused by a failing engine, say)
    # goes through the cleaner to the next engine.
    good = deadletters.letter(
        "f" * 32, json.dumps(check(component="replayed")), [], "test.replay", "x", time.time()
    )
    db.dead_letters.insert_one(good)
    assert run(chain, "canopsis", "deadletters", "replay", "f" * 32).returncode == 0
    [(_q, event, _m)] = collect(broker, 1)
    assert event["component"] == "replayed"

    unknown = run(chain, "canopsis", "deadletters", "show", "nosuch")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "canopsis: no dead letter 'nosuch'"
    purged = run(chain, "canopsis", "deadletters", "purge", "--before", "2000-01-01")
    assert purged.stdout.strip() == "purged 0 dead letters"
    purged = run(chain, "canopsis", "deadletters", "purge")
    assert purged.returncode == 0 and db.dead_letters.count_documents({}) == 0


def test_send_event_publishes_a_good_event_and_exits_0(cleaner, broker, chain):
    sent = run(
        chain,
        "send_event",
        "--connector",
        "test",
        "--connector-name",
        "it",
        "--event-type",
        "check",
        "--component",
        "web1",
        "--resource",
        "http",
        "--state",
        "1",
        "--output",
        "slow",
        "--field",
        'site="paris"',
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "sent test.it.check.resource.web1.http"
    from_stdin = run(chain, "send_event", stdin=json.dumps(check(component="stdin1")))
    assert from_stdin.returncode == 0, from_stdin.stderr
    events = {e["component"]: e for _q, e, _m in collect(broker, 2)}
    assert events["web1"]["output"] == "slow" and events["web1"]["site"] == "paris"
    assert events["web1"]["state"] == 1
    assert events["stdin1"]["entity_id"] == "cpu/stdin1"


def test_send_event_refuses_a_bad_event_with_every_error_and_exit_2(chain, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"connector": "a.b", "event_type": "check", "state": 9}))
    refused = run(chain, "send_event", "--file", str(bad))
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "connector: must not hold '.', which separates the words of the routing key",
        "connector_name: is required",
        "source_type: is required",
        "component: is required",
        "state: must be 0 (info), 1 (minor), 2 (major) or 3 (critical), got 9",
    ]
    not_json = run(chain, "send_event", stdin="{")
    assert not_json.returncode == 2
    assert not_json.stderr.startswith("send_event: standard input: not JSON")


def test_sigterm_finishes_cleanly_and_nothing_is_lost(chain, broker):
    purge(broker)
    total = 3000
    producer = broker.Producer()
    for seq in range(total):
        producer.publish(
            json.dumps(check(component=f"h{seq % 50}", seq=seq)),
            exchange="canopsis.events",
            routing_key="sigterm",
            content_type="application/json",
            delivery_mode=2,
        )
    first = EngineProcess(chain, "cleaner")
    first.wait_ready()
    got = collect(broker, 1, timeout=20)
    assert first.stop() == 0, first.text()
    assert "SIGTERM received: stopping" in first.text()
    acked = int(first.text().rstrip().rsplit("stopped: ", 1)[1].split()[0])
    assert 0 < acked < total
    second = EngineProcess(chain, "cleaner")
    try:
        second.wait_ready()
        got += collect(broker, total - len(got), timeout=60)
    finally:
        assert second.stop() == 0
    seqs = [event["seq"] for _q, event, _m in got]
    # At least once: every event arrives; a batch caught by the stop may come twice.
    assert set(seqs) == set(range(total))


def test_events_of_one_entity_always_land_on_the_same_worker_queue(cleaner, broker):
    for seq in range(200):
        publish(broker, json.dumps(check(component=f"node{seq % 20}", seq=seq)), "hash")
    got = collect(broker, 200)
    queues: dict[str, set[str]] = {}
    order: dict[str, list[int]] = {}
    for queue, event, _m in got:
        queues.setdefault(event["entity_id"], set()).add(queue)
        order.setdefault(event["entity_id"], []).append(event["seq"])
    assert len(queues) == 20
    assert all(len(found) == 1 for found in queues.values()), queues
    assert {q for found in queues.values() for q in found} == set(SINK_QUEUES)
    assert all(seqs == sorted(seqs) for seqs in order.values())


def test_each_beat_publishes_a_check_with_perf_data_about_the_engine(cleaner, broker):
    [(_q, event, _m)] = collect(broker, 1, timeout=10, connector="canopsis")
    assert event["connector_name"] == "engines"
    assert (event["event_type"], event["state"], event["output"]) == ("check", 0, "ok")
    assert event["resource"] == "engine-cleaner"
    names = {m["metric"] for m in event["perf_data_array"]}
    assert names == {"events_per_second", "mean_processing_ms", "queue_depth", "errors"}


def test_mongodb_down_holds_the_batch_and_nothing_is_lost(chain, cleaner, broker, db):
    chain.stop("mongodb")
    try:
        invalid = check(component="while-down", state=9)
        publish(broker, json.dumps(invalid), "while.down")
        publish(broker, json.dumps(check(component="while-down-ok")), "while.down")
        deadline = time.monotonic() + 30
        while "failed (MongoDB" not in cleaner.text():
            assert time.monotonic() < deadline, cleaner.text()
            time.sleep(0.2)
        assert collect(broker, 1, timeout=1) == []  # forwarded only once written
        assert cleaner.proc.poll() is None
    finally:
        mongo = chain.start("mongodb")
    port = int(chain.mongo_uri.rsplit(":", 1)[1].strip("/"))
    wait_for_port(port, 30, mongo)
    [(_q, event, _m)] = collect(broker, 1, timeout=60)
    assert event["component"] == "while-down-ok"
    [letter] = wait_letters(db, {"routing_key": "while.down"}, timeout=30)
    assert json.loads(letter["body"]) == invalid


def test_a_bad_engine_configuration_fails_at_start_with_one_line(chain):
    unknown = run(chain, "canopsis-engine", "nosuch")
    assert unknown.returncode == 2
    lines = unknown.stderr.strip().splitlines()
    assert len(lines) == 1 and "nosuch.conf: cannot read" in lines[0]
    conf = Path(chain.prefix) / "etc" / "engines" / "cleaner.conf"
    good = conf.read_text()
    conf.write_text(good + "numprocs = many\n")
    try:
        bad = run(chain, "canopsis-engine", "cleaner")
    finally:
        conf.write_text(good)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith(
        f"{conf}: numprocs = 'many': expected integer(min=1, max=256)"
    )
