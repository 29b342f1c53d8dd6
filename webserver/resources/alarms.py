"""``/api/v2/alarms``: list, count and read alarms; operator actions on them.

- ``GET /api/v2/alarms`` (viewer): a page of alarms matching the filters of
  :data:`FILTERS` (open ones by default, ``opened=false`` for resolved ones),
  sorted by ``sort``/``direction`` then ``_id`` (``sort=state``: each state newest
  first); items omit ``steps`` unless ``with_steps=true``. Each page's ``next`` is the
  ``after`` of the next one (keyset paging, consistent while alarms change; ``page``
  skips, which may repeat or miss alarms that move meanwhile). Open alarms filtered on
  nothing but state and status: the ``total`` is from the counts the alerts engine
  keeps (:mod:`canopsis.store.alarmcounts`); else it is counted, and without filters
  (no alerts engine yet) one of :data:`LARGE_TOTAL` alarms or more may be a few
  seconds old (see there).
- ``GET /api/v2/alarms/counts`` (viewer): ``total``, ``by_state``,
  ``by_status``, ``problems`` (neither OK, cancelled nor in a pbehavior: what
  needs someone now) and ``in_pbehavior`` of the alarms matching the same
  filters: without filters, the counts the alerts engine keeps
  (:mod:`canopsis.store.alarmcounts`), else one aggregation.
  ``in_maintenance=true`` selects the alarms whose entity is in a pbehavior
  (maintenance, pause or inactive), ``false`` the others; ``entity_disabled=true``
  those flagged ``entity_disabled`` (their entity, or their resource's component, is
  disabled: its events are dropped, see
  :func:`canopsis.store.alarms.flag_entity_disabled`), ``false`` the others.
- ``GET /api/v2/alarms/{alarm_id}`` (viewer): one open or resolved alarm with its steps.
- ``GET /api/v2/alarms/{alarm_id}/history`` (viewer): the history of the
  alarm's entity (its ``events_log`` documents, see
  :mod:`canopsis.store.eventlog`: state changes and actions), newest
  first, paged, within ``from <= t < to`` (epoch seconds) when given.
- ``POST /api/v2/alarms/{alarm_id}/{action}`` (operator): publishes the action
  event of :data:`ACTIONS` for an open alarm; ``202``.
- ``POST /api/v2/alarms/{action}`` (operator): the same for the open alarms of
  ``ids`` in one publication; ``202`` with the ids that are not open. Both are in
  :mod:`canopsis.webserver.resources.alarm_actions`.

Alarm ids hold ``/`` (``<resource>/<component>:<key>``), so the routes after
``/api/v2/alarms/`` are one path parameter split here. ``event_keys`` and
``rev`` are internal and never answered. The action's ``author`` is the
authenticated principal: the user's name, or ``key:<key id>/<description>``
for an API key (:func:`canopsis.domain.auth.key_author`).
"""

import time
from datetime import UTC, datetime

import falcon

from canopsis.domain import event
from canopsis.domain.schemas import object_schema
from canopsis.store import alarmcounts, alarms, eventlog
from canopsis.store.alarms import (
    LARGE_TOTAL,
    STATES,
    STATUSES,
    TOTAL_AGE_FACTOR,
    TOTAL_MAX_AGE_S,
)
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import ApiError
from canopsis.webserver.http import Query, cursor, page_body, require
from canopsis.webserver.openapi import (
    OBJECT,
    PAGING,
    errors,
    json_response,
    page_of,
    query,
)
from canopsis.webserver.resources import alarm_actions

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


def read_filters(q: Query) -> alarms.Filters:
    """The :class:`~canopsis.store.alarms.Filters` of the filter parameters."""
    return alarms.Filters(
        opened=q.boolean("opened", True),
        equal={name: value for name in alarms.EQUALITIES if (value := q.text(name)) is not None},
        states=_values(q, "state", STATES),
        statuses=_values(q, "status", STATUSES),
        acked=q.boolean("acked"),
        snoozed=q.boolean("snoozed"),
        in_maintenance=q.boolean("in_maintenance"),
        entity_disabled=q.boolean("entity_disabled"),
        tags=[tag for tag in q.texts("tags") if tag],
        search=q.text("search"),
        since=q.number("from"),
        until=q.number("to"),
    )


def _fits(values: list, sort: str, direction: int) -> bool:
    """Whether ``values`` read from ``after`` are a sort, a direction, the start of a walk
    and a position (:func:`canopsis.store.alarms.page`) for this request."""
    walk = values[2:3]
    if values[:2] != [sort, direction] or not walk or not isinstance(walk[0], int | float):
        return False
    return alarms.is_position(values[3:], SORTS[sort])


