"""``/api/v2/heartbeats``: the heartbeat definitions (viewer reads, admin writes).

``GET`` lists the definitions by ``_id``; ``POST`` creates one (the body is the
definition, see :mod:`canopsis.domain.heartbeat`; 409 when its ``_id`` exists). A
definition that would break the tree the definitions form (an unknown parent, a
cycle, a parent whose interval is not greater than a child's, two raising on one
entity: :func:`canopsis.domain.heartbeat.check_tree`) is a 400 naming its field, on
``POST`` and ``PUT`` alike.
``GET``, ``PUT`` and ``DELETE`` of ``/api/v2/heartbeats/{heartbeat_id}`` read,
replace and delete one; a replaced definition keeps its ``created``, a deleted
one loses its tracking state too. ``GET /api/v2/heartbeats/status`` tells, for
each definition, when it was last seen, whether it is late and for how long it
has been silent (from the states the heartbeat engine keeps in
``heartbeat_states``). The API stores ``author`` (who wrote it last),
``created`` and ``updated`` (epoch seconds); those cannot be sent.
"""

import time

import falcon

from canopsis.domain import heartbeat
from canopsis.domain.values import is_number
from canopsis.store import heartbeats
from canopsis.store.heartbeats import DEFINITIONS, STATES
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.documents import (
    Described,
    Kind,
    body_schema,
    stored_schema,
)
from canopsis.webserver.http import Query, list_body, require
from canopsis.webserver.openapi import errors, json_response, list_of

HEARTBEATS = Kind(
    noun="heartbeat",
    collection=DEFINITIONS,
    validate=heartbeat.validate,
    refused=heartbeat.METADATA_FIELDS,
    states=(STATES,),
    together=heartbeat.check_tree,
)


def _silent_for(state: dict | None, now: float) -> float | None:
    if state is None:
        return None
    for key in ("last_seen", "since"):
        value = state.get(key)
        if is_number(value):
            return max(0.0, now - value)
    return None


def _status(defn: dict, state: dict | None, now: float) -> dict:
    last_seen = (state or {}).get("last_seen")
    if not is_number(last_seen):
        last_seen = None
    return {
        "_id": defn["_id"],
        "name": defn.get("name", defn["_id"]),
        "interval": defn.get("interval"),
        "last_seen": last_seen,
        "late": bool((state or {}).get("late", False)),
        "silent_for": _silent_for(state, now),
    }


class Status(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        now = time.time()
        items = [_status(defn, state, now) for defn, state in heartbeats.with_states(self.api.db)]
        resp.media = list_body(items)


PATH = "/api/v2/heartbeats"


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/heartbeats/status", Status(api)), *HEARTBEATS.routes(api, PATH)]


_BODY = body_schema(
    heartbeat.SCHEMA,
    heartbeat.METADATA_FIELDS,
    "A heartbeat definition (see canopsis.domain.heartbeat); author, created and "
    "updated are set by canopsis and refused here.",
)
_HEARTBEAT = stored_schema(
    heartbeat.SCHEMA,
    "A stored definition with what canopsis adds (author, created, updated).",
)
_STATUS = {
    "type": "object",
    "required": ["_id", "name", "interval", "last_seen", "late", "silent_for"],
    "additionalProperties": False,
    "properties": {
        "_id": {"type": "string"},
        "name": {"type": "string"},
        "interval": {"type": ["number", "null"], "description": "seconds"},
        "last_seen": {
            "type": ["number", "null"],
            "description": "when a matching event was last seen (epoch seconds), or null",
        },
        "late": {"type": "boolean"},
        "silent_for": {
            "type": ["number", "null"],
            "description": "seconds since last_seen (or since tracking began when never "
            "seen); null when the engine does not track it yet",
        },
    },
}


_DESCRIBED = Described(
    HEARTBEATS,
    "heartbeats",
    "Heartbeat",
    _BODY,
    _HEARTBEAT,
    "The heartbeat definitions, by _id",
    word="definition",
    deleted="Delete a heartbeat and its tracking state (admin)",
)
OPENAPI = {
    **_DESCRIBED.paths(PATH),
    "/api/v2/heartbeats/status": {
        "get": {
            "summary": "Whether each heartbeat is late, and how long it has been silent",
            "operationId": "getHeartbeatsStatus",
            "tags": ["heartbeats"],
            "responses": {
                "200": json_response("The status of every definition, by _id.", list_of(_STATUS)),
                **errors(400, 401, 403, 503),
            },
        },
    },
}
