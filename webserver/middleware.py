"""Authentication of every request, the request body limit, the security headers and the
answers' ETags."""

import hashlib
from collections.abc import Callable

import falcon

from canopsis.domain import auth
from canopsis.webserver.api import Api
from canopsis.webserver.console import public
from canopsis.webserver.errors import ApiError

COOKIE = "canopsis_session"


def credentials(req: falcon.Request) -> tuple[str, str] | None:
    """``("key", key)`` or ``("session", token)`` from the request, or None."""
    header = req.get_header("Authorization")
    if header:
        scheme, _sp, value = header.partition(" ")
        if scheme.lower() == "key" and value.strip():
            return "key", value.strip()
    key = req.get_header("X-Canopsis-Authkey")
    if key:
        return "key", key.strip()
    token = req.cookies.get(COOKIE)
    return ("session", token) if token else None


#: a body over the limit but at most this size is read and dropped before the 413, so that a
#: client writing all its body before it reads gets the answer rather than a broken pipe
DRAINED = 64 * 1024 * 1024
CHUNK = 1024 * 1024


class BodyLimit:
    """413 for a request announcing a body over ``max_body`` bytes, never parsed; 411 for a
    chunked body (no length to check the limit against before reading it)."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.get_header("Transfer-Encoding"):
            raise ApiError(411, "send the body with a Content-Length header, not chunked")
        length = req.content_length
        if length is not None and length > self.max_body:
            if length <= DRAINED:
                while req.bounded_stream.read(CHUNK):
                    pass
            raise ApiError(413, f"the body is larger than {self.max_body} bytes")


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every response, ``Cache-Control: no-store``
    on those of the requests ``private`` says carry a secret or personal data, and what
    ``more`` adds (the console's Content-Security-Policy)."""

    def __init__(
        self,
        private: Callable[[falcon.Request], bool] = lambda req: False,
        more: Callable[[falcon.Request, falcon.Response], None] = lambda req, resp: None,
    ) -> None:
        self.private = private
        self.more = more

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, ok) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        if self.private(req):
            resp.set_header("Cache-Control", "no-store")
        self.more(req, resp)


class ConditionalGet:
    """An ETag on every JSON answer of a ``GET`` (a digest of its body), and ``304 Not
    Modified`` without a body when the request's ``If-None-Match`` names it: a client
    polling a list that did not change receives a few bytes. ``Cache-Control: no-cache``
    on those answers: a browser asks again each time rather than trusting its copy."""

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, ok) -> None:
        if req.method != "GET" or resp.status_code != 200 or resp.media is None:
            return
        body = resp.render_body()
        if body is None:
            return
        tag = hashlib.blake2b(body, digest_size=12).hexdigest()
        resp.etag = tag
        if not resp.get_header("Cache-Control"):
            resp.set_header("Cache-Control", "no-cache")
        if req.if_none_match and any(
            match == "*" or str(match) == tag for match in req.if_none_match
        ):
            resp.status = falcon.HTTP_304
            resp.media = None
            resp.data = b""
            resp.delete_header("Content-Type")


class Authentication:
    """Every resource needs a session or a key unless it says ``auth_required = False``."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.api.prepare()

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        if resource is None or public(resource) or not getattr(resource, "auth_required", True):
            return
        found = credentials(req)
        who = None
        if found is not None:
            kind, value = found
            if kind == "key":
                try:
                    who = self.api.key_principals.get(self.api.db, value)
                except auth.KeyRefused as exc:
                    raise ApiError(401, str(exc)) from None
            else:
                who = auth.session_principal(self.api.db, value)
        if who is None:
            message = (
                "authentication required: log in or send an API key"
                if found is None
                else "invalid, expired or revoked credentials"
            )
            raise ApiError(401, message)
        req.context.principal = who
