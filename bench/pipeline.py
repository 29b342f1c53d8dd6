"""The engine chain end to end: sustained throughput, latency, cost per event, exact counts.

A run starts the engines of a layout on an empty database, opens the seeded
alarms of the mix (:mod:`bench.mix`), then a generator process publishes the
mix to ``canopsis.events`` for a fixed time:

- ``closed`` (throughput): as fast as it can while the messages waiting in the
  engine queues stay under :data:`BACKLOG`, so it publishes at the highest
  rate the chain keeps up with;
- ``rate`` (latency): at a fixed offered rate.

The run ends when every engine queue is empty. Throughput is the events
published over the time from the first publish to that end. In a ``rate`` run,
every :data:`PROBE_EVERY`-th problem check is a latency probe (a ``closed`` run
has none, so its reads do not load the database it measures): a poller reads the
probes' alarms every :data:`POLL_S` seconds (at most :data:`POLL_IDS` of them, the
oldest first) and the latency of a probe is the
time from its publish to the first answer showing an alarm whose output
carries its sequence number or a later one (so it includes up to one poll
period). The database's own time per collection and operation (its ``top`` command,
which SecantusDB and MongoDB both keep) is read before and after, so a run says
which commands its time went to, and how many (a bulk write is one command; its
``serverStatus`` counts the update statements in them). Then MongoDB must hold exactly
what :func:`bench.mix.expected` computes for the published stream (entities, alarms,
steps, checks counted on alarms, history entries, metric points, no dead letter), or the
run failed.
"""

import configparser
import contextlib
import json
import multiprocessing
import queue
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from bench.broker import WindowPublisher
from bench.mix import Mix, Shape, expected, output_seq
from bench.stack import REPO, Program, Stack, _children
from bench.stats import rate, summary
from canopsis.domain import alarm, entityid, event
from canopsis.runtime import topology


def default_chain() -> list[str]:
    """The engines of the default ``engine-pipeline`` program, in order."""
    conf = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    conf.read(REPO / "etc" / "supervisord.d" / "amqp2engines.conf")
    command = conf["program:engine-pipeline"]["command"].split()
    return command[command.index("@PREFIX@/bin/canopsis-engine") + 1 :]


CHAIN = default_chain()
BACKLOG = 1000
PROBE_EVERY = 5
POLL_S = 0.1
#: entities read by one poll, those of the oldest probes: the poller must not load the
#: database it measures more as the chain falls behind (an $in of hundreds of ids costs the
#: embedded server a second)
POLL_IDS = 20
SAMPLE_S = 0.5
#: seconds without progress after which the expected counts are given up
SETTLE_S = 30


@dataclass(frozen=True)
class Layout:
    """``fused``: the chain in one process per worker; ``split``: one process per engine.

    With several workers the entry engine (the cleaner) runs as one process of its own:
    events enter hashed on their routing key, not their entity, and canopsis refuses the
    entry fused with the rest in several workers (``canopsis.runtime.chain.check_workers``).
    """

    kind: str
    workers: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.workers}w"

    def numprocs(self, name: str) -> int:
        """The workers of engine ``name``'s queue."""
        if self.workers == 1 or name == CHAIN[0]:
            return 1
        return self.workers if self.kind == "split" or name == CHAIN[1] else 1

    def programs(self) -> list[tuple[str, list[str], int | None]]:
        """``(program, engines, worker)`` of each process."""
        if self.kind == "fused" and self.workers == 1:
            return [("engine-pipeline-0", CHAIN, None)]
        groups = [CHAIN[1:]] if self.kind == "fused" else [[name] for name in CHAIN[1:]]
        out: list[tuple[str, list[str], int | None]] = [(f"engine-{CHAIN[0]}", CHAIN[:1], None)]
        for engines in groups:
            label = "pipeline" if self.kind == "fused" else engines[0]
            for worker in range(self.workers):
                arg = None if self.workers == 1 else worker
                out.append((f"engine-{label}-{worker}", engines, arg))
        return out

    def queues(self) -> list[str]:
        return [
            topology.queue_name(engines[0], self.numprocs(engines[0]), worker)
            for _program, engines, worker in self.programs()
        ]

    def configure(self, stack: Stack) -> None:
        """``numprocs`` of each engine (read by the broker at boot for the cleaner's queues)."""
        for name in CHAIN:
            stack.engine_conf(name, numprocs=self.numprocs(name))

    def start(self, stack: Stack) -> None:
        for program, engines, worker in self.programs():
            stack.start_engine(program, engines, worker)


