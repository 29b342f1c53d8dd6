"""``/api/v2/apikeys``: API keys for scripts and tools (admin only).

``POST`` creates a key (``role``, ``description``, optional ``expires`` as
epoch seconds) and answers the key once; ``GET`` lists keys without their
secret, each with the role it acts with now (``effective_role``, null for a key
that no longer works) and why (``effective_reason``: its own role, its
creator's lesser role, its creator disabled or deleted, revoked, expired);
``DELETE /api/v2/apikeys/{id}`` revokes one (it stays listed, with
``revoked``). Each change rewrites the ingest service's key file
(:mod:`canopsis.domain.ingestkeys`).

A key's ``author`` is the user who made it (with a key, that key's creator):
the key acts with the lesser of its own role and that user's current one, and
answers 401 once that user is disabled or deleted. What a key does is
authored ``key:<key id>/<description>`` (:func:`canopsis.domain.auth.key_author`).
"""

from datetime import UTC, datetime

import falcon

from canopsis.domain import auth, auth_schemas
from canopsis.store import users
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import read_valid, require
from canopsis.webserver.openapi import errors, json_body, json_response, path_param


class Keys(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        found = users.all_keys(self.api.db)
        creators = auth.key_creators(self.api.db, found)
        resp.media = {"items": [_listed(doc, creators.get(doc["author"])) for doc in found]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = require(req, "admin")
        body = read_valid(req, auth_schemas.NEW_KEY)
        description, expires = body.get("description", ""), body.get("expires")
        if expires is not None and expires <= datetime.now(UTC).timestamp():
            raise bad_request({"expires": "must be in the future, before the year 10000"})
        when = datetime.fromtimestamp(expires, UTC) if expires is not None else None
        doc, key = auth.create_key(self.api.db, body["role"], description, who.name, when)
        self.api.keys_changed()
        resp.status = falcon.HTTP_201
        resp.media = {**doc, "key": key}


class Key(Resource):
    def on_delete(self, req: falcon.Request, resp: falcon.Response, key_id: str) -> None:
        require(req, "admin")
        revoked = auth.revoke_key(self.api.db, key_id)
        if revoked is None:
            raise ApiError(404, f"no active API key {key_id}")
        self.api.keys_changed()
        resp.media = auth.public_key(revoked)


def _listed(doc: dict, creator: dict | None) -> dict:
    """A key as listed: with the role it acts with now, and why."""
    if doc["revoked"] is not None:
        role, why = None, "revoked"
    elif auth.key_expired(doc):
        role, why = None, "expired"
    else:
        role, why = auth.key_role(doc, creator)
    return {**doc, "effective_role": role, "effective_reason": why}


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/apikeys", Keys(api)), ("/api/v2/apikeys/{key_id}", Key(api))]


_DATE = {"type": "string", "format": "date-time"}
_KEY = {
    "type": "object",
    "required": ["_id", "role", "description", "author", "created", "expires", "revoked"],
    "additionalProperties": False,
    "properties": {
        "_id": {"type": "string", "description": "the key id, the part before the dot"},
        "role": {"enum": list(auth.ROLES)},
        "description": {"type": "string"},
        "author": {
            "type": "string",
            "description": "the user who made it: the key acts with the lesser of its role and "
            "theirs, and not at all once they are disabled or deleted; what the key does is "
            "authored key:<key id>/<description>",
        },
        "created": _DATE,
        "expires": {"oneOf": [_DATE, {"type": "null"}]},
        "revoked": {"oneOf": [_DATE, {"type": "null"}]},
    },
}
_LISTED_KEY = {
    **_KEY,
    "required": [*_KEY["required"], "effective_role", "effective_reason"],
    "properties": {
        **_KEY["properties"],
        "effective_role": {
            "oneOf": [{"enum": list(auth.ROLES)}, {"type": "null"}],
            "description": "the role the key acts with now; null when it no longer works",
        },
        "effective_reason": {
            "type": "string",
            "description": "why: its own role, its creator's lesser role, its creator "
            "disabled or deleted, revoked, expired",
        },
    },
}
_NEW_KEY = {
    **_KEY,
    "required": [*_KEY["required"], "key"],
    "properties": {
        **_KEY["properties"],
        "key": {"type": "string", "description": "the key itself, shown only here"},
    },
}

OPENAPI = {
    "/api/v2/apikeys": {
        "get": {
            "summary": "The API keys, newest first, without their secret (admin)",
            "operationId": "listApiKeys",
            "tags": ["apikeys"],
            "responses": {
                "200": json_response(
                    "The keys.",
                    {
                        "type": "object",
                        "required": ["items"],
                        "additionalProperties": False,
                        "properties": {"items": {"type": "array", "items": _LISTED_KEY}},
                    },
                ),
                **errors(401, 403, 503),
            },
        },
        "post": {
            "summary": "Create an API key (admin); the answer holds the key, once",
            "operationId": "createApiKey",
            "tags": ["apikeys"],
            "requestBody": json_body(auth_schemas.NEW_KEY),
            "responses": {
                "201": json_response("The new key.", _NEW_KEY),
                **errors(400, 401, 403, 413, 415, 503),
            },
        },
    },
    "/api/v2/apikeys/{key_id}": {
        "delete": {
            "summary": "Revoke an API key (admin)",
            "operationId": "revokeApiKey",
            "tags": ["apikeys"],
            "parameters": [path_param("key_id", "the key id")],
            "responses": {
                "200": json_response("The revoked key.", _KEY),
                **errors(401, 403, 404, 503),
            },
        },
    },
}
