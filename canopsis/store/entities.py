"""The entities, in the ``entities`` collection: connectors, components, resources.

The context engine writes them (see :mod:`canopsis.engines.context`, which says what each
holds); :func:`new_entity` is the document it creates, which the pbehavior engine also
matches before it is stored. The REST API lists and reads them, with their ``depends``
and ``impact`` lists (:func:`with_lists`), and enables or disables them.
"""

import re
from typing import Any

from pymongo.database import Database

from canopsis.domain import entityid
from canopsis.store import alarms

COLLECTION = "entities"


def ensure_indexes(db: Database) -> None:
    entities = db[COLLECTION]
    entities.create_index("type")
    entities.create_index("enabled")
    entities.create_index("component", sparse=True)
    entities.create_index("connector")


def entity_ids(event: dict) -> tuple[str, str, str | None]:
    """``(connector id, component id, resource id or None)`` of an event."""
    connector = entityid.connector_id(event["connector"], event["connector_name"])
    resource = event["entity_id"] if event["source_type"] == "resource" else None
    return connector, event["component"], resource


def new_entity(kind: str, event: dict, now: float) -> dict:
    """The document of a new entity of ``kind`` named by ``event`` (without ``last_seen``)."""
    connector, component, _resource = entity_ids(event)
    doc: dict[str, Any] = {
        "type": kind,
        "connector": connector,
        "enabled": True,
        "first_seen": now,
        "infos": {},
    }
    if kind == "connector":
        doc["name"] = event["connector_name"]
        doc["connector_type"] = event["connector"]
    elif kind == "component":
        doc["name"] = component
    else:
        doc.update(name=event["resource"], component=component, depends=[component])
    return doc


def disabled_ids(db: Database) -> list[str]:
    """The ids of the disabled entities."""
    return [doc["_id"] for doc in db[COLLECTION].find({"enabled": False}, {"_id": 1})]


def query(
    kind: str | None = None,
    enabled: bool | None = None,
    component: str | None = None,
    connector: str | None = None,
    search: str | None = None,
) -> dict:
    """The MongoDB query of the entities of these (None: any); ``search`` is a
    case-insensitive substring of the ``_id`` or the ``name``."""
    where: dict = {}
    for name, value in (
        ("type", kind),
        ("enabled", enabled),
        ("component", component),
        ("connector", connector),
    ):
        if value is not None:
            where[name] = value
    if search:
        pattern = {"$regex": re.escape(search), "$options": "i"}
        where["$or"] = [{"_id": pattern}, {"name": pattern}]
    return where


def page(db: Database, where: dict, skip: int, limit: int) -> tuple[list[dict], int]:
    """The entities matching ``where`` by ``_id``, from ``skip`` on, at most ``limit``, with
    their lists; and how many match."""
    found = db[COLLECTION]
    total = found.count_documents(where)
    items = list(found.find(where).sort("_id", 1).skip(skip).limit(limit))
    return with_lists(db, items), total


def get(db: Database, entity_id: str) -> dict | None:
    return db[COLLECTION].find_one({"_id": entity_id})


def set_enabled(db: Database, entity_id: str, enabled: bool) -> None:
    """Enable or disable ``entity_id``, and flag or clear ``entity_disabled`` on the open
    alarms its events reach (:func:`canopsis.store.alarms.flag_entity_disabled`): cleared
    but where their entity or component is still disabled."""
    entities = db[COLLECTION]
    entities.update_one({"_id": entity_id}, {"$set": {"enabled": enabled}})
    if enabled:
        still = entities.distinct("_id", {"enabled": False})
        alarms.flag_entity_disabled(db, [entity_id], False, still)
    else:
        alarms.flag_entity_disabled(db, [entity_id], True)


def with_lists(db: Database, docs: list[dict]) -> list[dict]:
    """``docs`` with their ``depends`` and ``impact`` lists; a component's impact is its
    resources, found by their ``component`` (the context engine does not store it)."""
    impact: dict[str, list[str]] = {
        doc["_id"]: [] for doc in docs if doc.get("type") == "component"
    }
    if impact:
        found = db[COLLECTION].find({"component": {"$in": sorted(impact)}}, {"component": 1})
        for resource in found.sort("_id", 1):
            impact[resource["component"]].append(resource["_id"])
    return [
        {**doc, "depends": doc.get("depends") or [], "impact": impact.get(doc["_id"], [])}
        for doc in docs
    ]
