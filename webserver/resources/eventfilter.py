"""``/api/v2/eventfilter/rules``: the rules of the event filter (viewer reads, admin writes).

``GET`` lists the rules in evaluation order (priority, then ``_id``);
``POST`` creates one (the body is the rule, see :mod:`canopsis.domain.eventfilter`;
409 when its ``_id`` exists). ``GET``, ``PUT`` and ``DELETE`` of
``/api/v2/eventfilter/rules/{rule_id}`` read, replace and delete one; a
replaced rule keeps its stored ``hits``, ``drops``, ``last_hit`` and
``created``. The API stores ``author`` (who wrote it last), ``created`` and
``updated`` (epoch seconds); those, the engine's counters and the ``error`` it
writes into a stored rule it cannot compile cannot be sent.
"""

from canopsis.domain import eventfilter
from canopsis.domain.values import is_integer
from canopsis.store.eventfilter import COLLECTION
from canopsis.webserver.api import Api
from canopsis.webserver.documents import (
    Document,
    Documents,
    Kind,
    body_schema,
    replacement,
    stored_schema,
)
from canopsis.webserver.openapi import (
    errors,
    json_body,
    json_response,
    list_of,
    path_param,
)


def _order(doc: dict) -> tuple:
    priority = doc.get("priority", 0)
    if not is_integer(priority):
        priority = 0
    return priority, str(doc["_id"])


RULES = Kind(
    noun="rule",
    collection=COLLECTION,
    validate=eventfilter.validate_rule,
    refused=eventfilter.METADATA_FIELDS,
    kept=("hits", "drops", "last_hit", "created"),
    order=_order,
)


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/eventfilter/rules", Documents(api, RULES)),
        ("/api/v2/eventfilter/rules/{rule_id}", Document(api, RULES)),
    ]


_RULE_BODY = body_schema(
    eventfilter.SCHEMA,
    eventfilter.METADATA_FIELDS,
    "A rule (see canopsis.domain.eventfilter); author, created, updated, hits, "
    "drops, last_hit and error are set by canopsis and refused here.",
)
_RULE = stored_schema(
    eventfilter.SCHEMA,
    "A stored rule with what canopsis adds (author, created, updated, "
    "and the engine's hits, drops, last_hit, and error when it skips the rule).",
)
_RULE_ID = path_param("rule_id", "the rule _id")
OPENAPI = {
    "/api/v2/eventfilter/rules": {
        "get": {
            "summary": "The rules in evaluation order (priority, then _id)",
            "operationId": "listEventfilterRules",
            "tags": ["eventfilter"],
            "responses": {
                "200": json_response("Every rule.", list_of(_RULE)),
                **errors(400, 401, 403, 503),
            },
        },
        "post": {
            "summary": "Create a rule (admin)",
            "operationId": "createEventfilterRule",
            "tags": ["eventfilter"],
            "requestBody": json_body(_RULE_BODY),
            "responses": {
                "201": json_response("The rule as stored.", _RULE),
                **errors(400, 401, 403, 409, 413, 415, 503),
            },
        },
    },
    "/api/v2/eventfilter/rules/{rule_id}": {
        "get": {
            "summary": "One rule",
            "operationId": "getEventfilterRule",
            "tags": ["eventfilter"],
            "parameters": [_RULE_ID],
            "responses": {
                "200": json_response("The rule.", _RULE),
                **errors(400, 401, 403, 404, 503),
            },
        },
        "put": {
            "summary": "Replace a rule (admin)",
            "description": "The body's _id, when given, must be the path's; the stored "
            "hits, drops, last_hit and created are kept.",
            "operationId": "replaceEventfilterRule",
            "tags": ["eventfilter"],
            "parameters": [_RULE_ID],
            "requestBody": json_body(replacement(_RULE_BODY)),
            "responses": {
                "200": json_response("The rule as stored.", _RULE),
                **errors(400, 401, 403, 404, 413, 415, 503),
            },
        },
        "delete": {
            "summary": "Delete a rule (admin)",
            "operationId": "deleteEventfilterRule",
            "tags": ["eventfilter"],
            "parameters": [_RULE_ID],
            "responses": {"204": {"description": "Deleted."}, **errors(401, 403, 404, 503)},
        },
    },
}
