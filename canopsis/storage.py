"""MongoDB: the client and database of ``mongo.conf``, and every collection's indexes.

Each module owning a collection exposes ``ensure_indexes(db)``;
:func:`ensure_indexes` calls those of :data:`INDEXED_MODULES` (idempotent, run
by every engine at start).
"""

import importlib
import logging

import pymongo
from configobj import ConfigObj
from pymongo.database import Database

from canopsis import config

log = logging.getLogger("canopsis.storage")

INDEXED_MODULES = ("canopsis.deadletters", "canopsis.metrics")
SERVER_SELECTION_MS = 5000


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
