"""``/api/v2/users``: the accounts that log in (admin), and changing one's own password.

- ``GET /api/v2/users`` (admin): ``name``, ``role``, ``created`` of every user,
  never the password hash.
- ``POST /api/v2/users`` (admin): ``{name, password, role}``; a name is 1 to 64
  characters of ``[A-Za-z0-9._@-]``, a password at least 10 characters;
  201 with the user, 409 when the name is taken.
- ``PUT /api/v2/users/{name}``: an admin changes anyone's ``role`` and/or
  ``password``; any other user may change only their own password, sending
  ``{password, current_password}``. A password changed by an admin for
  someone else ends that user's sessions; demoting the last admin is 409.
- ``DELETE /api/v2/users/{name}`` (admin): removes the user and their
  sessions; deleting the last admin is 409.

Two simultaneous requests never remove the last two admins: each removal is
made first, then undone (409) when no admin is left (:func:`_no_admin_left`).
"""

import re

import falcon
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import read_object, require
from canopsis.webserver.openapi import errors, json_body, json_response, path_param
from pymongo.errors import DuplicateKeyError

from canopsis import auth

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def public(doc: dict) -> dict:
    return {"name": doc["_id"], "role": doc["role"], "created": doc.get("created")}


def _password_problem(value) -> str | None:
    if not isinstance(value, str):
        return "expected a string"
    if len(value) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if len(value) > MAX_PASSWORD:
        return f"must be at most {MAX_PASSWORD} characters"
    return None


def _role_problem(value) -> str | None:
    if not isinstance(value, str) or value not in auth.ROLES:
        return f"expected one of {', '.join(auth.ROLES)}"
    return None


def _no_admin_left(api: Api) -> bool:
    """True when no admin remains; asked after a change that can remove the last one.

    Removing first and counting after is what makes two simultaneous removals safe:
    each is undone when its count finds no admin, so at least one of them stays. The
    request whose count comes last sees every removal that is kept.
    """
    return api.db[auth.USERS].count_documents({"role": "admin"}, limit=1) == 0


def _last_admin(name: str) -> ApiError:
    return ApiError(409, f"{name} is the last admin; make another admin first")


class Users:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        found = self.api.db[auth.USERS].find({}, {"password": 0}).sort("_id", 1)
        resp.media = {"items": [public(doc) for doc in found]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "admin")
        body = read_object(req, ("name", "password", "role"), ("name", "password", "role"))
        fields = {}
        name = body["name"]
        if not isinstance(name, str) or not NAME.fullmatch(name):
            fields["name"] = "expected 1 to 64 characters of letters, digits, '.', '_', '@', '-'"
        problem = _password_problem(body["password"])
        if problem:
            fields["password"] = problem
        problem = _role_problem(body["role"])
        if problem:
            fields["role"] = problem
        if fields:
            raise bad_request(fields)
        try:
            doc = auth.create_user(self.api.db, name, body["password"], body["role"])
        except DuplicateKeyError:
            raise ApiError(409, f"a user named {name} already exists", {"name": "taken"}) from None
        resp.status = falcon.HTTP_201
        resp.media = public(doc)


class User:
    def __init__(self, api: Api) -> None:
        self.api = api

    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        who = require(req, "viewer")
        is_admin = who.allows("admin")
        if not is_admin and who.name != name:
            raise ApiError(403, f"this needs the admin role; {who.name} has {who.role}")
        allowed = ("role", "password", "current_password")
        body = read_object(req, allowed if is_admin else ("password", "current_password"))
        if not is_admin and "current_password" not in body:
            raise bad_request({"current_password": "missing"})
        if not {"role", "password"} & set(body):
            raise bad_request({"body": "send role or password"})
        fields = {}
        if "password" in body:
            problem = _password_problem(body["password"])
            if problem:
                fields["password"] = problem
        if "role" in body:
            problem = _role_problem(body["role"])
            if problem:
                fields["role"] = problem
        if "current_password" in body and not isinstance(body["current_password"], str):
            fields["current_password"] = "expected a string"
        if fields:
            raise bad_request(fields)
        users = self.api.db[auth.USERS]
        user = users.find_one({"_id": name})
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
        if update:
            before = users.find_one_and_update({"_id": name}, {"$set": update})
            if before is None:
                raise ApiError(404, f"no user {name}")
            demoted = before["role"] == "admin" and update.get("role", "admin") != "admin"
            if demoted and _no_admin_left(self.api):
                users.update_one({"_id": name}, {"$set": {key: before[key] for key in update}})
                raise _last_admin(name)
            user = before
        if "password" in body and who.name != name:
            self.api.db[auth.SESSIONS].delete_many({"user": name})
        resp.media = public(user | update)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        require(req, "admin")
        users = self.api.db[auth.USERS]
        user = users.find_one_and_delete({"_id": name})
        if user is None:
            raise ApiError(404, f"no user {name}")
        if user["role"] == "admin" and _no_admin_left(self.api):
            users.insert_one(user)
            raise _last_admin(name)
        self.api.db[auth.SESSIONS].delete_many({"user": name})
        resp.status = falcon.HTTP_204


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/users", Users(api)), ("/api/v2/users/{name}", User(api))]


_USER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "role": {"type": "string", "enum": list(auth.ROLES)},
        "created": {"type": "string", "format": "date-time"},
    },
    "required": ["name", "role"],
    "additionalProperties": True,
}
_NAME_PARAM = path_param(
    "name", "the user's name", {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"}
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
            "requestBody": json_body(
                {
                    "type": "object",
                    "properties": {
                        "name": _NAME_PARAM["schema"],
                        "password": {"type": "string", "minLength": MIN_PASSWORD},
                        "role": {"type": "string", "enum": list(auth.ROLES)},
                    },
                    "required": ["name", "password", "role"],
                    "additionalProperties": False,
                }
            ),
            "responses": {
                "201": json_response("The new user", _USER),
                **errors(400, 401, 403, 409),
            },
        },
    },
    "/api/v2/users/{name}": {
        "parameters": [_NAME_PARAM],
        "put": {
            "summary": "Change a user's role or password (admin), or one's own password",
            "operationId": "updateUser",
            "requestBody": json_body(
                {
                    "type": "object",
                    "properties": {
                        "role": {"type": "string", "enum": list(auth.ROLES)},
                        "password": {"type": "string", "minLength": MIN_PASSWORD},
                        "current_password": {"type": "string"},
                    },
                    "additionalProperties": False,
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
