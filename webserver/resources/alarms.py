"""``/api/v2/alarms``: list, count and read alarms; operator actions on them.

- ``GET /api/v2/alarms`` (viewer): a page of alarms matching the filters of
  :data:`FILTERS` (open ones by default, ``opened=false`` for resolved ones),
  sorted by ``sort``/``direction`` then ``_id``; items omit ``steps`` unless
  ``with_steps=true``. Without filters, a ``total`` of :data:`LARGE_TOTAL`
  alarms or more may be a few seconds old (see there).
- ``GET /api/v2/alarms/counts`` (viewer): ``total``, ``by_state``,
  ``by_status``, ``problems`` (neither OK, cancelled nor in a pbehavior: what
  needs someone now) and ``in_pbehavior`` of the alarms matching the same
  filters, from one aggregation. ``in_maintenance=true`` selects the alarms
  whose entity is in a pbehavior (maintenance, pause or inactive), ``false``
  the others; ``entity_disabled=true`` those flagged ``entity_disabled`` (their
  entity, or their resource's component, is disabled: its events are dropped, see
  :func:`canopsis.engines.alerts.flag_entity_disabled`), ``false`` the others.
- ``GET /api/v2/alarms/{alarm_id}`` (viewer): one open or resolved alarm with its steps.
- ``GET /api/v2/alarms/{alarm_id}/history`` (viewer): the history of the
  alarm's entity (its ``events_log`` documents, see
  :mod:`canopsis.engines.eventstore`: state changes and actions), newest
  first, paged, within ``from <= t < to`` (epoch seconds) when given.
- ``POST /api/v2/alarms/{alarm_id}/{action}`` (operator): publishes the action
  event of :data:`ACTIONS` for an open alarm; ``202``.
- ``POST /api/v2/alarms/{action}`` (operator): the same for the open alarms of
  ``ids`` in one publication; ``202`` with the ids that are not open.

Alarm ids hold ``/`` (``<resource>/<component>:<key>``), so the routes after
``/api/v2/alarms/`` are one path parameter split here. ``event_keys`` and
``rev`` are internal and never answered. The action's ``author`` is the
authenticated principal: the user's name, or ``key:<key id>/<description>``
for an API key (:func:`canopsis.domain.auth.key_author`).
"""

import re
import time
import uuid
from datetime import UTC, datetime

import falcon
from pymongo import DESCENDING
from pymongo.collection import Collection

from canopsis.domain import actions, event
from canopsis.engines.alerts import OPEN, RESOLVED
from canopsis.engines.eventstore import COLLECTION as EVENTS_LOG
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import Query, dumps, page_body, read_valid, require
from canopsis.webserver.openapi import (
    OBJECT,
    PAGING,
    errors,
    json_body,
    json_response,
    page_of,
    path_param,
    query,
)

STATES = range(4)
STATUSES = range(5)
ACTIONS = event.ACTION_TYPES
HISTORY = "/history"
FILTERS = (
    "opened",
    "state",
    "status",
    "acked",
    "snoozed",
    "in_maintenance",
    "entity_disabled",
    "component",
    "resource",
    "connector",
    "connector_name",
    "tags",
    "search",
    "from",
    "to",
)
SORTS = {
    "last_update_date": "last_update_date",
    "creation_date": "creation_date",
    "state": "state.val",
    "component": "component",
    "resource": "resource",
}
HIDDEN = {"event_keys": 0, "rev": 0}
#: a newest-first page is looked for among the alarms updated within each of these spans
#: (seconds) before all of them: everything in a span is newer than everything out of it,
#: so a full page found there is the page, and the database sorts a few, not every alarm.
#: Growing tenfold, so a miss costs a fraction of the next try; the first fits a live site,
#: where every check refreshes its open alarm's last_update_date
RECENT_SPANS = (60.0, 600.0, 3600.0, 86400.0)
#: an unfiltered total at least this large is counted again only once it is
#: TOTAL_MAX_AGE_S old, or TOTAL_AGE_FACTOR times what counting took if longer (so
#: counting takes at most a tenth of the server's time): counting reads every alarm on
#: the embedded database (~100 ms for 10,000, ~1 s for 100,000), and a list that large
#: changes faster than an operator reads it
LARGE_TOTAL = 1000
TOTAL_MAX_AGE_S = 2.0
TOTAL_AGE_FACTOR = 10