class Alarms:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.totals = alarms.Totals()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        q = Query(req, (*FILTERS, "sort", "direction", "page", "after", "limit", "with_steps"))
        filters = read_filters(q)
        sort = q.choice("sort", SORTS, "last_update_date") or "last_update_date"
        direction = 1 if q.choice("direction", ("asc", "desc"), "desc") == "asc" else -1
        page, limit = q.paging()
        after = q.cursor("after", lambda v: _fits(v, sort, direction))
        if after is not None and page > 1:
            q.fields["page"] = "not with after: a page follows the one its cursor was made from"
        with_steps = q.boolean("with_steps", False)
        q.check()
        start = time.time()
        db, collection, query = self.api.db, filters.collection, filters.query()
        total = alarmcounts.matching(db, filters)
        if total is None:
            total = self.totals.count(db, collection, query)
        order = (SORTS[sort], direction)
        skip = (page - 1) * limit
        found = alarms.page(
            db, collection, query, order, skip, limit + 1, with_steps, after and after[2:]
        )
        body = page_body(found[:limit], total, page, limit)
        body["next"] = None
        if len(found) > limit:
            last = alarms.position(found[limit - 1], order[0])
            body["next"] = cursor([sort, direction, after[2] if after else start, *last])
        resp.media = body


class AlarmPath(Resource):
    """Everything under ``/api/v2/alarms/``: counts, one alarm, actions."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, rest: str) -> None:
        require(req, "viewer")
        if rest == "counts":
            resp.media = self.counts(req)
            return
        alarm = alarms.find_any(self.api.db, rest)
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
        alarm = alarms.find_any(self.api.db, alarm_id)
        if alarm is None:
            raise ApiError(404, f"no alarm {alarm_id}")
        skip = (page - 1) * limit
        docs, total = eventlog.history(self.api.db, alarm["entity_id"], window, skip, limit)
        return page_body(docs, total, page, limit)

    def counts(self, req: falcon.Request) -> dict:
        q = Query(req, FILTERS)
        filters = read_filters(q)
        q.check()
        return alarmcounts.counts(self.api.db, filters.collection, filters.query())

    def on_post(self, req: falcon.Request, resp: falcon.Response, rest: str) -> None:
        alarm_actions.post(self.api, req, resp, rest)


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
_ALARM = object_schema(
    {
        "_id": {"type": "string"},
        "steps": {"type": "array", "items": OBJECT},
        "entity_disabled": {
            "type": "boolean",
            "description": "true while the entity, or the component of the resource, is "
            "disabled: its events are dropped, so nothing changes the alarm (absent or false "
            "otherwise)",
        },
    },
    ["_id"],
    "An alarm (event_keys and rev are never answered).",
    more=True,
)
_HISTORY_ENTRY = object_schema(
    {
        "_id": {"type": "string"},
        "entity_id": {"type": "string"},
        "event_type": {"type": "string"},
        "t": {"type": "string", "format": "date-time"},
        "stored": {"type": "string", "format": "date-time"},
    },
    ["_id", "entity_id", "event_type", "t", "stored"],
    "An event as the history keeps it (without its perf data).",
    more=True,
)
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
OPENAPI = {
    "/api/v2/alarms": {
        "get": {
            "summary": "A page of alarms",
            "description": (
                "Open alarms by default; items omit steps unless with_steps=true. Filtered on "
                "nothing but state and status, the total is from the counts the alerts engine "
                "keeps; without filters before the alerts engine ran, a total of "
                f"{LARGE_TOTAL} or more may be {TOTAL_MAX_AGE_S:g} s old, or "
                f"{TOTAL_AGE_FACTOR} times what counting it took."
            ),
            "operationId": "listAlarms",
            "tags": ["alarms"],
            "parameters": [
                *_FILTER_PARAMETERS,
                query(
                    "sort",
                    {"type": "string", "enum": list(SORTS)},
                    "then _id in the same direction; state: each state newest first",
                ),
                query("direction", {"type": "string", "enum": ["asc", "desc"]}),
                *PAGING,
                query(
                    "after",
                    {"type": "string"},
                    "the next of the previous page: the page after its last alarm (keyset "
                    "paging: walking a list that changes, an alarm is never answered twice, "
                    "and one that did not change is never missed; an alarm updated during the "
                    "walk moves to the top and may be missed); not with page",
                ),
                query("with_steps", {"type": "boolean", "default": False}),
            ],
            "responses": {
                "200": json_response(
                    "The page.",
                    page_of(_ALARM, "the after of the next page; null when this one is the last"),
                ),
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
            "parameters": [alarm_actions.ALARM_ID],
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
                alarm_actions.ALARM_ID,
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
    **alarm_actions.OPENAPI,
}
