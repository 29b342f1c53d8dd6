"""The dead-letter store: events canopsis refused, with why, so an operator can fix and replay.

One document per refused event in the ``dead_letters`` collection::

    {"_id": "9f1c...",                      # 32 hex characters
     "body": "<the raw text of that event>",
     "body_encoding": "utf-8" | "base64",   # base64 when the bytes are not UTF-8
     "reasons": [{"field": "state", "reason": "is required for a check event"}],
     "time": <datetime, UTC, when it was refused>,
     "routing_key": "<the routing key it arrived with>",
     "engine": "cleaner"}

A dead letter stays storable whatever it holds: a body longer than
:data:`MAX_BODY_BYTES` (8 MiB, the REST API's own limit) is kept cut, with
``"body_truncated": <its size in bytes>``, and cannot be replayed
(:class:`Unreplayable`); at most :data:`MAX_REASONS` reasons of at most
:data:`MAX_REASON_BYTES` bytes each are kept.

The id is derived from the message id of the refused message and the event's
position in it, so a message redelivered after a crash writes the same dead
letter again (an upsert) instead of a second one.

Replay publishes the raw body again to ``canopsis.events`` with its routing
key, waits for the broker's confirm, then deletes the dead letter: the
collection is the operator's to-do list. An event still refused after a
replay comes back as a new dead letter with the new reasons.

A replay with a corrected body (:func:`replay_corrected`) publishes that body
instead, with the routing key computed from it, and keeps the dead letter as
it was refused, adding the replay to its ``replays``: ``[{"time", "by",
"body", "routing_key"}]``, oldest first, the last :data:`MAX_REPLAYS`, each
body kept to :data:`MAX_REPLAY_BODY_BYTES` (so a letter stays far below
MongoDB's 16 MiB). What was refused and what was sent in its place stay side
by side; the letter leaves the store when it is deleted (or purged).
"""

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.database import Database

from canopsis.domain.event import FieldError, truncate

log = logging.getLogger("canopsis.deadletters")

COLLECTION = "dead_letters"
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_REASONS = 100
MAX_REASON_BYTES = 1024
MAX_REPLAYS = 5
MAX_REPLAY_BODY_BYTES = 1024 * 1024


class Unreplayable(ValueError):
    """A dead letter whose body was kept cut: publishing it again would send another event."""


def encode_body(body: bytes | str) -> tuple[str, str]:
    """The body as stored: ``(text, "utf-8")`` or ``(base64 text, "base64")``."""
    if isinstance(body, str):
        return body, "utf-8"
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(doc: dict) -> bytes:
    """The raw bytes of a dead letter's body."""
    if doc.get("body_encoding") == "base64":
        return base64.b64decode(doc["body"])
    return doc["body"].encode("utf-8")


def letter(
    letter_id: str,
    body: bytes | str,
    reasons: Iterable[FieldError],
    routing_key: str,
    engine: str,
    now: float,
) -> dict:
    """A dead-letter document (its body and reasons bounded: see the module doc)."""
    text, encoding = encode_body(body)
    size = len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    reasons = list(reasons)
    kept = [
        {"field": r.field, "reason": truncate(r.reason, MAX_REASON_BYTES)}
        for r in reasons[:MAX_REASONS]
    ]
    if len(reasons) > MAX_REASONS:
        kept.append({"field": "", "reason": f"and {len(reasons) - MAX_REASONS} more reasons"})
    doc = {
        "_id": letter_id,
        "body": text,
        "body_encoding": encoding,
        "reasons": kept,
        "time": datetime.fromtimestamp(now, UTC),
        "routing_key": routing_key,
        "engine": engine,
    }
    if size > MAX_BODY_BYTES:
        doc["body"] = truncate(text, MAX_BODY_BYTES)
        doc["body_truncated"] = size
    return doc


