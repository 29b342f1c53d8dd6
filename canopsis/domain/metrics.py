"""Metric storage: points in hourly buckets, one description per metric.

A metric is identified by the entity id and the metric name of an event's
``perf_data_array`` entry. Two collections hold it:

``perfdata``, one document per metric per hour::

    {"entity_id": "cpu/vm", "metric": "percent-user",
     "bucket": <date: the hour's start, UTC>,
     "points": {"0": 1.2, "10": 1.5, ...}}   # seconds since the hour's start

``metrics``, one document per metric, its description as last reported::

    {"entity_id": "cpu/vm", "metric": "percent-user",
     "unit": "%", "min": None, "max": None, "warn": None, "crit": None,
     "last_seen": <date of its newest point>}

Choices:

- Hour buckets. A metric every 10 s (collectd's default) fills an hour with 360
  points, about 5 KB of BSON; a day bucket would hold 8,640 points, about
  130 KB. MongoDB and the embedded server rewrite a document on each update,
  so writing one point costs a few KB with hour buckets and tens of KB with
  day buckets; reading stays cheap: a day is 24 documents, the whole retention
  of 90 days 2,160, found by one index range (entity and metric equal, bucket
  in a range) and never sorted by the server.
- A point is stored at its whole second (the fraction is dropped) with
  ``$set`` of ``points.<offset>``: writing a point again changes nothing, and
  the last value written for one second wins.
- A null value (unknown, perfdata's ``U``) stores no point but still describes
  the metric.
- The description is the newest point's ``unit``, ``min``, ``max``, ``warn``
  and ``crit`` within a batch (a missing key is null), so at most one write
  per metric per batch; ``last_seen`` only moves forward (``$max``). A batch
  replayed after newer ones may bring back an older description until the next
  point. The perfdata engine's :class:`Writer` skips a description whose fields
  did not change until its ``last_seen`` is ``describe_every`` seconds old.
- Retention (default :data:`DEFAULT_RETENTION_DAYS`) is two TTL indexes: a
  bucket goes once its newest possible point is older than the retention, a
  description once the metric has not been seen for the retention.
  :func:`ensure_indexes` changes the retention of existing indexes.
- :func:`fetch` reads the window ``start <= t < end`` (epoch seconds), split
  into intervals of ``ceil((end - start) / max_points)`` seconds (at least 1)
  from ``start``, so at most ``max_points`` of them; each interval that holds
  points gives one ``[interval start, aggregate]``, oldest first.
"""

import calendar
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from statistics import fmean

from pymongo import UpdateOne
from pymongo.database import Database

from canopsis.domain.values import is_finite_number, is_integer
from canopsis.runtime import storage

BUCKET_SECONDS = 3600
DEFAULT_RETENTION_DAYS = 90
DEFAULT_MAX_POINTS = 500
META_FIELDS = ("unit", "min", "max", "warn", "crit")
AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "mean": fmean,
    "min": min,
    "max": max,
    "sum": math.fsum,
    "first": lambda values: values[0],
    "last": lambda values: values[-1],
    "delta": lambda values: values[-1] - values[0],
}

Point = tuple[str, Mapping, float]
"""``(entity_id, perf_data_array entry, timestamp)``."""


@dataclass(frozen=True)
class Batch:
    """A batch of points grouped as they are stored."""

    #: (entity_id, metric, bucket start) -> {offset in the bucket as text: value}
    buckets: dict[tuple[str, str, int], dict[str, float]]
    #: (entity_id, metric) -> (timestamp, entry) of its newest point
    newest: dict[tuple[str, str], tuple[float, Mapping]]


def gather(points: Iterable[Point]) -> Batch:
    """One entry per bucket touched and one per metric described."""
    batch = Batch({}, {})
    for entity_id, metric, timestamp in points:
        key = (entity_id, metric["metric"])
        if key not in batch.newest or timestamp >= batch.newest[key][0]:
            batch.newest[key] = (timestamp, metric)
        if metric.get("value") is not None:
            second = math.floor(timestamp)
            start = _bucket_start(second)
            batch.buckets.setdefault((*key, start), {})[str(second - start)] = metric["value"]
    return batch


