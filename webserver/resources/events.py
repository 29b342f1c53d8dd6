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
from canopsis.domain.schemas import object_schema
from canopsis.webserver.api import Api, EventSender, Resource
from canopsis.webserver.errors import bad_request
from canopsis.webserver.http import dumps, read_json, require
from canopsis.webserver.openapi import errors, json_body, json_response

MAX_EVENTS = 10_000


class Events(Resource):
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
    messages: list[tuple] = []
    refused: list[dict[str, Any]] = []
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


#: an event as the REST API takes it: the engines' rules (canopsis.domain.event.SCHEMA), and
#: an action's author replaced by whoever sent it
EVENT = {
    **event.SCHEMA,
    "properties": {
        **event.SCHEMA["properties"],
        "author": {
            **event.SCHEMA["properties"]["author"],
            "description": "ignored on actions: their author is the authenticated principal "
            "(the user's name, or key:<key id>/<description> for an API key)",
        },
    },
}
#: an event refused, by its index in the body
_REFUSED = object_schema(
    {
        "index": {"type": "integer", "minimum": 0},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    ["index", "errors"],
)
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
                    object_schema(
                        {
                            "accepted": {"type": "integer", "minimum": 1},
                            "refused": {"type": "array", "items": _REFUSED},
                        },
                        ["accepted", "refused"],
                    ),
                ),
                **errors(400, 401, 403, 413, 415, 503),
            },
        }
    }
}
