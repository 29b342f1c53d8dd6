"""What every resource uses to read a request: JSON bodies, query parameters, paging."""

import base64
import functools
import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import falcon

from canopsis.domain import schemas
from canopsis.domain.auth import Principal
from canopsis.domain.event import LATEST
from canopsis.domain.jsonvalues import unstorable
from canopsis.webserver import errors
from canopsis.webserver.errors import ApiError, bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
#: a JSON escape of a UTF-16 surrogate: alone, it decodes to a string no UTF-8 can hold
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
#: the deepest nesting of arrays and objects a body may have; no event comes near it, and
#: deeper input would exhaust the parser's recursion
MAX_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: ``translate`` arguments keeping only the brackets, objects' as arrays'
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def new_app(middleware: list) -> falcon.App:
    """A falcon app reading and answering JSON (no NaN; dates in ISO 8601 with their offset),
    every error in the one shape of :mod:`canopsis.webserver.errors`."""
    app = falcon.App(middleware=middleware)
    handler = falcon.media.JSONHandler(
        dumps=dumps, loads=functools.partial(json.loads, parse_constant=_no_constant)
    )
    app.req_options.media_handlers[falcon.MEDIA_JSON] = handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = handler
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    return app


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):  # MongoDB's dates are UTC, naive unless the client is tz_aware
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def principal(req: falcon.Request) -> Principal:
    return req.context.principal


def require(req: falcon.Request, role: str) -> Principal:
    """The request's principal, or 403 when its role is below ``role``."""
    who = principal(req)
    if not who.allows(role):
        raise ApiError(403, f"this needs the {role} role; {who.name} has {who.role}")
    return who


def read_json(req: falcon.Request) -> Any:
    """The request's JSON body; 400 naming what is wrong, 415 for another content type."""
    if req.content_type is None or not req.content_type.startswith("application/json"):
        raise ApiError(415, "send the body as application/json")
    raw = req.bounded_stream.read()
    if not raw:
        raise bad_request({"body": "missing"}, "the request has no body")
    if _too_deep(raw):
        raise bad_request(
            {"body": f"arrays and objects nested deeper than {MAX_DEPTH} levels"},
            f"the body is nested deeper than {MAX_DEPTH} levels",
        )
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise bad_request({"body": "not UTF-8 text"}, "the body is not UTF-8") from None
    except ValueError as exc:
        raise bad_request({"body": f"not JSON: {exc}"}, "the body is not JSON") from None
    if _SURROGATE_ESCAPE.search(raw):
        try:
            dumps(body).encode("utf-8")
        except UnicodeEncodeError:
            reason = "a \\u escape of a lone UTF-16 surrogate, which is no character"
            raise bad_request({"body": reason}, "the body is not text") from None
    return body


def _too_deep(raw: bytes) -> bool:
    """Whether the arrays and objects of ``raw`` (strings aside) nest deeper than MAX_DEPTH.

    On the brackets alone, each pass drops the innermost pairs, one level (in C, so that
    megabytes of brackets cost no Python loop over each); what is left is then scanned.
    """
    text = _JSON_STRING.sub(b"", raw).translate(_AS_BRACKETS, _NOT_BRACKETS)
    dropped = 0
    while text and dropped < MAX_DEPTH:
        inner = text.replace(b"[]", b"")
        if len(inner) == len(text):
            break
        text, dropped = inner, dropped + 1
    depth = dropped
    for char in text:
        depth += 1 if char == ord("[") else -1
        if depth > MAX_DEPTH:
            return True
        if depth < dropped:  # a closing bracket too many: not JSON, the parser says so
            return False
    return False


def read_valid(req: falcon.Request, schema: dict) -> dict:
    """A JSON object body valid for ``schema`` (a domain module's); 400 naming each wrong field."""
    body = read_json(req)
    if not isinstance(body, dict):
        raise bad_request({"body": "expected a JSON object"})
    fields = dict(unstorable(body))
    for problem in schemas.problems(schema, body):
        fields.setdefault(problem.field, problem.reason)
    if fields:
        raise bad_request(fields)
    return body


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


class Query:
    """The query parameters of a request, each read once with its type; unknown ones are 400."""

    def __init__(self, req: falcon.Request, allowed: Iterable[str]) -> None:
        self.params = req.params
        self.fields: dict[str, str] = {}
        unknown = sorted(set(self.params) - set(allowed))
        self.fields |= {name: "unknown parameter" for name in unknown}

    def _one(self, name: str) -> str | None:
        value = self.params.get(name)
        if isinstance(value, list):
            self.fields[name] = "given more than once"
            return None
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._one(name)
        return default if value is None else value

    def texts(self, name: str) -> list[str]:
        value = self.params.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else value.split(",")

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        return self._convert(
            name,
            default,
            int,
            f"expected an integer from {low} to {high}",
            lambda v: low <= v <= high,
        )

    def number(self, name: str, default: float | None = None) -> float | None:
        return self._convert(name, default, float, "expected a number", lambda v: v == v)

    def epoch(self, name: str) -> float | None:
        """Epoch seconds from 0 to :data:`~canopsis.domain.event.LATEST` (the end of year 9999)."""
        return self._convert(
            name,
            None,
            float,
            f"expected epoch seconds from 0 to {LATEST}",
            lambda v: 0 <= v <= LATEST,
        )

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        value = self._one(name)
        if value is None:
            return default
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        self.fields[name] = "expected true or false"
        return None

    def choice(self, name: str, choices: Iterable[str], default: str | None = None) -> str | None:
        value = self._one(name)
        if value is None:
            return default
        choices = list(choices)
        if value not in choices:
            self.fields[name] = f"expected one of {', '.join(choices)}"
            return None
        return value

    def _convert(self, name: str, default, kind: Callable, reason: str, ok: Callable):
        value = self._one(name)
        if value is None:
            return default
        try:
            converted = kind(value)
        except ValueError:
            converted = None
        if converted is None or not ok(converted):
            self.fields[name] = reason
            return None
        return converted

    def cursor(self, name: str, fits: Callable[[list], bool]) -> list | None:
        """The values of a :func:`cursor` (a page's ``next``) if ``fits`` says they are those of
        this request, else None and the error."""
        value = self._one(name)
        if value is None:
            return None
        try:
            values = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, RecursionError):  # not base64, not UTF-8, not JSON, too deep
            values = None
        if not isinstance(values, list) or any(unstorable(values)) or not fits(values):
            self.fields[name] = "not the next of a page with the same sort and direction"
            return None
        return values

    def paging(self) -> tuple[int, int]:
        """``(page, limit)``: page from 1, limit 1 to :data:`MAX_LIMIT` (default 50)."""
        page = self.integer("page", 1, 1, 1_000_000)
        limit = self.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        return page or 1, limit or DEFAULT_LIMIT

    def check(self) -> None:
        """400 with every parameter problem found so far."""
        if self.fields:
            raise bad_request(self.fields, "invalid query parameters")


def page_body(items: list, total: int, page: int, limit: int) -> dict:
    """The body of a paged list; 400 for a page after the last one (page 1 may be empty)."""
    last = max(1, math.ceil(total / limit))
    if page > last:
        raise bad_request({"page": f"beyond the last page, {last}"}, "no such page")
    return {"items": items, "total": total, "page": page, "limit": limit}


def cursor(values: list) -> str:
    """An opaque text holding ``values`` (JSON), safe in a query string, read back by
    :meth:`Query.cursor`."""
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def list_body(items: list) -> dict:
    """The body of an unpaged list: every item and how many."""
    return {"items": items, "total": len(items)}