def _values(q: Query, name: str, allowed: range) -> list[int]:
    values = []
    for text in q.texts(name):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value not in allowed:
            q.fields[name] = f"expected a comma list of integers from {allowed[0]} to {allowed[-1]}"
            return []
        values.append(value)
    return sorted(set(values))


def read_filters(q: Query) -> tuple[str, dict]:
    """The collection and the MongoDB query of the filter parameters.

    The query is one flat document, the indexed equalities first: the embedded
    database's planner picks its index from the first condition (a connector's
    critical alarms out of 10,000: 2 ms this way, 190 ms state first, 470 ms
    under an ``$and``).
    """
    collection = OPEN if q.boolean("opened", True) else RESOLVED
    query: dict = {}
    for name in ("component", "connector_name", "resource", "connector"):
        value = q.text(name)
        if value is not None:
            query[name] = value
    for name, path, allowed in (("state", "state.val", STATES), ("status", "status.val", STATUSES)):
        values = _values(q, name, allowed)
        if values:
            query[path] = {"$in": values}
    acked = q.boolean("acked")
    if acked is not None:
        query["ack"] = {"$ne": None} if acked else None
    alternatives = []
    snoozed = q.boolean("snoozed")
    if snoozed is not None:
        now = time.time()
        if snoozed:
            query.update({"snooze": {"$ne": None}, "snooze.val": {"$gt": now}})
        else:
            alternatives.append([{"snooze": None}, {"snooze.val": {"$lte": now}}])
    in_maintenance = q.boolean("in_maintenance")
    if in_maintenance is not None:
        query["pbehavior.id"] = {"$exists": in_maintenance}
    entity_disabled = q.boolean("entity_disabled")
    if entity_disabled is not None:
        query["entity_disabled"] = True if entity_disabled else {"$ne": True}
    tags = [tag for tag in q.texts("tags") if tag]
    if tags:
        query["tags"] = {"$all": tags}
    search = q.text("search")
    if search:
        pattern = {"$regex": re.escape(search), "$options": "i"}
        alternatives.append([{field: pattern} for field in ("component", "resource", "output")])
    if len(alternatives) == 1:
        query["$or"] = alternatives[0]
    elif alternatives:
        query["$and"] = [{"$or": each} for each in alternatives]
    since, until = q.number("from"), q.number("to")
    span = {}
    if since is not None:
        span["$gte"] = since
    if until is not None:
        span["$lte"] = until
    if span:
        query["last_update_date"] = span
    return collection, query


def count_alarms(coll: Collection, query: dict) -> dict:
    """``total``, ``by_state``, ``by_status``, ``problems`` and ``in_pbehavior`` of the alarms
    of ``coll`` matching ``query``, from one aggregation."""
    kinds = {
        "state": "$state.val",
        "status": "$status.val",
        "cancelled": {"$ne": [{"$ifNull": ["$canceled", None]}, None]},
        "planned": {"$ne": [{"$ifNull": ["$pbehavior.id", None]}, None]},
    }
    groups = coll.aggregate([{"$match": query}, {"$group": {"_id": kinds, "n": {"$sum": 1}}}])
    counts = {
        "total": 0,
        "by_state": dict.fromkeys(map(str, STATES), 0),
        "by_status": dict.fromkeys(map(str, STATUSES), 0),
        "problems": 0,
        "in_pbehavior": 0,
    }
    for group in groups:
        kind, n = group["_id"], group["n"]
        counts["total"] += n
        for name in ("state", "status"):
            key = str(kind.get(name))
            if key in counts[f"by_{name}"]:
                counts[f"by_{name}"][key] += n
        if kind["planned"]:
            counts["in_pbehavior"] += n
        # canopsis.domain.alarm.is_problem
        elif not kind["cancelled"] and isinstance(kind.get("state"), int) and kind["state"] > 0:
            counts["problems"] += n
    return counts


