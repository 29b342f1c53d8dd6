"""``/api/v2/eventfilter/rules``: the rules of the event filter (viewer reads, admin writes).

``GET`` lists the rules in evaluation order (priority, then ``_id``);
``POST`` creates one (the body is the rule, see :mod:`canopsis.domain.eventfilter`;
409 when its ``_id`` exists). ``GET``, ``PUT`` and ``DELETE`` of
``/api/v2/eventfilter/rules/{rule_id}`` read, replace and delete one; a
replaced rule keeps its stored ``hits``, ``drops``, ``last_hit`` and
``created``. The API stores ``author`` (who wrote it last), ``created`` and
``updated`` (epoch seconds); those, the engine's counters and the ``error`` it
writes into a stored rule it cannot compile cannot be sent.

``POST /api/v2/eventfilter/try`` (viewer: it changes nothing and tells what the rules a
viewer may read would do) runs ``{"event": {...}}`` through the stored rules as the
engine would, and answers what each enabled rule did to it
(:mod:`canopsis.domain.eventfilter_trace`), publishing nothing and counting no hit. The
event is checked and normalised as ``POST /api/v2/event`` takes it (a 400 names
``event.<field>``), an action's ``author`` being the caller.
"""

import time

import falcon

from canopsis.domain import event, eventfilter, eventfilter_trace
from canopsis.domain.schemas import object_schema
from canopsis.domain.values import is_integer
from canopsis.store import documents
from canopsis.store.eventfilter import COLLECTION
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.documents import (
    Described,
    Kind,
    body_schema,
    stored_schema,
)
from canopsis.webserver.errors import bad_request
from canopsis.webserver.http import read_json, require
from canopsis.webserver.openapi import OBJECT, errors, json_body, json_response
from canopsis.webserver.resources.events import EVENT


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


PATH = "/api/v2/eventfilter/rules"
TRY_PATH = "/api/v2/eventfilter/try"


class Try(Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = require(req, "viewer")
        tried = _event(read_json(req))
        if tried["event_type"] in event.ACTION_TYPES:
            tried["author"] = who.author  # as POST /api/v2/event publishes it
        rules, failed = eventfilter.compile_rules(documents.all_stored(self.api.db, COLLECTION))
        resp.media = eventfilter_trace.trace(rules, tried, failed)


def _event(body: object) -> dict:
    """The normalised event of a trial's body; 400 naming each problem (``event.<field>``)."""
    if not isinstance(body, dict):
        raise bad_request({"body": "expected a JSON object"})
    fields = {key: "unknown field" for key in sorted(body) if key != "event"}
    if "event" not in body:
        raise bad_request({**fields, "event": "missing"}, "invalid event")
    normalized, problems = event.normalize(body["event"], time.time())
    fields |= {f"event.{p.field}" if p.field else "event": p.reason for p in problems}
    if fields or normalized is None:
        raise bad_request(fields, "invalid event")
    return normalized


def routes(api: Api) -> list[tuple[str, object]]:
    return [*RULES.routes(api, PATH), (TRY_PATH, Try(api))]


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
_LISTED = "The rules in evaluation order (priority, then _id)"
_CHANGE = object_schema(
    {
        "field": {"type": "string", "description": "a dotted path"},
        "kind": {"enum": ["added", "removed", "changed"]},
        "before": {"description": "the value before (absent when the field was)"},
        "after": {"description": "the value after (absent when the field is removed)"},
    },
    ["field", "kind"],
)
_EVENT_OR_NULL = {"anyOf": [OBJECT, {"type": "null"}]}
_NAME_OR_NULL = {"type": ["string", "null"]}
_STEP = object_schema(
    {
        "_id": {"type": "string"},
        "name": {"type": "string"},
        "priority": {"type": "integer"},
        "outcome": {
            "enum": ["no match", "matched", "edited", "dropped", "not reached"],
            "description": "matched: a hit that changed nothing; not reached: an earlier "
            "rule ended evaluation",
        },
        "matched": {"type": "boolean"},
        "changes": {"type": "array", "items": _CHANGE},
        "route": {**_NAME_OR_NULL, "description": "the engine its route action names"},
        "ends": {
            "enum": ["drop", "pass", "break", None],
            "description": "evaluation ended after this rule, and why",
        },
        "event": {**_EVENT_OR_NULL, "description": "the event after it (null once dropped)"},
    },
    ["_id", "name", "priority", "outcome", "matched", "changes", "route", "ends", "event"],
)
_TRACE = object_schema(
    {
        "rules": {
            "type": "array",
            "items": _STEP,
            "description": "every enabled rule, in evaluation order",
        },
        "dropped": {"type": "boolean"},
        "dropped_by": _NAME_OR_NULL,
        "route": {**_NAME_OR_NULL, "description": "the engine it goes to instead of the next"},
        "event": {**_EVENT_OR_NULL, "description": "the event leaving the filter"},
        "skipped": {
            "type": "array",
            "description": "stored rules that do not compile (the engine skips them)",
            "items": object_schema(
                {"_id": {"type": "string"}, "error": {"type": "string"}}, ["_id", "error"]
            ),
        },
    },
    ["rules", "dropped", "dropped_by", "route", "event", "skipped"],
)
_TRY = {
    "post": {
        "summary": "Run an event through the rules without publishing it (viewer)",
        "description": "The event is checked and normalised as POST /api/v2/event takes it "
        "(a 400 names event.<field>); each enabled rule, in evaluation order, says what it "
        "did to it. Nothing is published and no rule counts a hit.",
        "operationId": "tryEventfilterRules",
        "tags": ["eventfilter"],
        "requestBody": json_body(object_schema({"event": EVENT}, ["event"])),
        "responses": {
            "200": json_response("What each rule did, and the event at the end.", _TRACE),
            **errors(400, 401, 403, 413, 415, 503),
        },
    }
}
OPENAPI = {
    **Described(RULES, "eventfilter", "EventfilterRule", _RULE_BODY, _RULE, _LISTED).paths(PATH),
    TRY_PATH: _TRY,
}
