"""One JSON error shape for every answer that is not a success.

``{"error": {"code": <HTTP status>, "message": "...", "fields": {"<field>": "<reason>"}}}``

:class:`ApiError` carries the fields; falcon's own errors (404 on an unknown
route, 405, 413) get the same shape. An unreachable MongoDB, broker or supervisord is 503;
(the event sender raises :class:`Unavailable` itself); anything else is 500 with a generic message,
the traceback going to the log only.
"""

import logging

import falcon
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

from canopsis.ops import supervisor

log = logging.getLogger("canopsis.webserver")


class ApiError(falcon.HTTPError):
    """An error answer: ``status`` (an int), a message and optional ``fields``."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(falcon.code_to_http_status(status), description=message)
        self.code = status
        self.message = message
        self.fields = fields or {}

    def to_dict(self, obj_type=dict) -> dict:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class Unavailable(ApiError):
    """503: a service the request needs (MongoDB, the broker) cannot be reached."""

    def __init__(self, what: str) -> None:
        super().__init__(503, f"{what} is unreachable; retry later")


def bad_request(fields: dict[str, str], message: str = "invalid request") -> ApiError:
    return ApiError(400, message, fields)


def serialize(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    """falcon's error serializer: every HTTPError in the one shape."""
    if isinstance(exc, ApiError):
        body = exc.to_dict()
    else:
        code = int(exc.status_code)
        message = exc.description or exc.title or falcon.code_to_http_status(code)
        body = {"error": {"code": code, "message": message, "fields": {}}}
    resp.media = body
    resp.content_type = falcon.MEDIA_JSON


def install(app: falcon.App) -> None:
    """Register the handlers mapping exceptions to the error shape."""

    def database_down(req, resp, exc, params):
        log.warning("MongoDB unreachable: %s", str(exc).splitlines()[0][:160])
        raise Unavailable("the database") from exc

    def supervisord_down(req, resp, exc, params):
        log.warning("supervisord: %s", exc)
        raise Unavailable("supervisord") from exc

    def unexpected(req, resp, exc, params):
        if isinstance(exc, falcon.HTTPError):
            raise exc
        log.exception("%s %s failed", req.method, req.path)
        raise ApiError(500, "internal error; the server log has the details") from exc

    app.add_error_handler(Exception, unexpected)
    app.add_error_handler((ConnectionFailure, ServerSelectionTimeoutError), database_down)
    app.add_error_handler(supervisor.Unreachable, supervisord_down)
    app.set_error_serializer(serialize)
