"""``/api/v2/pbehaviors``: planned behaviours (viewer reads, admin writes).

``GET`` lists the pbehaviors by ``_id``; ``POST`` creates one (the body is the
pbehavior, see :mod:`canopsis.domain.pbehavior`; without ``_id`` canopsis names it;
409 when its ``_id`` exists). ``GET``, ``PUT`` and ``DELETE`` of
``/api/v2/pbehaviors/{pbehavior_id}`` read, replace and delete one. A bad
RRULE, an end before the start, an unknown time zone or filter is a 400
naming the field. ``GET /api/v2/pbehaviors/{pbehavior_id}/periods?from&to``
gives the periods it is active within ``[from, to)`` (epoch seconds; from now
and for a week by default, at most :data:`MAX_SPAN` seconds). The API stores
``author`` (who wrote it last, shown on the alarms that enter it), ``created``
and ``updated``; those cannot be sent. The pbehavior engine reads changes
within its ``reload_interval``.
"""

import math
import time

import falcon

from canopsis.domain import pbehavior
from canopsis.store import documents
from canopsis.store.pbehaviors import COLLECTION
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.documents import (
    Described,
    Kind,
    body_schema,
    stored_schema,
)
from canopsis.webserver.errors import ApiError
from canopsis.webserver.http import Query, list_body, require
from canopsis.webserver.openapi import (
    errors,
    json_response,
    list_of,
    path_param,
    query,
)

DEFAULT_SPAN = 7 * 86400
MAX_SPAN = 400 * 86400

PBEHAVIORS = Kind(
    noun="pbehavior",
    collection=COLLECTION,
    validate=pbehavior.validate,
    refused=pbehavior.METADATA_FIELDS,
    names_new=True,
)


class Periods(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, pbehavior_id: str) -> None:
        require(req, "viewer")
        q = Query(req, ("from", "to"))
        now = time.time()
        start = q.number("from", now)
        end = q.number("to")
        q.check()
        end = start + DEFAULT_SPAN if end is None else end
        fields = {
            name: "expected a finite number"
            for name, value in (("from", start), ("to", end))
            if not math.isfinite(value)
        }
        if not fields and end <= start:
            fields["to"] = "must be after from"
        elif not fields and end - start > MAX_SPAN:
            fields["to"] = f"at most {MAX_SPAN} seconds ({MAX_SPAN // 86400} days) after from"
        if fields:
            q.fields |= fields
            q.check()
        doc = documents.get(self.api.db, COLLECTION, pbehavior_id)
        if doc is None:
            raise ApiError(404, f"no pbehavior {pbehavior_id}")
        problems = pbehavior.validate(doc)
        if problems:
            raise ApiError(
                422,
                f"the stored pbehavior {pbehavior_id} is not valid",
                {p.field or "body": p.reason for p in problems},
            )
        found = pbehavior.periods(doc, start, end)
        items = [{"start": begin, "end": finish} for begin, finish in found]
        resp.media = list_body(items)


PATH = "/api/v2/pbehaviors"


def routes(api: Api) -> list[tuple[str, object]]:
    return [*PBEHAVIORS.routes(api, PATH), (f"{PATH}/{{pbehavior_id}}/periods", Periods(api))]


_BODY = body_schema(
    pbehavior.SCHEMA,
    pbehavior.METADATA_FIELDS,
    "A pbehavior (see canopsis.domain.pbehavior); author, created and updated are set "
    "by canopsis and refused here.",
)
_PBEHAVIOR = stored_schema(
    pbehavior.SCHEMA,
    "A stored pbehavior with what canopsis adds (author, created, updated).",
)
_EPOCH = pbehavior.SCHEMA["properties"]["start"]
_PERIOD = {
    "type": "object",
    "required": ["start", "end"],
    "additionalProperties": False,
    "properties": {"start": _EPOCH, "end": _EPOCH},
}
_PBEHAVIOR_ID = path_param("pbehavior_id", "the pbehavior _id")
_LISTED = "The pbehaviors, by _id"
_NOTE = "The alarms in it leave it within the pbehavior engine's beat."
_DESCRIBED = Described(
    PBEHAVIORS, "pbehaviors", "Pbehavior", _BODY, _PBEHAVIOR, _LISTED, delete_note=_NOTE
)
OPENAPI = {
    **_DESCRIBED.paths(PATH),
    "/api/v2/pbehaviors/{pbehavior_id}/periods": {
        "get": {
            "summary": "The periods a pbehavior is active within [from, to)",
            "description": "Sorted, clipped to the window, overlapping ones merged; none "
            "when it is disabled.",
            "operationId": "getPbehaviorPeriods",
            "tags": ["pbehaviors"],
            "parameters": [
                _PBEHAVIOR_ID,
                query("from", {"type": "number"}, "epoch seconds; default now"),
                query(
                    "to",
                    {"type": "number"},
                    f"epoch seconds, after from, at most {MAX_SPAN // 86400} days after it; "
                    "default a week after from",
                ),
            ],
            "responses": {
                "200": json_response("The periods.", list_of(_PERIOD)),
                **errors(400, 401, 403, 404, 422, 503),
            },
        },
    },
}
