"""The alarm list in a storm: every open alarm just updated, events still flowing.

At each level, on an emptied database, that many open alarms are inserted as
:func:`bench.rest.make_alarms` makes them (states 1 to 3, some acked, 20
connectors), each last updated within the last minute. The default engine
chain (:data:`LAYOUT`) is started and a generator process publishes check
events about those alarms' entities at ``per_s`` events per second through
``canopsis.events``: a random stored alarm each time, most repeating its
state, one in :data:`CHANGE` changing it to another problem state, so the
alarms keep being updated and all stay open. While it flows, after
:data:`WARM_S` seconds, the requests of :data:`QUERIES` are timed one at a time
over one kept-alive connection (:func:`bench.rest._time`). The rate the
generator reached over the measurement, and the rate the engines took events
from their queues, say whether the load was real. The engines are stopped and
their queues purged afterwards.
"""

import multiprocessing
import random
import time

from bench import pipeline, rest
from bench.broker import WindowPublisher
from bench.mix import Mix
from bench.stack import Stack
from bench.stats import rate
from canopsis.store import alarms

LAYOUT = pipeline.Layout("fused", 1)
#: one storm event in this many changes its alarm's state
CHANGE = 10
#: seconds of flowing events before the first request is timed
WARM_S = 2
#: the requests timed, by name; ``{connector}``: a connector name of the storm
QUERIES = {
    "default_list": "/api/v2/alarms",
    "filtered_list": "/api/v2/alarms?connector_name={connector}&state=3",
    "state_filter": "/api/v2/alarms?state=3",
    "sort_state": "/api/v2/alarms?sort=state",
    "counts": "/api/v2/alarms/counts",
    "page_2": "/api/v2/alarms?page=2",
    "page_20": "/api/v2/alarms?page=20",
}
FIELDS = ("connector", "connector_name", "component", "resource")


class Storm:
    """Check events about the stored alarms ``targets`` (their identity fields and state)."""

    def __init__(self, targets: list[dict], seed: int = 1) -> None:
        self.targets = targets
        self.rng = random.Random(seed)
        self.seq = 0

    def next(self) -> dict:
        target = self.rng.choice(self.targets)
        if self.rng.randrange(CHANGE) == 0:
            target["state"] = self.rng.choice([s for s in (1, 2, 3) if s != target["state"]])
        self.seq += 1
        return {
            **{name: target[name] for name in FIELDS},
            "source_type": "resource",
            "event_type": "check",
            "state": target["state"],
            "output": f"storm {self.seq}",
        }


def _flow(url: str, storm: Storm, per_s: float, stop, published) -> None:
    """The generator process: publish ``storm`` at ``per_s`` events a second until ``stop``."""
    publisher = WindowPublisher(url)
    start = time.time()
    count = 0
    while not stop.is_set():
        if count >= (time.time() - start) * per_s:
            time.sleep(0.001)
            continue
        ev = storm.next()
        key = ".".join((ev["connector"], ev["connector_name"], "check", "resource"))
        publisher.publish(
            pipeline.mix_body(ev), "canopsis.events", f"{key}.{ev['component']}.{ev['resource']}"
        )
        count += 1
        published.value = count
    publisher.close()


def run(stack: Stack, levels: list[int], per_s: float, repeat: int, budget_s: float) -> dict:
    """The storm at each number of open alarms of ``levels``, events flowing at ``per_s``."""
    results = {str(level): _level(stack, level, per_s, repeat, budget_s) for level in levels}
    pipeline.reset(stack, LAYOUT)
    return results


def _level(stack: Stack, level: int, per_s: float, repeat: int, budget_s: float) -> dict:
    pipeline.reset(stack, LAYOUT)
    with stack.mongo() as client:
        db = stack.db(client)
        key = rest.api_key(db)
        alarms.ensure_indexes(db)
        started = time.perf_counter()
        rest.insert_alarms(db, Mix(tag="storm"), 0, level, spread_s=60)
        inserted_s = time.perf_counter() - started
        projection = {**dict.fromkeys(FIELDS, 1), "state.val": 1, "_id": 0}
        targets = [
            {**{name: doc[name] for name in FIELDS}, "state": doc["state"]["val"]}
            for doc in db.alarms.find({}, projection)
        ]
    LAYOUT.start(stack)
    connector = random.Random(level).choice(targets)["connector_name"]
    paths = {name: path.format(connector=connector) for name, path in QUERIES.items()}
    ctx = multiprocessing.get_context("fork")
    stop, published = ctx.Event(), ctx.Value("q", 0)
    generator = ctx.Process(
        target=_flow, args=(stack.amqp_url, Storm(targets, level), per_s, stop, published)
    )
    generator.start()
    try:
        time.sleep(WARM_S)
        result = _measure(
            stack, rest.Client(stack.web_port, key), paths, published, repeat, budget_s
        )
    finally:
        stop.set()
        generator.join(60)
    return {"alarms": len(targets), "insert_s": inserted_s, "offered_per_s": per_s, **result}


def _measure(stack: Stack, client, paths: dict, published, repeat: int, budget_s: float) -> dict:
    """Each request of ``paths`` timed, and what flowed meanwhile."""
    queues = LAYOUT.queues()
    with stack.broker() as conn:
        channel = conn.channel()
        first = (time.time(), published.value, pipeline.backlog(channel, queues))
        timed = {name: rest._time(client, [path], repeat, budget_s) for name, path in paths.items()}
        last = (time.time(), published.value, pipeline.backlog(channel, queues))
    client.conn.close()
    seconds = last[0] - first[0]
    taken = (last[1] - last[2]) - (first[1] - first[2])
    flow = {
        "seconds": seconds,
        "events_per_s": rate(last[1] - first[1], seconds),
        "taken_per_s": rate(taken, seconds),
        "backlog_end": last[2],
    }
    return {"flow": flow, **timed}