def backlog(channel, names: list[str]) -> int:
    """Messages ready in the queues ``names``."""
    return sum(channel.queue_declare(queue=name, passive=True).message_count for name in names)


def _generate(url, mix, mode, value, seconds, queues, published, probes, out) -> None:
    """The generator process: publish the mix, report probes and the totals."""
    publisher = WindowPublisher(url)
    exchange = "canopsis.events"
    start = time.time()
    deadline = start + seconds
    next_check = 0.0  # closed: when to read the backlog again
    count = 0
    problems = 0
    while True:
        now = time.time()
        if now >= deadline:
            break
        if mode == "closed":
            if now >= next_check:
                publisher.sync()
                if backlog(publisher.channel, queues) > value:
                    time.sleep(0.02)
                    continue
                next_check = now + 0.05
        elif count >= (now - start) * value:
            time.sleep(0.001)
            continue
        ev = mix.next()
        key = f"{ev['connector']}.{ev['connector_name']}.{ev['event_type']}.resource"
        sent = time.time()
        publisher.publish(mix_body(ev), exchange, f"{key}.{ev['component']}.{ev['resource']}")
        count += 1
        published.value = count
        if mode == "rate" and ev["event_type"] == "check" and ev["state"] > 0:
            problems += 1
            if problems % PROBE_EVERY == 0:
                probes.put((event.entity_id(ev), output_seq(ev["output"], mix.tag), sent))
    publisher.close()
    out.put((count, start, time.time(), time.process_time()))


def mix_body(ev: dict) -> str:
    return json.dumps(ev)


class _Poller(threading.Thread):
    """Reads the alarms of outstanding probes; records each probe's latency."""

    def __init__(self, db, tag: str, probes) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.tag = tag
        self.probes = probes
        self.outstanding: dict[str, list[tuple[int, float]]] = {}
        self.latencies: list[float] = []
        self.stopping = False
        #: once stopping, the probes still outstanding then are given up
        self.until = 0.0

    def run(self) -> None:
        while not self.stopping or (self.outstanding and time.time() < self.until):
            self._take()
            if self.outstanding:
                self._poll()
            time.sleep(POLL_S)

    def _take(self) -> None:
        while True:
            try:
                eid, seq, sent = self.probes.get_nowait()
            except queue.Empty:
                return
            self.outstanding.setdefault(eid, []).append((seq, sent))

    def _poll(self) -> None:
        ids = list(self.outstanding)[:POLL_IDS]
        found = self.db.alarms.find({"entity_id": {"$in": ids}}, {"entity_id": 1, "output": 1})
        docs = list(found)
        now = time.time()
        for doc in docs:
            seen = output_seq(doc.get("output"), self.tag)
            if seen is None:
                continue
            waiting = self.outstanding[doc["entity_id"]]
            self.latencies += [now - sent for seq, sent in waiting if seq <= seen]
            left = [(seq, sent) for seq, sent in waiting if seq > seen]
            if left:
                self.outstanding[doc["entity_id"]] = left
            else:
                del self.outstanding[doc["entity_id"]]


