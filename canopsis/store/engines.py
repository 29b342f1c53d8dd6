"""What the engines report about themselves as metrics (their own check's perf data).

Each engine process publishes its counters as metrics of the entity
``engine-<name>/<host>`` (see :mod:`canopsis.runtime.engine`); the REST API shows the last
value of each, in ``/api/v2/engines`` and ``/metrics``. Their progress reports are
:mod:`canopsis.runtime.enginehealth`'s.
"""

import time
from datetime import UTC, datetime

from pymongo.database import Database

from canopsis.domain import metrics

#: the reports older than this (seconds) are not shown
WINDOW = 600


def last_reports(db: Database, now: float | None = None) -> dict[str, list[dict]]:
    """The engines' last self-reports within :data:`WINDOW`, by engine name.

    ``{engine: [{"host", "entity_id", "metrics": {metric: last value}}]}``.
    """
    now = time.time() if now is None else now
    since = datetime.fromtimestamp(now - WINDOW, UTC)
    found = db.metrics.find(
        {"entity_id": {"$regex": "^engine-"}, "last_seen": {"$gte": since}},
        {"_id": 0, "entity_id": 1, "metric": 1},
    )
    by_entity: dict[str, dict[str, float]] = {}
    for doc in found:
        got = metrics.fetch(
            db, doc["entity_id"], doc["metric"], now - WINDOW, now + 1, "last", max_points=1
        )
        if got["points"]:
            by_entity.setdefault(doc["entity_id"], {})[doc["metric"]] = got["points"][-1][1]
    reports: dict[str, list[dict]] = {}
    for entity_id in sorted(by_entity):
        resource, _slash, host = entity_id.partition("/")
        engine = resource.removeprefix("engine-")
        reports.setdefault(engine, []).append(
            {"host": host, "entity_id": entity_id, "metrics": by_entity[entity_id]}
        )
    return reports
