"""``/api/v2/perfdata``: the points of a metric, and the metrics of an entity (viewer).

``GET /api/v2/perfdata?entity_id=&metric=&from=&to=&aggregation=&max_points=``
answers :func:`canopsis.domain.metrics.fetch` for the window ``from <= t < to``
(epoch seconds; ``to`` defaults to now, ``from`` to an hour before ``to``),
``aggregation`` (default ``mean``) over at most ``max_points`` intervals
(default 500, at most 10,000). ``GET /api/v2/perfdata/metrics?entity_id=``
lists the entity's metrics with their description.
"""

import time

import falcon

from canopsis.domain import metrics
from canopsis.domain.event import LATEST
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import bad_request
from canopsis.webserver.http import Query, require
from canopsis.webserver.openapi import OBJECT, errors, json_response, query

DEFAULT_WINDOW = 3600
MAX_POINTS = 10_000
#: epoch seconds accepted for from/to: 1970 to the end of year 9999
#: the parameters of metrics.fetch -> those of the query
PARAMETERS = {"start": "from", "end": "to"}


def _required(query: Query, name: str) -> str | None:
    value = query.text(name)
    if value is None and name not in query.fields:
        query.fields[name] = "missing"
    elif value is not None and not value:
        query.fields[name] = "must not be empty"
    return value


class Perfdata(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("entity_id", "metric", "from", "to", "aggregation", "max_points"))
        entity_id = _required(query, "entity_id")
        metric = _required(query, "metric")
        start = query.epoch("from")
        end = query.epoch("to")
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


class Metrics(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("entity_id",))
        entity_id = _required(query, "entity_id")
        query.check()
        resp.media = {"entity_id": entity_id, "items": metrics.list_metrics(self.api.db, entity_id)}


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/perfdata", Perfdata(api)), ("/api/v2/perfdata/metrics", Metrics(api))]


_EPOCH = {"type": "number", "minimum": 0, "maximum": LATEST}
_ENTITY_ID = query("entity_id", {"type": "string", "minLength": 1}, required=True)
OPENAPI = {
    "/api/v2/perfdata": {
        "get": {
            "summary": "The points of a metric, aggregated",
            "description": "The window is from <= t < to; to defaults to now and from to "
            "an hour before to; from must be before to.",
            "operationId": "getPerfdata",
            "tags": ["perfdata"],
            "parameters": [
                _ENTITY_ID,
                query("metric", {"type": "string", "minLength": 1}, required=True),
                query("from", _EPOCH, "epoch seconds"),
                query("to", _EPOCH, "epoch seconds"),
                query(
                    "aggregation",
                    {"type": "string", "enum": list(metrics.AGGREGATIONS), "default": "mean"},
                ),
                query(
                    "max_points",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_POINTS,
                        "default": metrics.DEFAULT_MAX_POINTS,
                    },
                    "at most this many intervals",
                ),
            ],
            "responses": {
                "200": json_response(
                    "The points, [interval start, aggregated value], of the intervals "
                    "that have some; meta is the metric's description (null if never reported).",
                    {
                        "type": "object",
                        "required": [
                            "entity_id",
                            "metric",
                            "aggregation",
                            "step",
                            "meta",
                            "points",
                        ],
                        "additionalProperties": False,
                        "properties": {
                            "entity_id": {"type": "string"},
                            "metric": {"type": "string"},
                            "aggregation": {"type": "string"},
                            "step": {"type": "integer", "minimum": 1},
                            "meta": {"oneOf": [{"type": "null"}, OBJECT]},
                            "points": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "minItems": 2,
                                    "maxItems": 2,
                                    "items": {"type": "number"},
                                },
                            },
                        },
                    },
                ),
                **errors(400, 401, 403, 503),
            },
        }
    },
    "/api/v2/perfdata/metrics": {
        "get": {
            "summary": "The metrics of an entity",
            "operationId": "listMetrics",
            "tags": ["perfdata"],
            "parameters": [_ENTITY_ID],
            "responses": {
                "200": json_response(
                    "The metrics by name, with their description and last_seen (epoch).",
                    {
                        "type": "object",
                        "required": ["entity_id", "items"],
                        "additionalProperties": False,
                        "properties": {
                            "entity_id": {"type": "string"},
                            "items": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["metric"],
                                    "properties": {
                                        "metric": {"type": "string"},
                                        "last_seen": {"type": ["number", "null"]},
                                    },
                                    "additionalProperties": True,
                                },
                            },
                        },
                    },
                ),
                **errors(400, 401, 403, 503),
            },
        }
    },
}