@dataclass
class Sink:
    """Dead letters gathered during a batch, written by :meth:`flush`."""

    pending: list[dict] = field(default_factory=list)

    def add(self, doc: dict) -> None:
        log.warning(
            "refused %s from %s (%s): %s",
            doc["_id"],
            doc["engine"],
            doc["routing_key"] or "-",
            "; ".join(
                f"{r['field']}: {r['reason']}" if r["field"] else r["reason"]
                for r in doc["reasons"]
            ),
        )
        self.pending.append(doc)

    def flush(self, db: Database) -> int:
        """Write the pending dead letters (idempotent upserts); their count."""
        if not self.pending:
            return 0
        writes = [
            UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
            for doc in self.pending
        ]
        db[COLLECTION].bulk_write(writes, ordered=False)
        count = len(self.pending)
        self.pending.clear()
        return count

    def discard(self) -> None:
        self.pending.clear()


def ensure_indexes(db: Database) -> None:
    db[COLLECTION].create_index([("time", ASCENDING)])


def listing(db: Database, limit: int = 100) -> list[dict]:
    """The newest dead letters first."""
    return list(db[COLLECTION].find().sort("time", DESCENDING).limit(limit))


def page(db: Database, skip: int, limit: int) -> tuple[list[dict], int]:
    """The dead letters newest first, from ``skip`` on, at most ``limit``; and their number."""
    docs = db[COLLECTION].find().sort([("time", DESCENDING), ("_id", DESCENDING)])
    return list(docs.skip(skip).limit(limit)), count(db)


def count(db: Database) -> int:
    return db[COLLECTION].count_documents({})


def get(db: Database, letter_id: str) -> dict | None:
    return db[COLLECTION].find_one({"_id": letter_id})


def replay(db: Database, letter_id: str, publish: Callable[[bytes, str], None]) -> dict | None:
    """Publish the dead letter's body again, then delete it; the letter, or None if unknown.

    Unreplayable when only the start of its body was kept.
    """
    doc = get(db, letter_id)
    if doc is None:
        return None
    if doc.get("body_truncated"):
        raise Unreplayable(
            f"dead letter {letter_id} keeps only the start of its {doc['body_truncated']}-byte "
            "body: it cannot be replayed (the sender must send the event again)"
        )
    publish(decode_body(doc), doc["routing_key"])
    db[COLLECTION].delete_one({"_id": letter_id})
    log.info("replayed %s (%s)", letter_id, doc["routing_key"])
    return doc


def replay_corrected(
    db: Database,
    letter_id: str,
    body: str,
    routing_key: str,
    by: str,
    publish: Callable[[bytes, str], None],
) -> dict | None:
    """Publish ``body`` (a valid event, the dead letter corrected) with ``routing_key``, then add
    the replay, made ``by`` its author, to the dead letter's ``replays``; the letter as updated,
    or None if unknown (nothing published then)."""
    if get(db, letter_id) is None:
        return None
    publish(body.encode("utf-8"), routing_key)
    replay = {
        "time": datetime.now(UTC),
        "by": by,
        "body": truncate(body, MAX_REPLAY_BODY_BYTES),
        "routing_key": routing_key,
    }
    doc = db[COLLECTION].find_one_and_update(
        {"_id": letter_id},
        {"$push": {"replays": {"$each": [replay], "$slice": -MAX_REPLAYS}}},
        return_document=ReturnDocument.AFTER,
    )
    log.info("replayed %s corrected by %s (%s)", letter_id, by, routing_key)
    return doc


def delete(db: Database, letter_id: str) -> bool:
    """Delete one dead letter; False when unknown."""
    return db[COLLECTION].delete_one({"_id": letter_id}).deleted_count == 1


def purge(db: Database, before: datetime | None = None) -> int:
    """Delete the dead letters (refused before ``before``, when given); how many."""
    query = {"time": {"$lt": before}} if before else {}
    return db[COLLECTION].delete_many(query).deleted_count
