"""The REST API under gunicorn: alarm queries over many open alarms, and event intake.

Open alarms are made with :func:`canopsis.domain.alarm.apply_event` (the documents
the alerts engine writes) and inserted directly, up to each level of
``levels``; at each level the latency of these requests is measured one at a
time, over one kept-alive connection, after two warm-up requests:

- ``default_list``: ``GET /api/v2/alarms`` (open, newest first, 50 a page);
- ``filtered_list``: critical alarms of one connector;
- ``counts``: ``GET /api/v2/alarms/counts``;
- ``single``: ``GET /api/v2/alarms/{id}`` of a random alarm;
- ``console_first_page``: the console's alarm list, from asking for the page to its
  first rows shown in Chromium (:mod:`bench.console`).

Each query runs ``repeat`` times or for ``budget_s`` seconds, whichever comes
first (a request cut short by gunicorn's 30 s timeout is reported as an
error). ``POST /api/v2/event`` is measured with batches of 1 and of 100
events from :data:`CLIENTS` processes at once, each posting as fast as
answers come, while the engines run: the rate is the events over the time from
the first post until the engines' queues are empty (each event processed end to
end), beside the rate the API accepted them at.
"""

import http.client
import json
import multiprocessing
import random
import secrets
import time
import urllib.parse

from bench import console, pipeline
from bench.mix import Mix
from bench.stack import Stack
from bench.stats import rate, summary
from canopsis.domain import alarm, auth, event
from canopsis.store import alarms

CLIENTS = 4
#: loads of the console's alarm list at each level
CONSOLE_LOADS = 10
INSERT_CHUNK = 1000
DAY = 86400


def make_alarms(mix: Mix, start: int, stop: int, now: float, spread_s: float = DAY) -> list[dict]:
    """Open alarms ``start..stop-1``: a problem check, some acked (a minute later, never
    after ``now``), last updated within ``spread_s`` before ``now``."""
    rng = random.Random(start)
    cfg = alarm.AlarmConfig()
    docs = []
    for number in range(start, stop):
        raw = mix.check(number % mix.shape.entities, rng.randint(1, 3))
        raw["component"] = f"{raw['component']}-{number // mix.shape.entities}"
        at = now - rng.uniform(0, spread_s)
        ev, _problems = event.normalize(raw, at)
        doc = alarm.apply_event(None, ev, at, cfg, f"k{number}").alarm
        if rng.random() < 0.3:
            ack = {**ev, "event_type": "ack", "author": "bench"}
            doc = alarm.apply_event(doc, ack, min(at + 60, now), cfg, f"a{number}").alarm
        docs.append({**doc, "rev": 1})
    return docs


def insert_alarms(db, mix: Mix, start: int, stop: int, spread_s: float = DAY) -> None:
    """Insert the open alarms ``start..stop-1`` of :func:`make_alarms`, a chunk at a time
    (each last updated within ``spread_s`` before its chunk is made)."""
    for first in range(start, stop, INSERT_CHUNK):
        chunk = make_alarms(mix, first, min(first + INSERT_CHUNK, stop), time.time(), spread_s)
        db.alarms.insert_many(chunk, ordered=False)


class Client:
    """One kept-alive HTTP connection with an API key."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Key {key}", "Content-Type": "application/json"}

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def _time(client: Client, paths: list[str], repeat: int, budget_s: float) -> dict:
    """Latency of ``repeat`` GETs (fewer past ``budget_s``), after one warm-up request."""
    samples: list[float] = []
    deadline = time.monotonic() + budget_s
    try:
        client.request("GET", paths[0])
        for index in range(repeat):
            path = paths[index % len(paths)]
            start = time.perf_counter()
            status, body = client.request("GET", path)
            samples.append(time.perf_counter() - start)
            if status != 200:
                return {"error": f"GET {path}: {status} {body[:200]!r}", "count": len(samples)}
            if time.monotonic() > deadline:
                break
    except (OSError, http.client.HTTPException) as exc:
        client.reconnect()
        return {"error": f"GET {paths[0]}: {type(exc).__name__}: {exc}", "count": len(samples)}
    return summary(samples, (50, 95))


def queries(stack: Stack, db, key: str, levels: list[int], repeat: int, budget_s: float) -> dict:
    """Latency of the alarm queries with each number of open alarms of ``levels``."""
    alarms.ensure_indexes(db)
    mix = Mix(tag="rest")
    client = Client(stack.web_port, key)
    results = {}
    stored = 0
    for level in levels:
        started = time.perf_counter()
        insert_alarms(db, mix, stored, level)
        stored = max(stored, level)
        inserted_s = time.perf_counter() - started
        ids = [doc["_id"] for doc in db.alarms.aggregate([{"$sample": {"size": 50}}])]
        singles = [f"/api/v2/alarms/{urllib.parse.quote(i, safe='')}" for i in ids]
        results[str(level)] = {
            "insert_s": inserted_s,
            "default_list": _time(client, ["/api/v2/alarms"], repeat, budget_s),
            "filtered_list": _time(
                client, ["/api/v2/alarms?state=3&connector_name=nagios-0"], repeat, budget_s
            ),
            "counts": _time(client, ["/api/v2/alarms/counts"], repeat, budget_s),
            "single": _time(client, singles, repeat, budget_s),
            "console_first_page": console.first_page(stack.web_port, db, CONSOLE_LOADS),
        }
    return results


def _poster(port: int, key: str, body: str, size: int, seconds: float, out) -> None:
    client = Client(port, key)
    sent = 0
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        status, answer = client.request("POST", "/api/v2/event", body)
        latencies.append(time.perf_counter() - start)
        if status != 202:
            raise RuntimeError(f"POST /api/v2/event: {status} {answer[:300]!r}")
        sent += size
    out.put((sent, latencies))


def intake(stack: Stack, key: str, batch: int, seconds: float, queues: list[str]) -> dict:
    """Events per second posted to ``POST /api/v2/event`` by :data:`CLIENTS` clients and
    processed by the engines consuming ``queues``."""
    mix = Mix(tag="intake")
    events = [mix.next() for _ in range(batch)]
    body = json.dumps(events[0] if batch == 1 else events)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_poster, args=(stack.web_port, key, body, batch, seconds, out))
        for _ in range(CLIENTS)
    ]
    start = time.time()
    for proc in procs:
        proc.start()
    answers = [out.get(timeout=seconds + 300) for _ in procs]
    accepted = time.time()
    for proc in procs:
        proc.join()
    drained = pipeline.wait_empty(stack, queues, timeout=600)
    sent = sum(count for count, _ in answers)
    latencies = [value for _, values in answers for value in values]
    return {
        "batch": batch,
        "clients": CLIENTS,
        "events": sent,
        "events_per_s": rate(sent, drained - start),
        "accepted_per_s": rate(sent, accepted - start),
        "request_s": summary(latencies, (50, 95)),
    }


def api_key(db) -> str:
    """An operator key; its creator, an operator user ``bench``, exists (a key acts with
    no more than its creator's current rights, and not at all once the creator is gone)."""
    auth.create_user(db, "bench", secrets.token_urlsafe(24), "operator")
    _doc, key = auth.create_key(db, "operator", "bench", "bench", None)
    return key
