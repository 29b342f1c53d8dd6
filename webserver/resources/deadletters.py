"""``/api/v2/deadletters``: the events canopsis refused (see :mod:`canopsis.runtime.deadletters`).

``GET /api/v2/deadletters`` (viewer) pages them newest first;
``GET /api/v2/deadletters/{letter_id}`` answers one, and ``DELETE`` (admin)
deletes it (204). ``POST /api/v2/deadletters/{letter_id}/replay`` (admin)
without a body (or with ``{}``) publishes its raw body again to
``canopsis.events`` with its routing key, then deletes it (202); one whose
body was kept cut (``body_truncated``) cannot be replayed so (409). With a
body, the corrected
event, checked like ``POST /api/v2/event`` checks one (400 naming the field,
nothing published), is published instead with the routing key computed from
it (an action authored by the admin), and the dead letter stays as it was
refused, the replay added to its ``replays`` (who, when, the body sent, its
routing key): see :func:`canopsis.runtime.deadletters.replay_corrected`.
``DELETE /api/v2/deadletters?before=<epoch seconds>`` (admin) deletes the
letters refused before that time, or every letter without ``before``, and
answers ``{"deleted": n}``. ``time`` (also of each replay) is answered as
epoch seconds.
"""

import calendar
import time
import uuid
from datetime import UTC, datetime

import falcon

from canopsis.domain.event import LATEST
from canopsis.domain.schemas import object_schema
from canopsis.runtime import deadletters
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import ApiError, Unavailable, bad_request
from canopsis.webserver.http import Query, page_body, read_json, require
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
from canopsis.webserver.resources.events import EVENT, prepare

#: the latest ``before`` accepted: the end of year 9999


def _epoch(when):
    if isinstance(when, datetime):
        return calendar.timegm(when.utctimetuple()) + when.microsecond / 1e6
    return when


def _public(doc: dict) -> dict:
    shown = {**doc, "time": _epoch(doc.get("time"))}
    if "replays" in doc:
        shown["replays"] = [{**one, "time": _epoch(one["time"])} for one in doc["replays"]]
    return shown


class Letters(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("page", "limit"))
        page, limit = query.paging()
        query.check()
        docs, total = deadletters.page(self.api.db, (page - 1) * limit, limit)
        resp.media = page_body([_public(doc) for doc in docs], total, page, limit)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        query = Query(req, ("before",))
        before = query.epoch("before")
        query.check()
        when = datetime.fromtimestamp(before, UTC) if before is not None else None
        resp.media = {"deleted": deadletters.purge(self.api.db, when)}


