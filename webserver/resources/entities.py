"""``/api/v2/entities``: the context's entities (connectors, components, resources).

``GET /api/v2/entities`` lists them sorted by ``_id`` (viewer), filtered by
``type``, ``enabled``, ``component``, ``connector`` and ``search`` (a
case-insensitive substring of the ``_id`` or the ``name``), paged by
``page``/``limit``. ``GET /api/v2/entities/{entity_id}`` answers one entity
with its open ``alarm`` (null when none), the ``pbehavior`` it is in now
(null when none) and its ``depends``/``impact`` lists; entity ids
(:mod:`canopsis.domain.entityid`) hold ``/`` and are taken as the rest of the path.
``PUT /api/v2/entities/{entity_id}`` (admin) with ``{"enabled": bool}``
enables or disables an entity; the context engine reloads the disabled ids
on each beat. The open alarms its events reach (its own, and a component's
resources') get ``entity_disabled: true`` when it is disabled, cleared when it
is enabled again, unless their entity or component is still disabled.
"""

import time

import falcon

from canopsis.domain import entity, pbehavior
from canopsis.store import alarms, documents, entities, pbehaviors
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.errors import ApiError
from canopsis.webserver.http import Query, page_body, read_valid, require
from canopsis.webserver.openapi import (
    OBJECT,
    PAGING,
    errors,
    json_body,
    json_response,
    page_of,
    path_param,
    query,
)

TYPES = ("connector", "component", "resource")
MAX_SEARCH = 200


class Entities(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        query = Query(req, ("type", "enabled", "component", "connector", "search", "page", "limit"))
        kind = query.choice("type", TYPES)
        enabled = query.boolean("enabled")
        component = query.text("component")
        connector = query.text("connector")
        search = query.text("search")
        if search is not None and len(search) > MAX_SEARCH:
            query.fields["search"] = f"at most {MAX_SEARCH} characters"
        page, limit = query.paging()
        query.check()
        where = entities.query(kind, enabled, component, connector, search)
        items, total = entities.page(self.api.db, where, (page - 1) * limit, limit)
        resp.media = page_body(items, total, page, limit)


class Entity(Resource):
    def _get(self, entity_id: str) -> dict:
        doc = entities.get(self.api.db, entity_id)
        if doc is None:
            raise ApiError(404, f"no entity {entity_id}")
        return doc

    def on_get(self, req: falcon.Request, resp: falcon.Response, entity_id: str) -> None:
        require(req, "viewer")
        Query(req, ()).check()
        doc = self._get(entity_id)
        alarm = alarms.of_entity(self.api.db, entity_id)
        stored = documents.all_stored(self.api.db, pbehaviors.COLLECTION)
        planned = pbehavior.in_effect(stored, doc, time.time())
        [doc] = entities.with_lists(self.api.db, [doc])
        resp.media = {**doc, "alarm": alarm, "pbehavior": planned}

    def on_put(self, req: falcon.Request, resp: falcon.Response, entity_id: str) -> None:
        require(req, "admin")
        body = read_valid(req, entity.CHANGE)
        self._get(entity_id)
        entities.set_enabled(self.api.db, entity_id, body["enabled"])
        [resp.media] = entities.with_lists(self.api.db, [self._get(entity_id)])


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/entities", Entities(api)),
        ("/api/v2/entities/{entity_id:path}", Entity(api)),
    ]


#: what an entity id is (canopsis.domain.entityid), said in the OpenAPI document
_ID_RULE = (
    "An entity id is <component>, <resource>/<component> or "
    "<connector>/<connector_name>/connector, with '%' written %25 and '/' %2F in the resource "
    "and connector parts (a component holds no '/'): ids of different entities never agree. "
    "An opaque string: percent-encode it in a URL as any text ('/' may stay as they are)."
)
_ENTITY = {
    "type": "object",
    "required": ["_id", "depends", "impact"],
    "properties": {
        "_id": {"type": "string", "description": _ID_RULE},
        "type": {"type": "string", "enum": list(TYPES)},
        "enabled": {"type": "boolean"},
        "depends": {"type": "array", "items": {"type": "string"}},
        "impact": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
_ENTITY_ID = path_param("entity_id", f"the entity id. {_ID_RULE}")
OPENAPI = {
    "/api/v2/entities": {
        "get": {
            "summary": "A page of entities, sorted by _id",
            "operationId": "listEntities",
            "tags": ["entities"],
            "parameters": [
                query("type", {"type": "string", "enum": list(TYPES)}),
                query("enabled", {"type": "boolean"}),
                query("component", {"type": "string"}),
                query("connector", {"type": "string"}),
                query(
                    "search",
                    {"type": "string", "maxLength": MAX_SEARCH},
                    "case-insensitive substring of the _id or the name",
                ),
                *PAGING,
            ],
            "responses": {
                "200": json_response("The page.", page_of(_ENTITY)),
                **errors(400, 401, 403, 503),
            },
        }
    },
    "/api/v2/entities/{entity_id}": {
        "get": {
            "summary": "One entity with its open alarm",
            "operationId": "getEntity",
            "tags": ["entities"],
            "parameters": [_ENTITY_ID],
            "responses": {
                "200": json_response(
                    "The entity; alarm is its open alarm (without steps) or null, pbehavior "
                    "the one it is in now (id, name, type, reason, author) or null.",
                    {
                        **_ENTITY,
                        "required": [*_ENTITY["required"], "alarm", "pbehavior"],
                        "properties": {
                            **_ENTITY["properties"],
                            "alarm": {"oneOf": [{"type": "null"}, OBJECT]},
                            "pbehavior": {"oneOf": [{"type": "null"}, OBJECT]},
                        },
                    },
                ),
                **errors(400, 401, 403, 404, 503),
            },
        },
        "put": {
            "summary": "Enable or disable an entity (admin)",
            "description": "The open alarms its events reach (its own, a component's resources') "
            "get entity_disabled: true when it is disabled, cleared when it is enabled again "
            "(unless their entity or component is still disabled).",
            "operationId": "updateEntity",
            "tags": ["entities"],
            "parameters": [_ENTITY_ID],
            "requestBody": json_body(entity.CHANGE),
            "responses": {
                "200": json_response("The entity as updated.", _ENTITY),
                **errors(400, 401, 403, 404, 413, 415, 503),
            },
        },
    },
}