class Writer:
    """Stores batches of points, remembering what it stored to write less.

    A bucket or a description this writer has not stored yet is inserted (an
    insert costs the embedded database a quarter of an update); one found stored
    by then, or already stored by this writer, is upserted. A description whose
    fields did not change is written again only once its ``last_seen`` is
    ``describe_every`` seconds behind the newest point, so ``last_seen`` lags the
    newest point by less than that.
    """

    def __init__(self, db: Database, describe_every: float = 0.0, cache_size: int = 200_000):
        self.db = db
        self.describe_every = describe_every
        self.cache_size = cache_size
        #: the buckets stored
        self.stored: set[tuple[str, str, int]] = set()
        #: (entity_id, metric) -> (description, last_seen) as stored
        self.described: dict[tuple[str, str], tuple[tuple, float]] = {}

    def write(self, points: Iterable[Point]) -> None:
        batch = gather(points)
        self._buckets(batch.buckets)
        self._descriptions(batch.newest)
        if len(self.stored) + len(self.described) > self.cache_size:
            self.forget()

    def forget(self) -> None:
        """Forget what this writer stored: after a failed batch (a database that crashed
        before the batch was made durable lost some), so its redelivery writes it all again."""
        self.stored.clear()
        self.described.clear()

    def _buckets(self, buckets: dict[tuple[str, str, int], dict[str, float]]) -> None:
        new = [key for key in buckets if key not in self.stored]
        docs = [_bucket_doc(*key, buckets[key]) for key in new]
        found = [new[i] for i in storage.insert_new(self.db.perfdata, docs)]
        again = [key for key in buckets if key in self.stored] + found
        if again:
            writes = [_bucket_write(*key, buckets[key]) for key in again]
            self.db.perfdata.bulk_write(writes, ordered=False)
        self.stored.update(buckets)

    def _descriptions(self, newest: dict[tuple[str, str], tuple[float, Mapping]]) -> None:
        described = {
            key: (_description(entry), timestamp) for key, (timestamp, entry) in newest.items()
        }
        new = [key for key in described if key not in self.described]
        docs = [_meta_doc(*key, *described[key]) for key in new]
        found = [new[i] for i in storage.insert_new(self.db.metrics, docs)]
        again = [key for key in described if key in self.described and self._due(key, described)]
        if again + found:
            writes = [_meta_write(*key, *described[key]) for key in again + found]
            self.db.metrics.bulk_write(writes, ordered=False)
        for key in new + again:
            self.described[key] = described[key]

    def _due(self, key: tuple[str, str], described: dict) -> bool:
        """Whether the description of ``key`` in ``described`` is to be written again."""
        (stored, last_seen), (description, at) = self.described[key], described[key]
        return description != stored or at - last_seen >= self.describe_every


def write_points(db: Database, points: Iterable[Point]) -> None:
    """Store a batch of points, every description written."""
    Writer(db).write(points)


