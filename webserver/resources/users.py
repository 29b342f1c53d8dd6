"""``/api/v2/users``: the accounts that log in (admin), and changing one's own password.

- ``GET /api/v2/users`` (admin): ``name``, ``role``, ``created``, ``disabled``
  of every user, never the password hash.
- ``POST /api/v2/users`` (admin): ``{name, password, role}``; a name is 1 to 64
  characters of ``[A-Za-z0-9._@-]``, a password at least 10 characters;
  201 with the user, 409 when the name is taken.
- ``PUT /api/v2/users/{name}``: an admin changes anyone's ``role``,
  ``password`` and/or ``disabled``; any other user may change only their own
  password, sending ``{password, current_password}``. A password changed by
  an admin for someone else ends that user's sessions, and so does disabling
  them (a disabled user cannot log in); demoting or disabling the last admin
  is 409.
- ``DELETE /api/v2/users/{name}`` (admin): removes the user and their
  sessions; deleting the last admin is 409.

A user's API keys follow their rights on their next request: a key acts with
the lesser of its own role and its creator's, and not at all once its creator
is disabled or deleted (:func:`canopsis.domain.auth.key_role`); each change rewrites
the ingest service's key file.

Two simultaneous requests never remove the last two admins: each removal is
made first, then undone (409) when no enabled admin is left
(:mod:`canopsis.store.users`).
"""

import falcon
from pymongo.errors import DuplicateKeyError

from canopsis.domain import auth, auth_schemas
from canopsis.store import users
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import read_valid, require
from canopsis.webserver.openapi import errors, json_body, json_response, path_param


def public(doc: dict) -> dict:
    return {
        "name": doc["_id"],
        "role": doc["role"],
        "created": doc.get("created"),
        "disabled": bool(doc.get("disabled")),
    }


def _last_admin(refused: users.LastAdmin) -> ApiError:
    return ApiError(409, str(refused))


class Users(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        resp.media = {"items": [public(doc) for doc in users.all_users(self.api.db)]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        body = read_valid(req, auth_schemas.NEW_USER)
        name = body["name"]
        try:
            doc = auth.create_user(self.api.db, name, body["password"], body["role"])
        except DuplicateKeyError:
            raise ApiError(409, f"a user named {name} already exists", {"name": "taken"}) from None
        resp.status = falcon.HTTP_201
        resp.media = public(doc)


class User(Resource):
    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        who = require(req, "viewer")
        is_admin = who.allows("admin")
        if not is_admin and who.name != name:
            raise ApiError(403, f"this needs the admin role; {who.name} has {who.role}")
        body = read_valid(req, auth_schemas.USER_CHANGE if is_admin else auth_schemas.OWN_PASSWORD)
        if not {"role", "password", "disabled"} & set(body):
            raise bad_request({"body": "send role, password or disabled"})
        user = users.get(self.api.db, name)
        if user is None:
            raise ApiError(404, f"no user {name}")
        if "current_password" in body and not auth.verify_password(
            user["password"], body["current_password"]
        ):
            raise ApiError(403, "the current password is wrong", {"current_password": "wrong"})
        update = {}
        if "role" in body and body["role"] != user["role"]:
            update["role"] = body["role"]
        if "password" in body:
            update["password"] = auth.hash_password(body["password"])
        if "disabled" in body and body["disabled"] != bool(user.get("disabled")):
            update["disabled"] = body["disabled"]
        if update:
            try:
                before = users.update(self.api.db, name, update)
            except users.LastAdmin as refused:
                raise _last_admin(refused) from None
            if before is None:
                raise ApiError(404, f"no user {name}")
            user = before
        if ("password" in body and who.name != name) or update.get("disabled"):
            users.end_sessions(self.api.db, name)
        if {"role", "disabled"} & set(update):
            self.api.keys_changed()
        resp.media = public(user | update)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        require(req, "admin")
        try:
            user = users.delete(self.api.db, name)
        except users.LastAdmin as refused:
            raise _last_admin(refused) from None
        if user is None:
            raise ApiError(404, f"no user {name}")
        self.api.keys_changed()
        resp.status = falcon.HTTP_204


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/users", Users(api)), ("/api/v2/users/{name}", User(api))]


_USER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "role": {"type": "string", "enum": list(auth.ROLES)},
        "created": {"type": "string", "format": "date-time"},
        "disabled": {
            "type": "boolean",
            "description": "a disabled user cannot log in; their sessions ended and their "
            "API keys answer 401",
        },
    },
    "required": ["name", "role"],
    "additionalProperties": True,
}
_NAME_PARAM = path_param(
    "name", "the user's name", {"type": "string", "pattern": auth_schemas.NAME["pattern"]}
)


OPENAPI = {
    "/api/v2/users": {
        "get": {
            "summary": "List the users (admin)",
            "operationId": "listUsers",
            "responses": {
                "200": json_response(
                    "The users, without password hashes",
                    {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": _USER}},
                        "required": ["items"],
                    },
                ),
                **errors(401, 403),
            },
        },
        "post": {
            "summary": "Create a user (admin)",
            "operationId": "createUser",
            "requestBody": json_body(auth_schemas.NEW_USER),
            "responses": {
                "201": json_response("The new user", _USER),
                **errors(400, 401, 403, 409),
            },
        },
    },
    "/api/v2/users/{name}": {
        "parameters": [_NAME_PARAM],
        "put": {
            "summary": "Change a user's role, password or disabled flag (admin), or one's own "
            "password",
            "description": "A user's API keys act with the lesser of their own role and the "
            "user's current one, and answer 401 once the user is disabled or deleted.",
            "operationId": "updateUser",
            "requestBody": json_body(
                {
                    "anyOf": [auth_schemas.USER_CHANGE, auth_schemas.OWN_PASSWORD],
                    "description": "an admin sends the first form, anyone else the second one",
                }
            ),
            "responses": {
                "200": json_response("The user as changed", _USER),
                **errors(400, 401, 403, 404, 409),
            },
        },
        "delete": {
            "summary": "Delete a user and their sessions (admin)",
            "operationId": "deleteUser",
            "responses": {
                "204": {"description": "Deleted"},
                **errors(401, 403, 404, 409),
            },
        },
    },
}
