"""The OpenAPI 3.1 description of the REST API, served at ``GET /api/v2/openapi.json``.

Every module of :mod:`canopsis.webserver.resources` defines ``OPENAPI``: its
paths, in OpenAPI form, mapped to their path items. :func:`document` merges
those of the loaded modules (the webservices ``etc/webserver.conf`` serves)
with the shared components: the ``Error`` schema (the one error shape of
:mod:`canopsis.webserver.errors`), the error responses and the three ways to
authenticate. The helpers below build the common parts of a path item.
"""

import copy
from collections.abc import Iterable
from types import ModuleType

import falcon

from canopsis import __version__
from canopsis.webserver.http import DEFAULT_LIMIT, MAX_LIMIT

PATH = "/api/v2/openapi.json"

#: HTTP status -> the name of its shared response in ``components.responses``
ERRORS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "Unprocessable",
    429: "TooManyRequests",
    503: "Unavailable",
}
DESCRIPTIONS = {
    400: "Invalid request: `fields` names each wrong field or parameter.",
    401: "No credentials, or invalid, expired or revoked ones.",
    403: "The principal's role is below the one the operation needs.",
    404: "No such resource.",
    409: "The resource exists already.",
    413: "The body is larger than the configured limit.",
    415: "The body is not sent as application/json.",
    422: "The request is well formed but what it names cannot be used (`fields` says why).",
    429: "Too many requests; the Retry-After header says when to retry.",
    503: "A service the request needs (MongoDB, the broker) is unreachable; retry later.",
}
#: operations open without credentials: (path, method)
PUBLIC = {
    ("/api/v2/version", "get"),
    ("/api/v2/healthcheck", "get"),
    ("/api/v2/auth/login", "post"),
    (PATH, "get"),
}
OBJECT = {"type": "object", "additionalProperties": True}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer", "description": "the HTTP status"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "field or parameter -> what is wrong with it",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}


def errors(*codes: int) -> dict:
    """The ``responses`` entries of these error statuses, as references."""
    return {str(code): {"$ref": f"#/components/responses/{ERRORS[code]}"} for code in codes}


def json_response(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict, description: str = "", required: bool = True) -> dict:
    body = {"required": required, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def list_of(item: dict) -> dict:
    """The schema of an unpaged list: ``items`` and their ``total``."""
    return {
        "type": "object",
        "required": ["items", "total"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer", "minimum": 0},
        },
    }


def query(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    param = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def path_param(name: str, description: str, schema: dict | None = None) -> dict:
    schema = schema or {"type": "string", "minLength": 1}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


PAGING = [
    query(
        "page",
        {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
        "the page, from 1; one after the last page is a 400",
    ),
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "items per page",
    ),
]


def page_of(item: dict, cursor: str = "") -> dict:
    """The schema of a paged list (:func:`canopsis.webserver.http.page_body`), with the
    ``next`` cursor described by ``cursor`` when given."""
    properties = {
        "items": {"type": "array", "items": item},
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1},
    }
    if cursor:
        properties["next"] = {"type": ["string", "null"], "description": cursor}
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


#: what every API key does, said by both key schemes
_KEYS = (
    " A key acts with the lesser of its own role and its creator's current role, answers 401 "
    "saying why once its creator is disabled or deleted, and authors what it does as "
    "key:<key id>/<description> (key:<key id> without a description)."
)


def components() -> dict:
    return {
        "schemas": {"Error": copy.deepcopy(ERROR_SCHEMA)},
        "responses": {
            ERRORS[code]: json_response(DESCRIPTIONS[code], {"$ref": "#/components/schemas/Error"})
            for code in ERRORS
        },
        "securitySchemes": {
            "ApiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": 'An API key sent as "Key <key>".' + _KEYS,
            },
            "AuthKey": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Canopsis-Authkey",
                "description": "An API key sent alone." + _KEYS,
            },
            "Session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "canopsis_session",
                "description": "The session cookie set by POST /api/v2/auth/login.",
            },
        },
    }


def document(modules: Iterable[ModuleType]) -> dict:
    """The OpenAPI document of the ``OPENAPI`` of these modules and of this one.

    A path described by two modules is an error (ValueError); a module
    without ``OPENAPI`` adds nothing (the test of the document names it).
    """
    paths: dict[str, dict] = {}
    for module in (*modules, __import__(__name__, fromlist=["OPENAPI"])):
        for path, item in getattr(module, "OPENAPI", {}).items():
            if path in paths:
                raise ValueError(f"{module.__name__}: {path} is described twice")
            paths[path] = copy.deepcopy(item)
    for path, method in PUBLIC:
        operation = paths.get(path, {}).get(method)
        if operation is not None:
            operation["security"] = []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "canopsis",
            "version": __version__,
            "description": "The canopsis REST API. Errors have one shape, "
            '`{"error": {"code", "message", "fields"}}`. Every JSON answer of a GET carries '
            "an `ETag` (and `Cache-Control: no-cache`): sent back in `If-None-Match`, it is "
            "answered `304 Not Modified` without a body while the answer has not changed, so "
            "polling a list costs a few bytes when nothing moved.",
        },
        "servers": [{"url": "/"}],
        "security": [{"ApiKey": []}, {"AuthKey": []}, {"Session": []}],
        "paths": dict(sorted(paths.items())),
        "components": components(),
    }


class OpenApi:
    """``GET /api/v2/openapi.json``: the document, without credentials (it describes the API
    and holds no data), so that documentation viewers and client generators can read it."""

    auth_required = False

    def __init__(self, doc: dict) -> None:
        self.doc = doc

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.doc


OPENAPI = {
    PATH: {
        "get": {
            "summary": "This OpenAPI document",
            "operationId": "getOpenApi",
            "tags": ["meta"],
            "responses": {
                "200": json_response(
                    "The OpenAPI 3.1 document of the webservices served.",
                    {
                        "type": "object",
                        "required": ["openapi", "paths"],
                        "additionalProperties": True,
                    },
                ),
                **errors(503),
            },
        }
    }
}