class _Monitor(threading.Thread):
    """Samples the backlog and every program's CPU and memory."""

    def __init__(self, stack: Stack, programs: list[Program], queues, published) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.programs = programs
        self.queues = queues
        self.published = published
        self.samples: list[dict] = []
        self.stopping = False
        self.start_at = time.time()

    def run(self) -> None:
        with self.stack.broker() as conn:
            channel = conn.channel()
            while not self.stopping:
                self.sample(channel)
                time.sleep(SAMPLE_S)

    def sample(self, channel) -> dict:
        tree = _children()
        row = {
            "t": time.time() - self.start_at,
            "published": self.published.value,
            "backlog": backlog(channel, self.queues),
            "cpu": {},
            "rss": {},
        }
        for program in self.programs:
            row["cpu"][program.name], row["rss"][program.name] = program.sample(tree)
        self.samples.append(row)
        return row


def reset(stack: Stack, layout: Layout | None) -> None:
    """Stop the engines and empty the database; then the queues of ``layout`` hold nothing.

    A layout other than the last one gets a new broker: RabbitMQ 3.10's
    consistent-hash exchange stops routing to a queue deleted and declared again,
    so the queues of another layout cannot just be deleted.
    """
    for name in stack.engines():
        stack.stop(name)
    with stack.mongo() as client:
        client.drop_database(stack.database)
    if layout is None:
        return
    layout.configure(stack)
    if stack.layout not in (None, layout.name):
        stack.restart_broker()
    stack.layout = layout.name
    with stack.broker() as conn:
        channel = conn.channel()
        for name in layout.queues():
            with contextlib.suppress(*conn.channel_errors):
                channel.queue_purge(name)
            if not channel.is_open:
                channel = conn.channel()


def wait_empty(stack: Stack, queues: list[str], timeout: float) -> float:
    """The time every queue of ``queues`` was first seen empty."""
    deadline = time.monotonic() + timeout
    with stack.broker() as conn:
        channel = conn.channel()
        while backlog(channel, queues):
            if time.monotonic() > deadline:
                raise RuntimeError(f"engine queues not drained after {timeout} s")
            time.sleep(0.05)
    return time.time()


def _seed(stack: Stack, mix: Mix, db) -> list[dict]:
    """Open the seeded alarms and wait until they are all stored; the events sent."""
    events = mix.seed_events()
    publisher = WindowPublisher(stack.amqp_url)
    for ev in events:
        publisher.publish(mix_body(ev), "canopsis.events", "seed")
    publisher.close()
    deadline = time.monotonic() + 120
    while db.alarms.count_documents({"connector": {"$ne": "canopsis"}}) < len(events):
        if time.monotonic() > deadline:
            raise RuntimeError("the seeded alarms were not all opened within 120 s")
        time.sleep(0.2)
    return events


def observed(db) -> dict:
    """The counts of the benchmark's own documents in MongoDB (canopsis' own left out)."""
    host = socket.gethostname()
    alarms = list(
        db.alarms.find(
            {"connector": {"$ne": "canopsis"}},
            {"steps": 1, "dropped_steps": 1, "events_count": 1},
        )
    )
    points = 0
    for doc in db.perfdata.find({"entity_id": {"$regex": "^svc-"}}, {"points": 1}):
        points += len(doc.get("points") or {})
    entities = db.entities
    return {
        "connectors": entities.count_documents(
            {"type": "connector", "_id": {"$ne": entityid.connector_id("canopsis", "engines")}}
        ),
        "components": entities.count_documents({"type": "component", "_id": {"$ne": host}}),
        "resources": entities.count_documents({"type": "resource", "component": {"$ne": host}}),
        "alarms": len(alarms),
        "steps": sum(len(a.get("steps") or []) + a.get("dropped_steps", 0) for a in alarms),
        "alarm_events": sum(a.get("events_count", 0) for a in alarms),
        "events_log": db.events_log.count_documents({"connector": {"$ne": "canopsis"}}),
        "points": points,
        "dead_letters": db.dead_letters.count_documents({}),
    }


def verify(db, want: dict) -> tuple[dict, list[str]]:
    """Wait until MongoDB holds ``want`` (or nothing changes for :data:`SETTLE_S`)."""
    last, changed = None, time.monotonic()
    while True:
        got = observed(db)
        wrong = [f"{k}: expected {want[k]}, found {got[k]}" for k in want if got[k] != want[k]]
        if not wrong:
            return got, []
        if got != last:
            last, changed = got, time.monotonic()
        elif time.monotonic() - changed > SETTLE_S:
            return got, wrong
        time.sleep(1)


