"""``/api/v2/auth/login|logout|me``: sessions with a cookie."""

import falcon

from canopsis.domain import auth, auth_schemas
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import ApiError
from canopsis.webserver.http import principal, read_valid
from canopsis.webserver.middleware import COOKIE, credentials
from canopsis.webserver.openapi import errors, json_body, json_response


class Login:
    auth_required = False

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cfg = api.cfg["auth"]
        self.limits = auth.LoginLimits(
            self.cfg["max_failed_logins"],
            self.cfg["max_failed_logins_per_account"],
            self.cfg["max_failed_logins_per_address"],
            self.cfg["failed_login_window"],
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_valid(req, auth_schemas.LOGIN)
        address = req.remote_addr or "-"
        db = self.api.db
        blocked = auth.login_blocked(db, body["name"], address, self.limits)
        if blocked:
            what, wait = blocked
            resp.set_header("Retry-After", str(wait))
            raise ApiError(429, f"too many failed logins {what}; retry in {wait} s")
        user = auth.check_login(db, body["name"], body["password"])
        if user is None:
            auth.record_failure(db, body["name"], address, self.limits)
            raise ApiError(401, "wrong name or password")
        auth.clear_failures(db, user["_id"])
        if user.get("disabled"):
            raise ApiError(403, f"the account {user['_id']} is disabled")
        hours = self.cfg["session_hours"]
        token = auth.open_session(db, user, hours)
        resp.set_cookie(
            COOKIE,
            token,
            max_age=int(hours * 3600),
            secure=self.cfg["cookie_secure"],
            http_only=True,
            same_site="Strict",
            path="/",
        )
        resp.media = {"name": user["_id"], "role": user["role"]}


class Logout(Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        found = credentials(req)
        if found and found[0] == "session":
            auth.close_session(self.api.db, found[1])
        resp.unset_cookie(COOKIE, path="/")
        resp.status = falcon.HTTP_204


class Me:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = principal(req)
        resp.media = {"name": who.name, "role": who.role, "via": who.via, "author": who.author}


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/auth/login", Login(api)),
        ("/api/v2/auth/logout", Logout(api)),
        ("/api/v2/auth/me", Me()),
    ]


_WHO = {
    "type": "object",
    "required": ["name", "role"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "role": {"type": "string", "enum": list(auth.ROLES)},
    },
}
OPENAPI = {
    "/api/v2/auth/login": {
        "post": {
            "summary": "Open a session",
            "description": "Sets the canopsis_session cookie (HttpOnly, SameSite=Strict). "
            "Too many failed logins of one account from one address, of one account, or "
            "from one address (a higher limit) are refused with 429 for a while, naming "
            "which and for how long; a successful login clears its account's count. A "
            "disabled account (``PUT /api/v2/users/{name}`` with ``disabled``) gets 403.",
            "operationId": "login",
            "tags": ["auth"],
            "requestBody": json_body(auth_schemas.LOGIN),
            "responses": {
                "200": json_response("The session is open; the cookie is set.", _WHO),
                **errors(400, 401, 403, 413, 415, 429, 503),
            },
        }
    },
    "/api/v2/auth/logout": {
        "post": {
            "summary": "Close the session",
            "description": "Closes the session of the cookie (if the request used one) "
            "and clears the cookie.",
            "operationId": "logout",
            "tags": ["auth"],
            "responses": {"204": {"description": "Logged out."}, **errors(401, 503)},
        }
    },
    "/api/v2/auth/me": {
        "get": {
            "summary": "The authenticated principal",
            "operationId": "getMe",
            "tags": ["auth"],
            "responses": {
                "200": json_response(
                    "Who the request is authenticated as, and how: with a key, ``name`` is "
                    "its creator, ``role`` the lesser of the key's and its creator's current "
                    "one, ``via`` ``key:<key id>`` and ``author`` what its actions are "
                    "authored by, ``key:<key id>/<description>``.",
                    {
                        **_WHO,
                        "required": ["name", "role", "via", "author"],
                        "properties": {
                            **_WHO["properties"],
                            "via": {"type": "string"},
                            "author": {"type": "string"},
                        },
                    },
                ),
                **errors(401, 503),
            },
        }
    },
}
