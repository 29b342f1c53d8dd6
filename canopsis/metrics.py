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
  and ``crit`` within a batch (a missing key is null), so one write per metric
  per batch; ``last_seen`` only moves forward (``$max``). A batch replayed
  after newer ones may bring back an older description until the next point.
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
from numbers import Real
from statistics import fmean

from pymongo import UpdateOne
from pymongo.database import Database

from canopsis import storage

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
class Writes:
    """The operations storing a batch of points, for ``bulk_write(ordered=False)``."""

    perfdata: list[UpdateOne]
    metrics: list[UpdateOne]


def build_writes(points: Iterable[Point]) -> Writes:
    """One upsert per bucket touched and one per metric described."""
    buckets: dict[tuple[str, str, int], dict[str, float]] = {}
    newest: dict[tuple[str, str], tuple[float, Mapping]] = {}
    for entity_id, metric, timestamp in points:
        key = (entity_id, metric["metric"])
        if key not in newest or timestamp >= newest[key][0]:
            newest[key] = (timestamp, metric)
        if metric.get("value") is not None:
            second = math.floor(timestamp)
            start = _bucket_start(second)
            buckets.setdefault((*key, start), {})[f"points.{second - start}"] = metric["value"]
    return Writes(
        perfdata=[_bucket_write(*key, values) for key, values in buckets.items()],
        metrics=[_meta_write(*key, *described) for key, described in newest.items()],
    )


def write_points(db: Database, points: Iterable[Point]) -> None:
    """Store a batch of points."""
    writes = build_writes(points)
    if writes.perfdata:
        db.perfdata.bulk_write(writes.perfdata, ordered=False)
    if writes.metrics:
        db.metrics.bulk_write(writes.metrics, ordered=False)


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


def _bucket_write(entity_id: str, metric: str, start: int, values: dict) -> UpdateOne:
    where = {"entity_id": entity_id, "metric": metric, "bucket": _date(start)}
    return UpdateOne(where, {"$set": values}, upsert=True)


def _meta_write(entity_id: str, metric: str, timestamp: float, entry: Mapping) -> UpdateOne:
    update = {
        "$set": {field: entry.get(field) for field in META_FIELDS},
        "$max": {"last_seen": _date(timestamp)},
    }
    return UpdateOne({"entity_id": entity_id, "metric": metric}, update, upsert=True)


def _meta(db: Database, entity_id: str, metric: str) -> dict | None:
    fields = dict.fromkeys(META_FIELDS, 1) | {"_id": 0}
    return db.metrics.find_one({"entity_id": entity_id, "metric": metric}, fields)


def _check_fetch(start: float, end: float, aggregation: str, max_points: int) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{name}: must be a number of seconds since the epoch, got {value!r}")
    if end <= start:
        raise ValueError(f"end: must be after start ({start}), got {end}")
    if aggregation not in AGGREGATIONS:
        expected = ", ".join(AGGREGATIONS)
        raise ValueError(f"aggregation: unknown {aggregation!r}, expected one of: {expected}")
    if not isinstance(max_points, int) or isinstance(max_points, bool) or max_points < 1:
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
