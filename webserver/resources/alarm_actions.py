"""Operator actions on alarms: ``POST /api/v2/alarms/{alarm_id}/{action}`` and the bulk
``POST /api/v2/alarms/{action}`` (see :mod:`canopsis.webserver.resources.alarms`, whose
route hands its POSTs here).

Each publishes the action event of :data:`ACTIONS` for open alarms (``202``); the bodies
are checked against :mod:`canopsis.domain.actions`. The action's ``author`` is the
authenticated principal: the user's name, or ``key:<key id>/<description>`` for an API
key (:func:`canopsis.domain.auth.key_author`).
"""

import time
import uuid

import falcon

from canopsis.domain import actions, event
from canopsis.domain.schemas import object_schema
from canopsis.store import alarms
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import dumps, read_valid, require
from canopsis.webserver.openapi import errors, json_body, json_response, path_param

ACTIONS = event.ACTION_TYPES


def post(api: Api, req: falcon.Request, resp: falcon.Response, rest: str) -> None:
    """``POST /api/v2/alarms/{rest}``: ``<alarm id>/<action>`` or a bulk ``<action>``."""
    who = require(req, "operator")
    if rest in ACTIONS:
        _bulk_post(api, req, resp, rest, who.author)
        return
    alarm_id, _, action = rest.rpartition("/")
    if not alarm_id or action not in ACTIONS:
        raise ApiError(404, f"no route POST /api/v2/alarms/{rest}")
    fields = read_valid(req, actions.BODIES[action])
    alarm = alarms.find_open(api.db, [alarm_id]).get(alarm_id)
    if alarm is None:
        raise ApiError(404, f"no open alarm {alarm_id}")
    message, errors = _message(alarm, action, who.author, fields)
    if errors:
        raise bad_request(errors, "the action event is invalid")
    api.sender.send([message])
    resp.status = falcon.HTTP_202
    resp.media = {"queued": 1, "alarm_id": alarm_id}


def _bulk_post(
    api: Api, req: falcon.Request, resp: falcon.Response, action: str, author: str
) -> None:
    fields = read_valid(req, actions.BULK_BODIES[action])
    ids = list(dict.fromkeys(fields.pop("ids")))
    found = alarms.find_open(api.db, ids)
    messages, errors = [], {}
    for alarm_id in ids:
        if alarm_id in found:
            message, problems = _message(found[alarm_id], action, author, fields)
            errors |= {f"{alarm_id}.{name}": reason for name, reason in problems.items()}
            messages.append(message)
    if errors:
        raise bad_request(errors, "an action event is invalid")
    if messages:
        api.sender.send(messages)
    resp.status = falcon.HTTP_202
    resp.media = {"queued": len(messages), "missing": [i for i in ids if i not in found]}


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


ALARM_ID = path_param(
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
                    object_schema(
                        {
                            "queued": {"type": "integer", "minimum": 0},
                            "missing": {"type": "array", "items": {"type": "string"}},
                        },
                        ["queued", "missing"],
                    ),
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
                ALARM_ID,
                path_param("action", "the action", {"type": "string", "enum": list(ACTIONS)}),
            ],
            "requestBody": json_body(actions.ANY_BODY),
            "responses": {
                "202": json_response(
                    "The action event is published.",
                    object_schema(
                        {"queued": {"const": 1}, "alarm_id": {"type": "string"}},
                        ["queued", "alarm_id"],
                    ),
                ),
                **errors(400, 401, 403, 404, 413, 415, 503),
            },
        }
    },
    **{f"/api/v2/alarms/{action}": _bulk(action) for action in ACTIONS},
}
