"""Whether each engine makes progress, reported around the pipeline rather than through it.

An engine's own check (its perf data and state) travels through the pipeline, the very thing that is
stuck when an engine stalls (a cleaner that cannot get a batch through also
holds its own check in its queue). So every engine process also writes
its health straight to MongoDB, one document per engine it runs, in
``engine_health``::

    {"_id": "<engine>/<host>/<worker or ->", "engine": "alerts", "host": "h1",
     "worker": 0 | None, "state": 0 | 3, "output": "ok" | "<why it is stalled>",
     "failures": <batches failed in a row>, "queue_depth": <messages waiting>,
     "updated": <date, UTC>}

It is written every :data:`REPORT_EVERY` seconds, at once when the state
changes, and deleted when the process stops cleanly (SIGTERM).

An engine is stalled (state 3, :func:`assess`) when :data:`STALL_FAILURES`
batches failed in a row (each is retried with a growing backoff), or when
messages wait in its queue and nothing was acknowledged for
:data:`STALL_SECONDS`. A document not written for :data:`STALE_SECONDS` is a
process that stopped reporting (hung, or killed and not restarted): readers
count it as a problem too (:func:`problems`).
"""

import datetime as dt

import pymongo
from pymongo import ReplaceOne
from pymongo.database import Database

COLLECTION = "engine_health"
STATE_OK, STATE_STALLED = 0, 3
#: batches failed in a row that make an engine stalled
STALL_FAILURES = 3
#: seconds without an acknowledgement, messages waiting, that make an engine stalled
STALL_SECONDS = 60.0
#: seconds between two reports of a process
REPORT_EVERY = 5.0
#: seconds after which a report not renewed is a problem of its own
STALE_SECONDS = 120.0
#: seconds a report may take to write
WRITE_TIMEOUT = 1.0


def report_id(engine: str, host: str, worker: int | None) -> str:
    return f"{engine}/{host}/{'-' if worker is None else worker}"


def assess(failures: int, last_error: str, depth: int, idle: float) -> tuple[int, str]:
    """``(state, output)`` of an engine: ``failures`` batches failed in a row (the last with
    ``last_error``), ``depth`` messages waiting, nothing acknowledged for ``idle`` seconds."""
    if failures >= STALL_FAILURES:
        return STATE_STALLED, (
            f"stalled: {failures} batches failed in a row, nothing acknowledged for "
            f"{idle:.0f} s; last error: {last_error}"
        )
    if depth > 0 and idle >= STALL_SECONDS:
        return STATE_STALLED, (
            f"stalled: {depth} messages waiting, nothing acknowledged for {idle:.0f} s"
        )
    return STATE_OK, "ok"


def write(db: Database, docs: list[dict], now: float) -> None:
    """Store the reports ``docs`` (each with its ``_id``), stamped ``now``."""
    updated = dt.datetime.fromtimestamp(now, dt.UTC)
    writes = [ReplaceOne({"_id": d["_id"]}, {**d, "updated": updated}, upsert=True) for d in docs]
    with pymongo.timeout(WRITE_TIMEOUT):  # a database gone holds the engine loop this long
        db[COLLECTION].bulk_write(writes, ordered=False)


def remove(db: Database, ids: list[str]) -> None:
    db[COLLECTION].delete_many({"_id": {"$in": ids}})


def reports(db: Database) -> list[dict]:
    """Every engine's last report, by ``_id``."""
    return list(db[COLLECTION].find().sort("_id", 1))


def problems(docs: list[dict], now: float) -> dict[str, str]:
    """``{report id: why}`` for the stalled engines and those that stopped reporting."""
    found = {}
    for doc in docs:
        age = now - doc["updated"].timestamp()
        if age >= STALE_SECONDS:
            found[doc["_id"]] = f"no report for {age:.0f} s (the process is hung or gone)"
        elif doc["state"] != STATE_OK:
            found[doc["_id"]] = doc["output"]
    return found