def run(
    stack: Stack,
    layout: Layout,
    mode: str,
    value: float,
    seconds: float,
    tag: str,
    seeded: float = Shape.seeded,
    on_start: Callable[[Stack], None] | None = None,
) -> dict:
    """One run (``mode`` closed: ``value`` is the backlog limit; rate: events per second);
    ``on_start`` is called once the engines run and the seeded alarms are open."""
    client, db, mix, seed_stream = _started(stack, layout, tag, seeded, on_start)
    ctx = multiprocessing.get_context("fork")
    published, probes, out = ctx.Value("q", 0), ctx.Queue(), ctx.Queue()
    queues = layout.queues()
    generator = ctx.Process(
        target=_generate,
        args=(stack.amqp_url, mix, mode, value, seconds, queues, published, probes, out),
    )
    poller = _Poller(db, tag, probes)
    monitor = _Monitor(stack, _watched(stack), queues, published)
    with stack.broker() as conn:
        before = monitor.sample(conn.channel())
    db_before = _db_readings(client)
    generator.start()
    monitor.programs.append(Program("generator", generator, None))
    poller.start()
    monitor.start()
    count, start, stop, generator_cpu = out.get(timeout=seconds + 600)
    generator.join()
    empty = wait_empty(stack, queues, timeout=600)
    with stack.broker() as conn:
        after = monitor.sample(conn.channel())
    db_cost = _per_1000(db_before, _db_readings(client), stack.database, count)
    _stop(monitor, poller)
    want, got, wrong = _check_counts(db, mix, seed_stream, count, (start, stop))
    client.close()
    return {
        "layout": layout.name,
        "mode": mode,
        "offered_per_s": value if mode == "rate" else None,
        "seconds": stop - start,
        "published": count,
        "seeded_alarms": len(seed_stream),
        "publish_per_s": rate(count, stop - start),
        "drain_s": empty - stop,
        "events_per_s": rate(count, empty - start),
        "late_events_per_s": late_rate(monitor.samples, start - monitor.start_at, stop - start),
        "latency_s": summary(poller.latencies),
        "probes_unseen": sum(map(len, poller.outstanding.values())),
        "expected": want,
        "found": got,
        "counts_match": not wrong,
        "mismatches": wrong,
        "programs": _costs(before, after, count, monitor.programs, generator_cpu),
        **db_cost,
        "queue_depth": _depths(monitor.samples, start - monitor.start_at),
    }


def _db_readings(client) -> tuple[dict, int]:
    """The database's ``top`` and the update statements it ran (a bulk write of n updates
    is n of them, and one command for ``top``)."""
    top = client.admin.command("top")["totals"]
    return top, client.admin.command("serverStatus")["opcounters"]["update"]


def _per_1000(before: tuple[dict, int], after: tuple[dict, int], database: str, events: int):
    """The database's time and commands per 1,000 events between two :func:`_db_readings`
    (a bulk write is one command), and its update statements."""
    per_1000 = {
        f"db_{name}_per_1000_events": {
            key: value * 1000 / events
            for key, value in statement_time(before[0], after[0], database, field).items()
        }
        for name, field in (("ms", "time"), ("commands", "count"))
    }
    per_1000["db_updates_per_1000_events"] = (after[1] - before[1]) * 1000 / events
    return per_1000


def _started(
    stack: Stack,
    layout: Layout,
    tag: str,
    seeded: float,
    on_start: Callable[[Stack], None] | None,
) -> tuple:
    """The layout running on a reset database, its seeded alarms open:
    ``(client, db, mix, seed stream)``."""
    reset(stack, layout)
    layout.start(stack)
    client = stack.mongo()
    db = stack.db(client)
    mix = Mix(Shape(seeded=seeded), seed=zlib.crc32(tag.encode()), tag=tag)
    seed_time = time.time()
    seed_stream = [(ev, seed_time) for ev in _seed(stack, mix, db)]
    if on_start is not None:
        on_start(stack)
    return client, db, mix, seed_stream


