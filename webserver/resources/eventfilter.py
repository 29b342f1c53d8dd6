"""``/api/v2/eventfilter/rules``: the rules of the event filter (viewer reads, admin writes).

``GET`` lists the rules in evaluation order (priority, then ``_id``);
``POST`` creates one (the body is the rule, see :mod:`canopsis.eventfilter`;
409 when its ``_id`` exists). ``GET``, ``PUT`` and ``DELETE`` of
``/api/v2/eventfilter/rules/{rule_id}`` read, replace and delete one; a
replaced rule keeps its stored ``hits``, ``drops``, ``last_hit`` and
``created``. The API stores ``author`` (who wrote it last), ``created`` and
``updated`` (epoch seconds); those and the engine's counters cannot be sent.
"""

import time

import falcon
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import Query, read_json, require
from canopsis.webserver.openapi import OBJECT, errors, json_body, json_response, path_param
from pymongo.errors import DuplicateKeyError

from canopsis import eventfilter

COLLECTION = "eventfilter_rules"
KEPT = ("hits", "drops", "last_hit", "created")


def _order(doc: dict) -> tuple:
    priority = doc.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        priority = 0
    return priority, str(doc["_id"])


def _checked(req: falcon.Request, rule_id: str | None = None) -> dict:
    """The rule of the body, valid; 400 naming every problem."""
    body = read_json(req)
    if not isinstance(body, dict):
        raise bad_request({"body": "expected a JSON object"})
    fields = {
        key: "set by canopsis, not by a client"
        for key in sorted(eventfilter.METADATA_FIELDS)
        if key in body
    }
    if rule_id is not None:
        if "_id" in body and body["_id"] != rule_id:
            fields["_id"] = f"differs from the rule id of the path ({rule_id})"
        body = {**body, "_id": rule_id}
    for error in eventfilter.validate_rule(body):
        fields.setdefault(error.field or "body", error.reason)
    if fields:
        raise bad_request(fields, "invalid rule")
    return body


class Rules:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        rules = sorted(self.api.db[COLLECTION].find(), key=_order)
        resp.media = {"items": rules, "total": len(rules)}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = require(req, "admin")
        rule = _checked(req)
        now = time.time()
        doc = {**rule, "author": who.name, "created": now, "updated": now}
        try:
            self.api.db[COLLECTION].insert_one(doc)
        except DuplicateKeyError:
            raise ApiError(409, f"a rule {rule['_id']} exists", {"_id": "taken"}) from None
        resp.status = falcon.HTTP_201
        resp.media = doc


class Rule:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _get(self, rule_id: str) -> dict:
        doc = self.api.db[COLLECTION].find_one({"_id": rule_id})
        if doc is None:
            raise ApiError(404, f"no rule {rule_id}")
        return doc

    def on_get(self, req: falcon.Request, resp: falcon.Response, rule_id: str) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        resp.media = self._get(rule_id)

    def on_put(self, req: falcon.Request, resp: falcon.Response, rule_id: str) -> None:
        who = require(req, "admin")
        rule = _checked(req, rule_id)
        stored = self._get(rule_id)
        kept = {key: stored[key] for key in KEPT if key in stored}
        doc = {**rule, **kept, "author": who.name, "updated": time.time()}
        if self.api.db[COLLECTION].replace_one({"_id": rule_id}, doc).matched_count == 0:
            raise ApiError(404, f"no rule {rule_id}")
        resp.media = doc

    def on_delete(self, req: falcon.Request, resp: falcon.Response, rule_id: str) -> None:
        require(req, "admin")
        if self.api.db[COLLECTION].delete_one({"_id": rule_id}).deleted_count == 0:
            raise ApiError(404, f"no rule {rule_id}")
        resp.status = falcon.HTTP_204


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/eventfilter/rules", Rules(api)),
        ("/api/v2/eventfilter/rules/{rule_id}", Rule(api)),
    ]


_ACTION = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["set", "remove", "add_tag", "route", "drop", "pass"]},
        "field": {"type": "string"},
        "value": {},
        "engine": {"type": "string"},
    },
    "additionalProperties": False,
}
_RULE_FIELDS = {
    "_id": {"type": "string", "minLength": 1},
    "name": {"type": "string"},
    "description": {"type": "string"},
    "priority": {"type": "integer"},
    "enabled": {"type": "boolean"},
    "match": {**OBJECT, "description": "a pattern of canopsis.match"},
    "actions": {"type": "array", "items": _ACTION},
    "break": {"type": "boolean"},
}
_RULE_BODY = {
    "type": "object",
    "description": "A rule (see canopsis.eventfilter); author, created, updated, hits, "
    "drops and last_hit are set by canopsis and refused here.",
    "required": ["_id", "match", "actions"],
    "properties": _RULE_FIELDS,
    "additionalProperties": False,
}
_RULE = {
    "type": "object",
    "description": "A stored rule with what canopsis adds (author, created, updated, "
    "and the engine's hits, drops, last_hit).",
    "required": ["_id"],
    "properties": {
        **_RULE_FIELDS,
        "author": {"type": "string"},
        "created": {"type": "number"},
        "updated": {"type": "number"},
    },
    "additionalProperties": True,
}
_RULE_ID = path_param("rule_id", "the rule _id")
OPENAPI = {
    "/api/v2/eventfilter/rules": {
        "get": {
            "summary": "The rules in evaluation order (priority, then _id)",
            "operationId": "listEventfilterRules",
            "tags": ["eventfilter"],
            "responses": {
                "200": json_response(
                    "Every rule.",
                    {
                        "type": "object",
                        "required": ["items", "total"],
                        "additionalProperties": False,
                        "properties": {
                            "items": {"type": "array", "items": _RULE},
                            "total": {"type": "integer", "minimum": 0},
                        },
                    },
                ),
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
            "requestBody": json_body({**_RULE_BODY, "required": ["match", "actions"]}),
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
