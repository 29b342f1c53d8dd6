"""``/api/v2/perfdata``: the points of a metric, and the metrics of an entity (viewer).

``GET /api/v2/perfdata?entity_id=&metric=&from=&to=&aggregation=&max_points=``
answers :func:`canopsis.metrics.fetch` for the window ``from <= t < to``
(epoch seconds; ``to`` defaults to now, ``from`` to an hour before ``to``),
``aggregation`` (default ``mean``) over at most ``max_points`` intervals
(default 500, at most 10,000). ``GET /api/v2/perfdata/metrics?entity_id=``
lists the entity's metrics with their description.
"""

import time

import falcon
from canopsis.webserver.api import Api
from canopsis.webserver.errors import bad_request
from canopsis.webserver.http import Query, require

from canopsis import metrics

DEFAULT_WINDOW = 3600
MAX_POINTS = 10_000
#: epoch seconds accepted for from/to: 1970 to the end of year 9999
LATEST = 253_402_300_799
#: the parameters of metrics.fetch -> those of the query
PARAMETERS = {"start": "from", "end": "to"}


def _required(query: Query, name: str) -> str | None:
    value = query.text(name)
    if value is None and name not in query.fields:
        query.fields[name] = "missing"
    elif value is not None and not value:
        query.fields[name] = "must not be empty"
    return value


def _epoch(query: Query, name: str) -> float | None:
    value = query.number(name)
    if value is not None and not 0 <= value <= LATEST:
        query.fields[name] = f"expected epoch seconds from 0 to {LATEST}"
        return None
    return value


class Perfdata:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("entity_id", "metric", "from", "to", "aggregation", "max_points"))
        entity_id = _required(query, "entity_id")
        metric = _required(query, "metric")
        start = _epoch(query, "from")
        end = _epoch(query, "to")
        aggregation = query.text("aggregation", "mean")
        max_points = query.integer("max_points", metrics.DEFAULT_MAX_POINTS, 1, MAX_POINTS)
        query.check()
        end = end if end is not None else time.time()
        start = start if start is not None else end - DEFAULT_WINDOW
        try:
            resp.media = metrics.fetch(
                self.api.db, entity_id, metric, start, end, aggregation, max_points
            )
        except ValueError as exc:
            name, _, reason = str(exc).partition(": ")
            raise bad_request(
                {PARAMETERS.get(name, name): reason}, "invalid query parameters"
            ) from None


class Metrics:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("entity_id",))
        entity_id = _required(query, "entity_id")
        query.check()
        resp.media = {"entity_id": entity_id, "items": metrics.list_metrics(self.api.db, entity_id)}


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/perfdata", Perfdata(api)), ("/api/v2/perfdata/metrics", Metrics(api))]
