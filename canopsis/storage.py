"""MongoDB: the client and database of ``mongo.conf``, and every collection's indexes.

Each module owning a collection exposes ``ensure_indexes(db)``;
:func:`ensure_indexes` calls those of :data:`INDEXED_MODULES` (idempotent, run
by every engine at start). The collections whose indexes depend on an engine's
options (a retention) are set up by that engine's ``setup()``.
"""

import importlib
import logging

import pymongo
from configobj import ConfigObj
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from canopsis import config

log = logging.getLogger("canopsis.storage")

INDEXED_MODULES = ("canopsis.deadletters",)
SERVER_SELECTION_MS = 5000
#: the code of a write refused by a unique index
DUPLICATE_KEY = 11000


def client(cfg: ConfigObj | None = None) -> pymongo.MongoClient:
    """A client on the server of ``mongo.conf`` (connects lazily)."""
    cfg = cfg if cfg is not None else config.load("mongo")
    return pymongo.MongoClient(
        config.mongo_uri(cfg), serverSelectionTimeoutMS=SERVER_SELECTION_MS, tz_aware=True
    )


def database(cfg: ConfigObj | None = None) -> Database:
    """The canopsis database of ``mongo.conf``."""
    cfg = cfg if cfg is not None else config.load("mongo")
    return client(cfg)[cfg["database"]]


def ensure_indexes(db: Database) -> None:
    for name in INDEXED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            log.info("no module %s: its indexes are skipped", name)
            continue
        module.ensure_indexes(db)


def ensure_ttl(collection: Collection, field: str, seconds: int) -> None:
    """A TTL index ``<field>_ttl`` expiring documents ``seconds`` after ``field`` (a date).

    An existing one with another delay is changed in place (``collMod``).
    """
    name = f"{field}_ttl"
    index = collection.index_information().get(name)
    if index is None:
        collection.create_index(field, name=name, expireAfterSeconds=seconds)
    elif index.get("expireAfterSeconds") != seconds:
        spec = {"name": name, "expireAfterSeconds": seconds}
        collection.database.command("collMod", collection.name, index=spec)


def insert_new(collection: Collection, docs: list[dict]) -> list[int]:
    """Insert ``docs`` (unordered); the positions of those a unique index refused.

    An insert costs the embedded database about a quarter of an update, so a
    writer that believes documents new inserts them and upserts only those found
    stored (by another process, or an earlier try of the same batch).
    """
    if not docs:
        return []
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details["writeErrors"]
        if exc.details.get("writeConcernErrors") or any(
            error["code"] != DUPLICATE_KEY for error in errors
        ):
            raise
        return [error["index"] for error in errors]
    return []
