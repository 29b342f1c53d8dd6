"""``/api/v2/deadletters``: the events canopsis refused (see :mod:`canopsis.deadletters`).

``GET /api/v2/deadletters`` (viewer) pages them newest first;
``GET /api/v2/deadletters/{letter_id}`` answers one. ``POST
/api/v2/deadletters/{letter_id}/replay`` (admin) publishes its raw body again
to ``canopsis.events`` with its routing key, then deletes it (202); one whose
body was kept cut (``body_truncated``) cannot be replayed (409).
``DELETE /api/v2/deadletters?before=<epoch seconds>`` (admin) deletes the
letters refused before that time, or every letter without ``before``, and
answers ``{"deleted": n}``. ``time`` is answered as epoch seconds.
"""

import calendar
import uuid
from datetime import UTC, datetime

import falcon
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError, Unavailable
from canopsis.webserver.http import Query, page_body, require
from canopsis.webserver.openapi import (
    OBJECT,
    PAGING,
    errors,
    json_response,
    page_of,
    path_param,
    query,
)
from pymongo import DESCENDING

from canopsis import deadletters
from canopsis.event import LATEST

#: the latest ``before`` accepted: the end of year 9999


def _public(doc: dict) -> dict:
    when = doc.get("time")
    if isinstance(when, datetime):
        when = calendar.timegm(when.utctimetuple()) + when.microsecond / 1e6
    return {**doc, "time": when}


class Letters:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("page", "limit"))
        page, limit = query.paging()
        query.check()
        found = self.api.db[deadletters.COLLECTION]
        total = found.count_documents({})
        docs = found.find().sort([("time", DESCENDING), ("_id", DESCENDING)])
        items = [_public(doc) for doc in docs.skip((page - 1) * limit).limit(limit)]
        resp.media = page_body(items, total, page, limit)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        query = Query(req, ("before",))
        before = query.epoch("before")
        query.check()
        when = datetime.fromtimestamp(before, UTC) if before is not None else None
        resp.media = {"deleted": deadletters.purge(self.api.db, when)}


class Letter:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        doc = deadletters.get(self.api.db, letter_id)
        if doc is None:
            raise ApiError(404, f"no dead letter {letter_id}")
        resp.media = _public(doc)


class Replay:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_post(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        require(req, "admin")
        Query(req, ()).check()

        def publish(body: bytes, routing_key: str) -> None:
            if self.api.sender is None:
                raise Unavailable("the broker")
            self.api.sender.send([(body, routing_key, uuid.uuid4().hex)])

        try:
            doc = deadletters.replay(self.api.db, letter_id, publish)
        except deadletters.Unreplayable as exc:
            raise ApiError(409, str(exc)) from None
        if doc is None:
            raise ApiError(404, f"no dead letter {letter_id}")
        resp.status = falcon.HTTP_202
        resp.media = {"replayed": letter_id, "routing_key": doc["routing_key"]}


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/deadletters", Letters(api)),
        ("/api/v2/deadletters/{letter_id}", Letter(api)),
        ("/api/v2/deadletters/{letter_id}/replay", Replay(api)),
    ]


_LETTER = {
    "type": "object",
    "description": "A refused event (see canopsis.deadletters); time is epoch seconds.",
    "required": ["_id"],
    "properties": {
        "_id": {"type": "string"},
        "time": {"type": ["number", "null"]},
        "routing_key": {"type": "string"},
        "reasons": {"type": "array", "items": OBJECT},
    },
    "additionalProperties": True,
}
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
        }
    },
    "/api/v2/deadletters/{letter_id}/replay": {
        "post": {
            "summary": "Publish a dead letter again, then delete it (admin)",
            "operationId": "replayDeadletter",
            "tags": ["deadletters"],
            "parameters": [_LETTER_ID],
            "responses": {
                "202": json_response(
                    "Published again with its routing key.",
                    {
                        "type": "object",
                        "required": ["replayed", "routing_key"],
                        "additionalProperties": False,
                        "properties": {
                            "replayed": {"type": "string"},
                            "routing_key": {"type": "string"},
                        },
                    },
                ),
                **errors(400, 401, 403, 404, 409, 503),
            },
        }
    },
}