def ensure_indexes(db: Database, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
    """Create the indexes the queries need and set the retention."""
    if retention_days < 1:
        raise ValueError(f"retention_days: must be at least 1, got {retention_days}")
    retention = retention_days * 86400
    db.perfdata.create_index([("entity_id", 1), ("metric", 1), ("bucket", 1)], unique=True)
    db.metrics.create_index([("entity_id", 1), ("metric", 1)], unique=True)
    storage.ensure_ttl(db.perfdata, "bucket", retention + BUCKET_SECONDS)
    storage.ensure_ttl(db.metrics, "last_seen", retention)


def fetch(
    db: Database,
    entity_id: str,
    metric: str,
    start: float,
    end: float,
    aggregation: str = "mean",
    max_points: int = DEFAULT_MAX_POINTS,
) -> dict:
    """The points of one metric in ``[start, end)``, aggregated into at most ``max_points``.

    ``meta`` is the metric's description, None for a metric never reported.
    Raises ValueError naming the parameter for an invalid one.
    """
    _check_fetch(start, end, aggregation, max_points)
    step = max(1, math.ceil((end - start) / max_points))
    aggregate = AGGREGATIONS[aggregation]
    intervals = groupby(
        sorted(_points(db, entity_id, metric, start, end)),
        key=lambda point: (point[0] - start) // step,
    )
    return {
        "entity_id": entity_id,
        "metric": metric,
        "aggregation": aggregation,
        "step": step,
        "meta": _meta(db, entity_id, metric),
        "points": [
            [start + index * step, aggregate([value for _, value in points])]
            for index, points in intervals
        ],
    }


def list_metrics(db: Database, entity_id: str) -> list[dict]:
    """The metrics of an entity by name: ``metric``, the description and ``last_seen`` (epoch)."""
    found = db.metrics.find({"entity_id": entity_id}, {"_id": 0, "entity_id": 0})
    return [
        doc | {"last_seen": _epoch(doc["last_seen"])}
        for doc in sorted(found, key=lambda doc: doc["metric"])
    ]


def _bucket_doc(entity_id: str, metric: str, start: int, values: dict) -> dict:
    return {"entity_id": entity_id, "metric": metric, "bucket": _date(start), "points": values}


def _bucket_write(entity_id: str, metric: str, start: int, values: dict) -> UpdateOne:
    where = {"entity_id": entity_id, "metric": metric, "bucket": _date(start)}
    points = {f"points.{offset}": value for offset, value in values.items()}
    return UpdateOne(where, {"$set": points}, upsert=True)


def _description(entry: Mapping) -> tuple:
    """The fields of :data:`META_FIELDS` of a point, in order."""
    return tuple(entry.get(field) for field in META_FIELDS)


def _meta_doc(entity_id: str, metric: str, description: tuple, timestamp: float) -> dict:
    fields = dict(zip(META_FIELDS, description, strict=True))
    return {"entity_id": entity_id, "metric": metric, **fields, "last_seen": _date(timestamp)}


def _meta_write(entity_id: str, metric: str, description: tuple, timestamp: float) -> UpdateOne:
    update = {
        "$set": dict(zip(META_FIELDS, description, strict=True)),
        "$max": {"last_seen": _date(timestamp)},
    }
    return UpdateOne({"entity_id": entity_id, "metric": metric}, update, upsert=True)


def _meta(db: Database, entity_id: str, metric: str) -> dict | None:
    fields = dict.fromkeys(META_FIELDS, 1) | {"_id": 0}
    return db.metrics.find_one({"entity_id": entity_id, "metric": metric}, fields)


def _check_fetch(start: float, end: float, aggregation: str, max_points: int) -> None:
    for name, value in (("start", start), ("end", end)):
        if not is_finite_number(value):
            raise ValueError(f"{name}: must be a number of seconds since the epoch, got {value!r}")
    if end <= start:
        raise ValueError(f"end: must be after start ({start}), got {end}")
    if aggregation not in AGGREGATIONS:
        expected = ", ".join(AGGREGATIONS)
        raise ValueError(f"aggregation: unknown {aggregation!r}, expected one of: {expected}")
    if not is_integer(max_points) or max_points < 1:
        raise ValueError(f"max_points: must be an integer of at least 1, got {max_points!r}")


def _points(
    db: Database, entity_id: str, metric: str, start: float, end: float
) -> Iterator[tuple[int, float]]:
    buckets = {"$gte": _date(_bucket_start(math.floor(start))), "$lt": _date(math.ceil(end))}
    query = {"entity_id": entity_id, "metric": metric, "bucket": buckets}
    for doc in db.perfdata.find(query, {"_id": 0, "bucket": 1, "points": 1}):
        base = _epoch(doc["bucket"])
        for offset, value in doc["points"].items():
            if start <= base + int(offset) < end:
                yield base + int(offset), value


def _bucket_start(second: int) -> int:
    return second - second % BUCKET_SECONDS


def _date(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _epoch(date: datetime) -> int:
    """Whole epoch seconds of a date read back (naive UTC, or aware with ``tz_aware``)."""
    return calendar.timegm(date.utctimetuple())