class Alarms:
    def __init__(self, api: Api) -> None:
        self.api = api
        #: collection -> (until when it holds, monotonic; its large unfiltered total)
        self.totals: dict[str, tuple[float, int]] = {}

    def total(self, collection: str, query: dict) -> int:
        """The number of alarms of ``collection`` matching ``query`` (see :data:`LARGE_TOTAL`)."""
        coll = self.api.db[collection]
        if query:
            return coll.count_documents(query)
        start = time.monotonic()
        until, total = self.totals.get(collection, (start, 0))
        if start < until:
            return total
        total = coll.estimated_document_count()
        if total >= LARGE_TOTAL:
            took = time.monotonic() - start
            self.totals[collection] = (start + max(TOTAL_MAX_AGE_S, TOTAL_AGE_FACTOR * took), total)
        return total

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        q = Query(req, (*FILTERS, "sort", "direction", "page", "limit", "with_steps"))
        collection, query = read_filters(q)
        sort = q.choice("sort", SORTS, "last_update_date")
        direction = 1 if q.choice("direction", ("asc", "desc"), "desc") == "asc" else -1
        page, limit = q.paging()
        with_steps = q.boolean("with_steps", False)
        q.check()
        projection = dict(HIDDEN) if with_steps else {**HIDDEN, "steps": 0}
        coll = self.api.db[collection]
        total = self.total(collection, query)
        order = [(SORTS[sort], direction), ("_id", direction)]
        skip = (page - 1) * limit
        spans = RECENT_SPANS if (sort, direction) == ("last_update_date", -1) else ()
        now = time.time()
        for span in spans:
            since = {"$gte": now - span}
            if "last_update_date" in query:
                recent = {**query, "$and": [*query.get("$and", []), {"last_update_date": since}]}
            else:
                recent = {**query, "last_update_date": since}
            found = list(coll.find(recent, projection).sort(order).skip(skip).limit(limit))
            if len(found) == limit:
                break
        else:
            found = list(coll.find(query, projection).sort(order).skip(skip).limit(limit))
        resp.media = page_body(found, total, page, limit)


