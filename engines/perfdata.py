"""The perfdata engine: stores the metric points that events carry (:mod:`canopsis.domain.metrics`).

Every event with a ``perf_data_array`` (a ``perf`` event, but also a ``check``
with Nagios perfdata, or any other type) gives one point per entry, for its
``entity_id`` at its ``timestamp``. A batch's points are written by
:meth:`Perfdata.flush` with a :class:`canopsis.domain.metrics.Writer` (``perfdata``
hour buckets, ``metrics`` descriptions): a bucket or description new to it is
inserted, and an unchanged description is written again only once its
``last_seen`` is ``describe_every`` seconds old. Events are passed on
unchanged.

Idempotent: a point is ``$set`` at its whole second and a description only
moves ``last_seen`` forward, so a redelivered batch stores the same documents.

Option ``retention_days``: how long points and descriptions are kept (TTL
indexes, set at start by :meth:`Perfdata.setup`).
"""

from typing import Any

from pymongo.database import Database

from canopsis.domain import metrics
from canopsis.runtime.engine import Engine


class Perfdata(Engine):
    options_spec = f"""
retention_days = integer(min=1, default={metrics.DEFAULT_RETENTION_DAYS})
describe_every = float(min=0, default=60)
"""

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        self.points: list[metrics.Point] = []
        self.writer = metrics.Writer(db, options.get("describe_every", 60.0))

    def setup(self) -> None:
        retention = self.options.get("retention_days", metrics.DEFAULT_RETENTION_DAYS)
        metrics.ensure_indexes(self.db, retention)

    def work(self, event: dict) -> dict:
        entries = event.get("perf_data_array")
        if entries:
            self.points += [(event["entity_id"], entry, event["timestamp"]) for entry in entries]
        return event

    def flush(self) -> None:
        points, self.points = self.points, []
        self.writer.write(points)

    def discard(self) -> None:
        self.points = []
        self.writer.forget()
