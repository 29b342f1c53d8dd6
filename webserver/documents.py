"""CRUD of configuration documents kept by ``_id`` (event-filter rules, heartbeats, pbehaviors).

A :class:`Kind` says what differs between them: the collection, the pure
validation, the fields canopsis sets (refused in a body), the stored fields a
replacement keeps, the list order, the collections holding per-document
state deleted with it, and whether canopsis names a new document sent without
``_id``. :class:`Documents` serves the list (viewer) and the
creation (admin, 409 when the ``_id`` exists); :class:`Document` serves one
document: read (viewer), replace and delete (admin), 404 when unknown;
:meth:`Kind.routes` routes both and :class:`Described` writes their OpenAPI paths. The API
stores ``author`` (who wrote it last: a user's name, or
``key:<key id>/<description>`` for an API key), ``created`` and ``updated``
(epoch seconds).
"""

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import falcon
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from canopsis.domain.jsonvalues import unstorable
from canopsis.domain.match import FieldError
from canopsis.store import documents
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError, bad_request
from canopsis.webserver.http import Query, list_body, read_json, require
from canopsis.webserver.openapi import errors, json_body, json_response, list_of, path_param


def body_schema(schema: dict, refused: Iterable[str], description: str) -> dict:
    """The OpenAPI schema of a document a client sends: the domain's ``schema`` without the
    ``refused`` fields canopsis sets."""
    properties = {key: value for key, value in schema["properties"].items() if key not in refused}
    return {**schema, "description": description, "properties": properties}


def replacement(body: dict) -> dict:
    """The schema of a replacing ``body``, its ``_id`` given by the path."""
    return {**body, "required": [key for key in body["required"] if key != "_id"]}


def stored_schema(schema: dict, description: str) -> dict:
    """The OpenAPI schema of a stored document: the fields of the domain's ``schema``, what
    canopsis sets included."""
    return {
        "type": "object",
        "description": description,
        "required": ["_id"],
        "properties": schema["properties"],
        "additionalProperties": True,
    }


@dataclass(frozen=True)
class Kind:
    noun: str
    collection: str
    validate: Callable[[dict], list[FieldError]]
    refused: Iterable[str]
    kept: tuple[str, ...] = ("created",)
    order: Callable[[dict], Any] = lambda doc: str(doc["_id"])
    states: tuple[str, ...] = ()
    #: a new document without ``_id`` gets a random one (else ``_id`` is the client's to give)
    names_new: bool = False
    #: the problems of a set of documents taken together (fields ``<_id>.<key>``), if the
    #: kind has rules across documents (:meth:`fits`)
    together: Callable[[list[dict]], list[FieldError]] | None = None

    def routes(self, api: Api, path: str) -> list[tuple[str, object]]:
        """The list at ``path`` and one document below it (``{<noun>_id}``)."""
        return [(path, Documents(api, self)), (f"{path}/{{{self.noun}_id}}", Document(api, self))]

    def checked(self, req: falcon.Request, doc_id: str | None = None) -> dict:
        """The document of the body, valid; 400 naming every problem."""
        body = read_json(req)
        if not isinstance(body, dict):
            raise bad_request({"body": "expected a JSON object"})
        fields = {
            key: "set by canopsis, not by a client" for key in sorted(self.refused) if key in body
        }
        if doc_id is not None:
            if "_id" in body and body["_id"] != doc_id:
                fields["_id"] = f"differs from the {self.noun} id of the path ({doc_id})"
            body = {**body, "_id": doc_id}
        elif self.names_new and "_id" not in body:
            body = {**body, "_id": uuid.uuid4().hex}
        fields |= dict(unstorable(body))
        for error in self.validate(body):
            fields.setdefault(error.field or "body", error.reason)
        if fields:
            raise bad_request(fields, f"invalid {self.noun}")
        return body

    def fits(self, db: Database, body: dict) -> None:
        """400 when ``body``, in place of the stored document of its ``_id`` (or beside the
        others), breaks a rule across documents that held before: each problem named on the
        field of ``body`` it is about (a problem it causes in another document, on
        ``interval`` when it names intervals, else on ``parent``)."""
        if self.together is None:
            return
        stored = documents.all_stored(db, self.collection)
        before = {(e.field, e.reason) for e in self.together(stored)}
        others = [doc for doc in stored if doc["_id"] != body["_id"]]
        own = f"{body['_id']}."
        fields: dict[str, str] = {}
        for error in self.together([*others, body]):
            if (error.field, error.reason) in before:
                continue
            if error.field.startswith(own):
                name = error.field.removeprefix(own)
            else:
                name = "interval" if "interval" in error.reason else "parent"
            fields.setdefault(name, error.reason)
        if fields:
            raise bad_request(fields, f"invalid {self.noun}")