class Letter(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        doc = deadletters.get(self.api.db, letter_id)
        if doc is None:
            raise ApiError(404, f"no dead letter {letter_id}")
        resp.media = _public(doc)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        require(req, "admin")
        Query(req, ()).check()
        if not deadletters.delete(self.api.db, letter_id):
            raise ApiError(404, f"no dead letter {letter_id}")
        resp.status = falcon.HTTP_204


class Replay(Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        who = require(req, "admin")
        Query(req, ()).check()

        def publish(body: bytes, routing_key: str) -> None:
            if self.api.sender is None:
                raise Unavailable("the broker")
            self.api.sender.send([(body, routing_key, uuid.uuid4().hex)])

        event = read_json(req) if req.content_length else {}
        if not isinstance(event, dict):
            raise bad_request({"body": "expected the corrected event, one JSON object"})
        corrected = event != {}
        if corrected:
            message, reasons = prepare(event, time.time(), who.author)
            if message is None:
                raise bad_request(reasons, "the corrected event is not valid")
            body, routing_key, _message_id = message
            doc = deadletters.replay_corrected(
                self.api.db, letter_id, body, routing_key, who.author, publish
            )
        else:
            try:
                doc = deadletters.replay(self.api.db, letter_id, publish)
            except deadletters.Unreplayable as exc:
                raise ApiError(409, str(exc)) from None
        if doc is None:
            raise ApiError(404, f"no dead letter {letter_id}")
        resp.status = falcon.HTTP_202
        resp.media = {
            "replayed": letter_id,
            "routing_key": routing_key if corrected else doc["routing_key"],
            "corrected": corrected,
        }


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/deadletters", Letters(api)),
        ("/api/v2/deadletters/{letter_id}", Letter(api)),
        ("/api/v2/deadletters/{letter_id}/replay", Replay(api)),
    ]


_REPLAY = object_schema(
    {
        "time": {"type": "number"},
        "by": {"type": "string"},
        "body": {"type": "string"},
        "routing_key": {"type": "string"},
    },
    ["time", "by", "body", "routing_key"],
)
_LETTER = object_schema(
    {
        "_id": {"type": "string"},
        "time": {"type": ["number", "null"]},
        "routing_key": {"type": "string"},
        "reasons": {"type": "array", "items": OBJECT},
        "replays": {
            "type": "array",
            "description": "the replays with a corrected body, oldest first (the last "
            f"{deadletters.MAX_REPLAYS}): who, when, the body sent and its routing key",
            "items": _REPLAY,
        },
    },
    ["_id"],
    "A refused event (see canopsis.runtime.deadletters); time is epoch seconds.",
    more=True,
)
_LETTER_ID = path_param("letter_id", "the dead letter _id")
OPENAPI = {
    "/api/v2/deadletters": {
        "get": {
            "summary": "A page of dead letters, newest first",
            "operationId": "listDeadletters",
            "tags": ["deadletters"],
            "parameters": PAGING,
            "responses": {
                "200": json_response("The page.", page_of(_LETTER)),
                **errors(400, 401, 403, 503),
            },
        },
        "delete": {
            "summary": "Delete the dead letters refused before a time, or all (admin)",
            "operationId": "purgeDeadletters",
            "tags": ["deadletters"],
            "parameters": [
                query(
                    "before",
                    {"type": "number", "minimum": 0, "maximum": LATEST},
                    "epoch seconds; without it every letter is deleted",
                )
            ],
            "responses": {
                "200": json_response(
                    "How many were deleted.",
                    {
                        "type": "object",
                        "required": ["deleted"],
                        "additionalProperties": False,
                        "properties": {"deleted": {"type": "integer", "minimum": 0}},
                    },
                ),
                **errors(400, 401, 403, 503),
            },
        },
    },
    "/api/v2/deadletters/{letter_id}": {
        "get": {
            "summary": "One dead letter",
            "operationId": "getDeadletter",
            "tags": ["deadletters"],
            "parameters": [_LETTER_ID],
            "responses": {
                "200": json_response("The dead letter.", _LETTER),
                **errors(400, 401, 403, 404, 503),
            },
        },
        "delete": {
            "summary": "Delete one dead letter (admin)",
            "operationId": "deleteDeadletter",
            "tags": ["deadletters"],
            "parameters": [_LETTER_ID],
            "responses": {
                "204": {"description": "Deleted."},
                **errors(400, 401, 403, 404, 503),
            },
        },
    },
    "/api/v2/deadletters/{letter_id}/replay": {
        "post": {
            "summary": "Publish a dead letter again, as it was or corrected (admin)",
            "description": "Without a body (or with {}), the letter's raw body is published "
            "again with its routing key, then the letter is deleted (409 when its body was "
            "kept cut). With a body, the corrected event, checked as POST /api/v2/event "
            "checks one (400 naming the field, nothing published), is published instead with "
            "the routing key computed from it (an action is authored by the admin), and the "
            "letter stays as it was refused, the replay added to its replays (who, when, the "
            "body sent).",
            "operationId": "replayDeadletter",
            "tags": ["deadletters"],
            "parameters": [_LETTER_ID],
            "requestBody": json_body(
                {"oneOf": [EVENT, {"type": "object", "maxProperties": 0}]},
                "the corrected event (optional; {} is no correction)",
                required=False,
            ),
            "responses": {
                "202": json_response(
                    "Published with this routing key.",
                    {
                        "type": "object",
                        "required": ["replayed", "routing_key", "corrected"],
                        "additionalProperties": False,
                        "properties": {
                            "replayed": {"type": "string"},
                            "routing_key": {"type": "string"},
                            "corrected": {
                                "type": "boolean",
                                "description": "true when the body sent was a corrected one",
                            },
                        },
                    },
                ),
                **errors(400, 401, 403, 404, 409, 413, 415, 503),
            },
        }
    },
}
