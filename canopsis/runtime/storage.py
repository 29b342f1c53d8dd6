"""MongoDB: the client and database of ``mongo.conf``, and every collection's indexes.

Each module owning a collection exposes ``ensure_indexes(db)``;
:func:`ensure_indexes` calls those of :data:`INDEXED_MODULES` (idempotent, run
by every engine at start). The collections whose indexes depend on an engine's
options (a retention) are set up by that engine's ``setup()``.

:func:`make_durable` waits until every write the server answered is on disk:
an engine calls it once per batch, before acknowledging the batch's messages.
"""

import importlib
import logging
from datetime import UTC, datetime

import pymongo
from configobj import ConfigObj
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError
from pymongo.write_concern import WriteConcern

from canopsis.ops import config

log = logging.getLogger("canopsis.storage")

INDEXED_MODULES = ("canopsis.runtime.deadletters",)
SERVER_SELECTION_MS = 5000
#: the code of a write refused by a unique index
DUPLICATE_KEY = 11000
#: one document per engine worker, rewritten by :func:`make_durable` at the end of each batch
DURABLE_MARKS = "durable_marks"


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


def journaled(db: Database) -> Database:
    """``db`` whose every write is answered once it is in the server's journal on disk
    (``j: true``; ``w`` stays the database's): for writes answered to a user one by one,
    such as the REST API's, where a disk flush per write costs little."""
    return db.with_options(write_concern=WriteConcern(**{**db.write_concern.document, "j": True}))


def make_durable(db: Database, marker: str) -> None:
    """Return once every write the server answered before this call is in its journal on disk.

    One journaled write (``j: true``) of the tiny document ``marker`` of
    :data:`DURABLE_MARKS` (its batch count and time): the writes before it are
    not journaled one by one (a disk flush each), this one waits for them all.
    ``w`` is the database's (``w=majority`` in ``mongo.conf``'s ``uri`` waits for
    a majority of a replica set too).
    """
    # Why one journaled write covers the writes before it, of any collection and
    # any connection:
    # - MongoDB: a j:true write is answered once the server's journal, one
    #   sequential log for the whole server, is on disk up to it, hence with every
    #   write answered before.
    # - SecantusDB 0.7.0b3 (secantusd-py): with sync_on_commit = false its
    #   WiredTiger runs with transaction_sync=(enabled=false) (secantus/storage.py,
    #   Storage.__init__), so a commit leaves its log record in WiredTiger's
    #   in-memory log buffer: kill -9 loses writes already answered. A j:true
    #   statement (commands._wants_journal) runs in Storage._batch_transaction(
    #   sync=True), committed by _commit_batch_transaction with
    #   commit_transaction("sync=on"): WiredTiger writes and fsyncs its log up to
    #   that record. The server has one Storage (server.py), hence one WiredTiger
    #   connection and one log, shared by every collection and by the session of
    #   every client connection's thread; the log is written in order, so the
    #   records committed before, answered before this write was sent, are on
    #   disk too (the kill -9 test in tests/integration/test_pipeline.py). But an
    #   update that changes nothing writes no log record (_update_matching_single_txn
    #   writes only when _doc_changed) and its sync=on flushes nothing: hence $inc.
    #   Measured (a writer of 50 upserts and 20 inserts per round, kill -9 of the
    #   server at a random time, 10 to 20 times each): answered writes were lost at
    #   9 of 10 kills without a journaled write, at 0 of 20 with this $inc from
    #   another client after each round, at 9 of 10 with a j:true $set that changed
    #   nothing.
    journaled(db)[DURABLE_MARKS].update_one(
        {"_id": marker},
        {"$inc": {"batches": 1}, "$set": {"time": datetime.now(UTC)}},
        upsert=True,
    )