def _watched(stack: Stack) -> list[Program]:
    """The programs whose CPU and memory a run measures: the engines, broker and database."""
    engines = [stack.programs[name] for name in stack.engines()]
    return [*engines, stack.programs["rabbitmq-server"], stack.programs["mongodb"]]


def _stop(monitor: "_Monitor", poller: "_Poller") -> None:
    """Stop sampling; the poller looks for the last probes 10 s more."""
    monitor.stopping = True
    poller.until = time.time() + 10
    poller.stopping = True
    monitor.join()
    poller.join()


def _check_counts(
    db, mix: Mix, seed_stream: list, count: int, span: tuple[float, float]
) -> tuple[dict, dict, list]:
    """What canopsis' rules give for the stream published over ``span``, what the database
    holds, and where they differ."""
    start, stop = span
    step = (stop - start) / max(1, count)
    stream = seed_stream + [(mix.next(), start + i * step) for i in range(count)]
    want = expected(stream, alarm.AlarmConfig()).as_dict()
    check = {k: v for k, v in want.items() if k not in ("events", "by_type")}
    check["dead_letters"] = 0
    got, wrong = verify(db, check)
    return want, got, wrong


def _costs(
    before: dict, after: dict, events: int, programs: list[Program], generator_cpu: float
) -> dict:
    """CPU seconds (in all and per 1,000 events) and peak memory of each program in the run."""
    costs = {}
    for program in programs:
        used = after["cpu"][program.name] - before["cpu"].get(program.name, 0.0)
        if program.name == "generator":
            used = generator_cpu
        costs[program.name] = {
            "cpu_s": used,
            "cpu_s_per_1000_events": used * 1000 / events if events else None,
            "peak_rss_mb": program.peak_rss / 2**20,
        }
    return costs


def late_rate(samples: list[dict], offset: float, seconds: float) -> float | None:
    """Events per second taken from the queues over the last third of publishing.

    A run starts on an empty database, so its first events create every entity,
    metric and bucket they name; by the last third most are known, as on a site
    that has been running. Taken = published - waiting in the queues, between the
    first and the last sample of that third (``t`` from ``offset``, the first publish).
    """
    begin, end = offset + seconds * 2 / 3, offset + seconds
    window = [row for row in samples if begin <= row["t"] <= end]
    if len(window) < 2 or window[-1]["t"] <= window[0]["t"]:
        return None
    first, last = window[0], window[-1]
    taken = (last["published"] - last["backlog"]) - (first["published"] - first["backlog"])
    return taken / (last["t"] - first["t"])


#: the operations of ``top``, which also has totals by lock kind
TOP_OPERATIONS = ("queries", "getmore", "insert", "update", "remove", "commands")


def statement_time(
    before: dict, after: dict, database: str, field: str = "time"
) -> dict[str, float]:
    """Milliseconds spent between two ``top`` readings, by ``collection.operation``, most first
    (``field="count"``: the commands run instead).

    Only the namespaces of ``database`` count (the poller's reads included).
    """
    scale = 1000 if field == "time" else 1
    spent = {}
    for namespace, ops in after.items():
        db, _, collection = namespace.partition(".")
        if db != database or not isinstance(ops, dict):
            continue
        for op in TOP_OPERATIONS:
            was = before.get(namespace, {}).get(op, {}).get(field, 0)
            if ops[op][field] > was:
                spent[f"{collection}.{op}"] = (ops[op][field] - was) / scale
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


def _depths(samples: list[dict], offset: float) -> list[list[float]]:
    """``[seconds since the first publish, messages waiting]`` about once a second."""
    rows, last = [], None
    for row in samples:
        t = round(row["t"] - offset)
        if t != last:
            rows.append([t, row["backlog"]])
            last = t
    return rows
