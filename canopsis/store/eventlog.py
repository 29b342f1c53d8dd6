"""The history: the events the eventstore engine keeps, in ``events_log``.

Each document is an event without its perf data, with ``_id`` its ``event_id``, ``t``
when it happened and ``stored`` when it was kept (dates); the eventstore engine deletes
them ``retention_days`` after ``stored`` (a TTL index it sets up). The REST API pages
through an entity's history, newest first.
"""

from datetime import datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

COLLECTION = "events_log"


def ensure_indexes(db: Database) -> None:
    db[COLLECTION].create_index([("entity_id", ASCENDING), ("t", ASCENDING)])


def history(
    db: Database, entity_id: str, window: dict[str, datetime], skip: int, limit: int
) -> tuple[list[dict], int]:
    """The entries of ``entity_id`` newest first, within ``window`` (``$gte``/``$lt`` of ``t``,
    or empty), from ``skip`` on, at most ``limit``; and how many there are."""
    where = {"entity_id": entity_id, **({"t": window} if window else {})}
    found = db[COLLECTION]
    total = found.count_documents(where)
    docs = found.find(where).sort([("t", DESCENDING), ("_id", DESCENDING)])
    return list(docs.skip(skip).limit(limit)), total
