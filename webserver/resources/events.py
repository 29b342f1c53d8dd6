"""``POST /api/v2/event``: one event or a list, checked like the engines check them, then published.

Each event is validated by :func:`canopsis.domain.event.validate`; the valid ones are
published to ``canopsis.events`` (persistent, each confirmed by the broker,
with its computed routing key and a message id) and the answer is ``202``
with how many were accepted and, by index, why the others were refused. When
none is valid the answer is ``400`` with ``fields`` named ``<index>.<field>``.
An event without ``timestamp`` gets the time it reached the API. An action
(:data:`canopsis.domain.event.ACTION_TYPES`) is authored by whoever sent it: its
``author`` is replaced by the authenticated principal's (the user's name, or
``key:<key id>/<description>`` for an API key), whatever the body says.
"""

import time
import uuid
from typing import Any

import falcon

from canopsis.domain import event
from canopsis.webserver.api import Api, EventSender
from canopsis.webserver.errors import bad_request
from canopsis.webserver.http import dumps, read_json, require
from canopsis.webserver.openapi import errors, json_body, json_response

MAX_EVENTS = 10_000


class Events:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = require(req, "operator")
        resp.status = falcon.HTTP_202
        resp.media = submit(read_json(req), self.api.sender, who.author)


def submit(body: Any, sender: EventSender, author: str) -> dict:
    """Validate ``body`` (one event or a list) and publish the valid events with ``sender``.

    Every action is published with ``author`` as its author (the sender's own
    identity), never the one the body claims.

    The answer's body: ``{"accepted", "refused"}``; 400 when no event is valid
    (also used by the emergency ingest service, :mod:`canopsis.webserver.ingest`).
    """
    events = body if isinstance(body, list) else [body]
    if not events:
        raise bad_request({"body": "an empty list holds no event"})
    if len(events) > MAX_EVENTS:
        raise bad_request({"body": f"at most {MAX_EVENTS} events per request"})
    now = time.time()
    messages, refused = [], []
    for index, raw in enumerate(events):
        message, reasons = prepare(raw, now, author)
        if message is None:
            refused.append({"index": index, "errors": reasons})
        else:
            messages.append(message)
    if not messages:
        fields = {
            f"{item['index']}.{name}": reason
            for item in refused
            for name, reason in item["errors"].items()
        }
        raise bad_request(fields, "no event is valid")
    sender.send(messages)
    return {"accepted": len(messages), "refused": refused}


def prepare(
    raw: Any, now: float, author: str
) -> tuple[tuple[str, str, str] | None, dict[str, str]]:
    """One event checked as the engines check it: its message (body, routing key, message id)
    with ``timestamp`` set and an action's author replaced by ``author``, or None and the
    reasons by field (``event`` for the whole)."""
    normalized, problems = event.normalize(raw, now)
    if problems:
        return None, {p.field or "event": p.reason for p in problems}
    sent = {**raw, "timestamp": normalized["timestamp"]}
    if normalized["event_type"] in event.ACTION_TYPES:
        sent["author"] = author
    return (dumps(sent), normalized["routing_key"], uuid.uuid4().hex), {}


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/event", Events(api))]


_CONTROL = r"\x00-\x1f\x7f-\x9f"


def _identifier(excluded: str = "") -> dict:
    """A non-blank string without control characters nor ``excluded`` ones."""
    chars = f"[^{_CONTROL}{excluded}]"
    return {"type": "string", "pattern": f"^{chars}*[^\\s{_CONTROL}{excluded}]{chars}*$"}


def _required_for(event_types: tuple[str, ...], field: str) -> dict:
    return {
        "if": {"properties": {"event_type": {"enum": list(event_types)}}},
        "then": {"required": [field]},
    }


EVENT = {
    "type": "object",
    "description": "An event as the engines check it (canopsis.domain.event.validate); the routing "
    "key it makes (connector.connector_name.event_type.source_type.component[.resource]) must fit "
    f"{event.MAX_ROUTING_KEY_BYTES} bytes, the timestamp at most {event.MAX_FUTURE} s ahead.",
    "required": ["connector", "connector_name", "event_type", "source_type", "component"],
    "properties": {
        "connector": _identifier("."),
        "connector_name": _identifier("."),
        "event_type": {"type": "string", "enum": list(event.EVENT_TYPES)},
        "source_type": {"type": "string", "enum": list(event.SOURCE_TYPES)},
        "component": _identifier("/"),
        "resource": {"type": "string"},
        "state": {"type": "integer", "minimum": 0, "maximum": 3},
        "state_type": {"type": "integer", "minimum": 0, "maximum": 1},
        "duration": {"type": "integer", "minimum": 1},
        "output": {"type": "string"},
        "long_output": {"type": "string"},
        "author": {
            **_identifier(),
            "description": "ignored on actions: their author is the authenticated principal "
            "(the user's name, or key:<key id>/<description> for an API key)",
        },
        "ticket": _identifier(),
        "timestamp": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "epoch seconds; default: arrival time",
        },
    },
    "propertyNames": {"pattern": "^([^$\\x00][^\\x00]*)?$"},
    "allOf": [
        {
            "if": {"properties": {"source_type": {"const": "resource"}}},
            "then": {"required": ["resource"], "properties": {"resource": _identifier()}},
        },
        _required_for(("check", "changestate"), "state"),
        _required_for(("snooze",), "duration"),
    ],
    "additionalProperties": True,
}
OPENAPI = {
    "/api/v2/event": {
        "post": {
            "summary": "Publish one event or a list of events",
            "description": "Each event is checked; the valid ones are published to "
            "canopsis.events (202), the others refused by index. When none is valid "
            "the answer is 400 with fields named <index>.<field>.",
            "operationId": "postEvents",
            "tags": ["events"],
            "requestBody": json_body(
                {
                    "oneOf": [
                        EVENT,
                        {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": EVENT},
                    ]
                }
            ),
            "responses": {
                "202": json_response(
                    "The valid events are published.",
                    {
                        "type": "object",
                        "required": ["accepted", "refused"],
                        "additionalProperties": False,
                        "properties": {
                            "accepted": {"type": "integer", "minimum": 1},
                            "refused": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["index", "errors"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "index": {"type": "integer", "minimum": 0},
                                        "errors": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                ),
                **errors(400, 401, 403, 413, 415, 503),
            },
        }
    }
}