class AlarmPath:
    """Everything under ``/api/v2/alarms/``: counts, one alarm, actions."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response, rest: str) -> None:
        require(req, "viewer")
        if rest == "counts":
            resp.media = self.counts(req)
            return
        alarm = _find_any(self.api, rest)
        if alarm is None and rest.endswith(HISTORY):
            resp.media = self.history(req, rest.removesuffix(HISTORY))
            return
        if alarm is None:
            raise ApiError(404, f"no alarm {rest}")
        resp.media = alarm

    def history(self, req: falcon.Request, alarm_id: str) -> dict:
        """A page of the history of the alarm's entity, newest first."""
        q = Query(req, ("from", "to", "page", "limit"))
        window = {
            op: datetime.fromtimestamp(when, UTC)
            for op, when in (("$gte", q.epoch("from")), ("$lt", q.epoch("to")))
            if when is not None
        }
        page, limit = q.paging()
        q.check()
        alarm = _find_any(self.api, alarm_id)
        if alarm is None:
            raise ApiError(404, f"no alarm {alarm_id}")
        where = {"entity_id": alarm["entity_id"], **({"t": window} if window else {})}
        found = self.api.db[EVENTS_LOG]
        total = found.count_documents(where)
        docs = found.find(where).sort([("t", DESCENDING), ("_id", DESCENDING)])
        return page_body(list(docs.skip((page - 1) * limit).limit(limit)), total, page, limit)

    def counts(self, req: falcon.Request) -> dict:
        q = Query(req, FILTERS)
        collection, query = read_filters(q)
        q.check()
        return count_alarms(self.api.db[collection], query)

    def on_post(self, req: falcon.Request, resp: falcon.Response, rest: str) -> None:
        who = require(req, "operator")
        if rest in ACTIONS:
            self.bulk(req, resp, rest, who.author)
            return
        alarm_id, _, action = rest.rpartition("/")
        if not alarm_id or action not in ACTIONS:
            raise ApiError(404, f"no route POST /api/v2/alarms/{rest}")
        fields = read_valid(req, actions.BODIES[action])
        alarm = self.api.db[OPEN].find_one({"_id": alarm_id, "resolved": None}, HIDDEN)
        if alarm is None:
            raise ApiError(404, f"no open alarm {alarm_id}")
        message, errors = _message(alarm, action, who.author, fields)
        if errors:
            raise bad_request(errors, "the action event is invalid")
        self.api.sender.send([message])
        resp.status = falcon.HTTP_202
        resp.media = {"queued": 1, "alarm_id": alarm_id}

    def bulk(self, req: falcon.Request, resp: falcon.Response, action: str, author: str) -> None:
        fields = read_valid(req, actions.BULK_BODIES[action])
        ids = list(dict.fromkeys(fields.pop("ids")))
        found = {
            doc["_id"]: doc
            for doc in self.api.db[OPEN].find({"_id": {"$in": ids}, "resolved": None}, HIDDEN)
        }
        messages, errors = [], {}
        for alarm_id in ids:
            if alarm_id in found:
                message, problems = _message(found[alarm_id], action, author, fields)
                errors |= {f"{alarm_id}.{name}": reason for name, reason in problems.items()}
                messages.append(message)
        if errors:
            raise bad_request(errors, "an action event is invalid")
        if messages:
            self.api.sender.send(messages)
        resp.status = falcon.HTTP_202
        resp.media = {"queued": len(messages), "missing": [i for i in ids if i not in found]}


def _find_any(api: Api, alarm_id: str) -> dict | None:
    for collection in (OPEN, RESOLVED):
        alarm = api.db[collection].find_one({"_id": alarm_id}, HIDDEN)
        if alarm is not None:
            return alarm
    return None


def _message(alarm: dict, action: str, author: str, fields: dict) -> tuple[tuple, dict]:
    """The ``(body, routing_key, message_id)`` of the action event, or its problems."""
    raw = {
        "connector": alarm["connector"],
        "connector_name": alarm["connector_name"],
        "event_type": action,
        "source_type": "resource" if alarm.get("resource") else "component",
        "component": alarm["component"],
        **fields,
        "author": author,
        "timestamp": time.time(),
    }
    if alarm.get("resource"):
        raw["resource"] = alarm["resource"]
    normalized, errors = event.normalize(raw, raw["timestamp"])
    if errors:
        return (), {e.field or "event": e.reason for e in errors}
    return (dumps(raw), event.routing_key(normalized), uuid.uuid4().hex), {}


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/alarms", Alarms(api)), ("/api/v2/alarms/{rest:path}", AlarmPath(api))]


