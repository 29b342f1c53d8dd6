"""The heartbeats: the definitions in ``heartbeats`` (see :mod:`canopsis.domain.heartbeat`)
and what the heartbeat engine tracks of each in ``heartbeat_states``.

The REST API writes the definitions (as documents kept by ``_id``,
:mod:`canopsis.store.documents`; a deleted one loses its state too) and reads the states;
the heartbeat engine reads the definitions, writes those agents announce, and the states.
"""

from pymongo.database import Database

DEFINITIONS = "heartbeats"
STATES = "heartbeat_states"


def with_states(db: Database) -> list[tuple[dict, dict | None]]:
    """Each definition by ``_id``, with its tracking state (None: none yet)."""
    states = {doc["_id"]: doc for doc in db[STATES].find()}
    return [(defn, states.get(defn["_id"])) for defn in db[DEFINITIONS].find().sort("_id", 1)]
