"""Configuration documents kept by ``_id`` (event-filter rules, heartbeats, pbehaviors).

The REST API reads and writes them whole; :func:`insert` raises pymongo's
``DuplicateKeyError`` when the ``_id`` is taken.
"""

from collections.abc import Iterable

from pymongo.database import Database


def all_stored(db: Database, collection: str) -> list[dict]:
    return list(db[collection].find())


def get(db: Database, collection: str, doc_id: str) -> dict | None:
    return db[collection].find_one({"_id": doc_id})


def insert(db: Database, collection: str, doc: dict) -> None:
    db[collection].insert_one(doc)


def replace(db: Database, collection: str, doc: dict) -> bool:
    """Replace the stored document of ``doc``'s ``_id``; False when there is none."""
    return db[collection].replace_one({"_id": doc["_id"]}, doc).matched_count == 1


def delete(db: Database, collection: str, doc_id: str, states: Iterable[str] = ()) -> bool:
    """Delete the document ``doc_id``, and its entries in the collections ``states``; False
    when there is none."""
    if db[collection].delete_one({"_id": doc_id}).deleted_count == 0:
        return False
    for name in states:
        db[name].delete_one({"_id": doc_id})
    return True