# The OpenAPI description. Internally everything under /api/v2/alarms/ is the one
# route /api/v2/alarms/{rest:path} (alarm ids hold "/"); it is described here as
# /api/v2/alarms/counts, /api/v2/alarms/{alarm_id} (GET),
# /api/v2/alarms/{alarm_id}/{action} (POST) and the bulk actions. The bulk
# /api/v2/alarms/{action} would be the same templated path as
# /api/v2/alarms/{alarm_id}, which OpenAPI forbids, so each bulk action is its
# own path /api/v2/alarms/ack, /api/v2/alarms/cancel... (what clients call).
# Not faithful: an alarm whose id is "counts" or an action name, or ends with
# "/<action>" or "/history", cannot be read or acted on through these paths; alarm ids are
# <resource>/<component>:<key> or <component>:<key>, which never are.
_ALARM = {
    "type": "object",
    "description": "An alarm (event_keys and rev are never answered).",
    "required": ["_id"],
    "properties": {
        "_id": {"type": "string"},
        "steps": {"type": "array", "items": OBJECT},
        "entity_disabled": {
            "type": "boolean",
            "description": "true while the entity, or the component of the resource, is "
            "disabled: its events are dropped, so nothing changes the alarm (absent or false "
            "otherwise)",
        },
    },
    "additionalProperties": True,
}
_HISTORY_ENTRY = {
    "type": "object",
    "description": "An event as the history keeps it (without its perf data).",
    "required": ["_id", "entity_id", "event_type", "t", "stored"],
    "properties": {
        "_id": {"type": "string"},
        "entity_id": {"type": "string"},
        "event_type": {"type": "string"},
        "t": {"type": "string", "format": "date-time"},
        "stored": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": True,
}
_EPOCH = {"type": "number", "minimum": 0, "maximum": event.LATEST}
_INTEGERS = "a comma separated list of integers from {} to {}"
_FILTER_PARAMETERS = [
    query("opened", {"type": "boolean", "default": True}, "false for resolved alarms"),
    query(
        "state",
        {"type": "string", "pattern": "^[0-3](,[0-3])*$"},
        _INTEGERS.format(STATES[0], STATES[-1]),
    ),
    query(
        "status",
        {"type": "string", "pattern": "^[0-4](,[0-4])*$"},
        _INTEGERS.format(STATUSES[0], STATUSES[-1]),
    ),
    query("acked", {"type": "boolean"}),
    query("snoozed", {"type": "boolean"}, "snoozed now"),
    query("in_maintenance", {"type": "boolean"}, "the entity is in a pbehavior now"),
    query(
        "entity_disabled",
        {"type": "boolean"},
        "the entity, or the component of the resource, is disabled: its events are dropped",
    ),
    *(query(name, {"type": "string"}) for name in ("component", "resource")),
    *(query(name, {"type": "string"}) for name in ("connector", "connector_name")),
    query("tags", {"type": "string"}, "a comma separated list; alarms with all of them"),
    query("search", {"type": "string"}, "case-insensitive in component, resource, output"),
    query("from", {"type": "number"}, "last_update_date at or after (epoch seconds)"),
    query("to", {"type": "number"}, "last_update_date at or before (epoch seconds)"),
]
_ALARM_ID = path_param(
    "alarm_id",
    "the alarm id; it holds '/', sent as is or percent-encoded",
    {"type": "string", "minLength": 1, "not": {"enum": ["counts", *ACTIONS]}},
)
_AUTHOR = (
    "The author is the authenticated principal: the user's name, or "
    "key:<key id>/<description> for an API key. "
)


def _bulk(action: str) -> dict:
    return {
        "post": {
            "summary": f"{action} the open alarms of ids",
            "description": _AUTHOR + "One publication; `missing` lists the ids not open.",
            "operationId": f"bulk_{action}",
            "tags": ["alarms"],
            "requestBody": json_body(actions.BULK_BODIES[action]),
            "responses": {
                "202": json_response(
                    "The action events are published.",
                    {
                        "type": "object",
                        "required": ["queued", "missing"],
                        "additionalProperties": False,
                        "properties": {
                            "queued": {"type": "integer", "minimum": 0},
                            "missing": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                ),
                **errors(400, 401, 403, 413, 415, 503),
            },
        }
    }


_ACTION_DESCRIPTION = "; ".join(
    f"{action}: "
    + ", ".join(f"{name}{' (required)' if needed else ''}" for name, needed in spec.items())
    for action, spec in actions.ACTION_FIELDS.items()
)
OPENAPI = {
    "/api/v2/alarms": {
        "get": {
            "summary": "A page of alarms",
            "description": (
                "Open alarms by default; items omit steps unless with_steps=true. Without "
                f"filters, a total of {LARGE_TOTAL} or more may be {TOTAL_MAX_AGE_S:g} s old, "
                f"or {TOTAL_AGE_FACTOR} times what counting it took."
            ),
            "operationId": "listAlarms",
            "tags": ["alarms"],
            "parameters": [
                *_FILTER_PARAMETERS,
                query("sort", {"type": "string", "enum": list(SORTS)}),
                query("direction", {"type": "string", "enum": ["asc", "desc"]}),
                *PAGING,
                query("with_steps", {"type": "boolean", "default": False}),
            ],
            "responses": {
                "200": json_response("The page.", page_of(_ALARM)),
                **errors(400, 401, 403, 503),
            },
        }
    },
    "/api/v2/alarms/counts": {
        "get": {
            "summary": "Count the alarms matching the filters",
            "operationId": "countAlarms",
            "tags": ["alarms"],
            "parameters": _FILTER_PARAMETERS,
            "responses": {
                "200": json_response(
                    "The counts, by state and by status; problems: neither OK, cancelled "
                    "nor in a pbehavior.",
                    {
                        "type": "object",
                        "required": ["total", "by_state", "by_status", "problems", "in_pbehavior"],
                        "additionalProperties": False,
                        "properties": {
                            "total": {"type": "integer", "minimum": 0},
                            "problems": {"type": "integer", "minimum": 0},
                            "in_pbehavior": {"type": "integer", "minimum": 0},
                            "by_state": {
                                "type": "object",
                                "required": [str(v) for v in STATES],
                                "additionalProperties": False,
                                "properties": {str(v): {"type": "integer"} for v in STATES},
                            },
                            "by_status": {
                                "type": "object",
                                "required": [str(v) for v in STATUSES],
                                "additionalProperties": False,
                                "properties": {str(v): {"type": "integer"} for v in STATUSES},
                            },
                        },
                    },
                ),
                **errors(400, 401, 403, 503),
            },
        }
    },
    "/api/v2/alarms/{alarm_id}": {
        "get": {
            "summary": "One open or resolved alarm, with its steps",
            "operationId": "getAlarm",
            "tags": ["alarms"],
            "parameters": [_ALARM_ID],
            "responses": {
                "200": json_response("The alarm.", _ALARM),
                **errors(401, 403, 404, 503),
            },
        }
    },
    "/api/v2/alarms/{alarm_id}/history": {
        "get": {
            "summary": "The history of the alarm's entity, newest first",
            "description": "The events_log of the entity of the open or resolved alarm: "
            "its state changes and actions as the eventstore engine kept them (t: when it "
            "happened, stored: when it was kept), newest first.",
            "operationId": "getAlarmHistory",
            "tags": ["alarms"],
            "parameters": [
                _ALARM_ID,
                query("from", _EPOCH, "entries at or after (epoch seconds)"),
                query("to", _EPOCH, "entries before (epoch seconds)"),
                *PAGING,
            ],
            "responses": {
                "200": json_response("The page.", page_of(_HISTORY_ENTRY)),
                **errors(400, 401, 403, 404, 503),
            },
        }
    },
    "/api/v2/alarms/{alarm_id}/{action}": {
        "post": {
            "summary": "Publish an action event for an open alarm",
            "description": _AUTHOR
            + "Besides output (any action), the body fields of each action: "
            + _ACTION_DESCRIPTION
            + "; a field another action takes is a 400.",
            "operationId": "alarmAction",
            "tags": ["alarms"],
            "parameters": [
                _ALARM_ID,
                path_param("action", "the action", {"type": "string", "enum": list(ACTIONS)}),
            ],
            "requestBody": json_body(actions.ANY_BODY),
            "responses": {
                "202": json_response(
                    "The action event is published.",
                    {
                        "type": "object",
                        "required": ["queued", "alarm_id"],
                        "additionalProperties": False,
                        "properties": {"queued": {"const": 1}, "alarm_id": {"type": "string"}},
                    },
                ),
                **errors(400, 401, 403, 404, 413, 415, 503),
            },
        }
    },
    **{f"/api/v2/alarms/{action}": _bulk(action) for action in ACTIONS},
}