class Documents:
    def __init__(self, api: Api, kind: Kind) -> None:
        self.api = api
        self.kind = kind

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        items = sorted(documents.all_stored(self.api.db, self.kind.collection), key=self.kind.order)
        resp.media = list_body(items)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = require(req, "admin")
        body = self.kind.checked(req)
        self.kind.fits(self.api.db, body)
        now = time.time()
        doc = {**body, "author": who.author, "created": now, "updated": now}
        try:
            documents.insert(self.api.db, self.kind.collection, doc)
        except DuplicateKeyError:
            message = f"a {self.kind.noun} {body['_id']} exists"
            raise ApiError(409, message, {"_id": "taken"}) from None
        resp.status = falcon.HTTP_201
        resp.media = doc


class Document:
    """One document; the route's single path parameter is its ``_id``."""

    def __init__(self, api: Api, kind: Kind) -> None:
        self.api = api
        self.kind = kind

    def _missing(self, doc_id: str) -> ApiError:
        return ApiError(404, f"no {self.kind.noun} {doc_id}")

    def _get(self, doc_id: str) -> dict:
        doc = documents.get(self.api.db, self.kind.collection, doc_id)
        if doc is None:
            raise self._missing(doc_id)
        return doc

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        resp.media = self._get(*params.values())

    def on_put(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        [doc_id] = params.values()
        who = require(req, "admin")
        body = self.kind.checked(req, doc_id)
        stored = self._get(doc_id)
        self.kind.fits(self.api.db, body)
        kept = {key: stored[key] for key in self.kind.kept if key in stored}
        doc = {**body, **kept, "author": who.author, "updated": time.time()}
        if not documents.replace(self.api.db, self.kind.collection, doc):
            raise self._missing(doc_id)
        resp.media = doc

    def on_delete(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        [doc_id] = params.values()
        require(req, "admin")
        if not documents.delete(self.api.db, self.kind.collection, doc_id, self.kind.states):
            raise self._missing(doc_id)
        resp.status = falcon.HTTP_204


def _said(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True)
class Described:
    """How the OpenAPI document tells of a :class:`Kind`'s list and documents."""

    kind: Kind
    tag: str
    #: the operation ids' name of one document (``s`` added: of the list)
    one: str
    #: the body a client sends and the stored document
    body: dict
    stored: dict
    #: the summary of the list
    listed: str
    #: what the answers call a document (the kind's noun when empty)
    word: str = ""
    #: the summary of the deletion when it does more than delete, and its description
    deleted: str = ""
    delete_note: str = ""

    def paths(self, path: str) -> dict:
        """The paths :meth:`Kind.routes` serves below ``path``."""
        noun = self.kind.noun
        param = path_param(f"{noun}_id", f"the {noun} _id")
        return {path: self._list(), f"{path}/{{{noun}_id}}": self._document(param)}

    def _list(self) -> dict:
        word = self.word or self.kind.noun
        create = {"description": "Without _id, canopsis names it."} if self.kind.names_new else {}
        return {
            "get": {
                "summary": self.listed,
                "operationId": f"list{self.one}s",
                "tags": [self.tag],
                "responses": {
                    "200": json_response(f"Every {word}.", list_of(self.stored)),
                    **errors(400, 401, 403, 503),
                },
            },
            "post": {
                "summary": f"Create a {self.kind.noun} (admin)",
                **create,
                "operationId": f"create{self.one}",
                "tags": [self.tag],
                "requestBody": json_body(self.body),
                "responses": {
                    "201": json_response(f"The {word} as stored.", self.stored),
                    **errors(400, 401, 403, 409, 413, 415, 503),
                },
            },
        }

    def _document(self, param: dict) -> dict:
        word = self.word or self.kind.noun
        kept = self.kind.kept
        delete = {"description": self.delete_note} if self.delete_note else {}
        return {
            "get": {
                "summary": f"One {self.kind.noun}",
                "operationId": f"get{self.one}",
                "tags": [self.tag],
                "parameters": [param],
                "responses": {
                    "200": json_response(f"The {word}.", self.stored),
                    **errors(400, 401, 403, 404, 503),
                },
            },
            "put": {
                "summary": f"Replace a {self.kind.noun} (admin)",
                "description": "The body's _id, when given, must be the path's; the stored "
                f"{_said(kept)} {'is' if len(kept) == 1 else 'are'} kept.",
                "operationId": f"replace{self.one}",
                "tags": [self.tag],
                "parameters": [param],
                "requestBody": json_body(replacement(self.body)),
                "responses": {
                    "200": json_response(f"The {word} as stored.", self.stored),
                    **errors(400, 401, 403, 404, 413, 415, 503),
                },
            },
            "delete": {
                "summary": self.deleted or f"Delete a {self.kind.noun} (admin)",
                **delete,
                "operationId": f"delete{self.one}",
                "tags": [self.tag],
                "parameters": [param],
                "responses": {"204": {"description": "Deleted."}, **errors(401, 403, 404, 503)},
            },
        }
