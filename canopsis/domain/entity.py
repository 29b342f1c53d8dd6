"""Entities: what canopsis knows of each component, resource and connector.

An entity is made by the context engine the first time an event names it
(:func:`canopsis.store.entities.new_entity`; its id follows
:mod:`canopsis.domain.entityid`). What a client may change of one is whether it
is enabled: the events of a disabled entity (or of a disabled component's
resources) are dropped, and its open alarms carry ``entity_disabled``.
"""

#: the body of a change to an entity, validated with :func:`canopsis.domain.schemas.problems`
CHANGE = {
    "type": "object",
    "required": ["enabled"],
    "additionalProperties": False,
    "properties": {"enabled": {"type": "boolean"}},
}
