"""The counts of the open alarms, kept by their one writer, the alerts engine.

Counting the open alarms reads every one of them (100,000: about 600 ms on the embedded
server), so the alerts engine keeps the counts as it writes: each open alarm is in one
*bucket* (its state, its status, cancelled or not, in a pbehavior or not), and every
alerts process keeps a *ledger*, one document of ``alarm_counts`` (``_id`` its owner,
the same across its restarts), holding how many alarms it moved into and out of each
bucket. The counts are the sum of the ledgers and of ``base``, the count made by the
first alerts process on a database without counts (an upgrade, a database filled by
other means).

A batch's changes stay exact across crashes: the ledger first records them as
``pending`` (each alarm with the revision its write gives it), then the alarms are
written, then one update of the ledger adds them and clears ``pending``. A process that
finds its ledger pending (it died in between, or the batch failed) adds the changes
whose write is in the database (:meth:`Ledger.recover`), so a retried batch, which finds
its alarms already written and changes nothing, leaves the counts right.
"""

from collections import Counter

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from canopsis.store import alarms
from canopsis.store.alarms import OPEN, RESOLVED

COUNTS = "alarm_counts"
BASE = "base"
#: the field of an open alarm naming the ledger of its last write (see :meth:`Ledger.recover`)
WRITTEN_BY = "written_by"


def bucket(alarm: dict) -> str:
    """The bucket of an open alarm: ``<state>_<status>_<cancelled: c|->_<planned: p|->`` (a
    field name of the ledgers: no dot)."""
    cancelled = "c" if alarm.get("canceled") is not None else "-"
    planned = "p" if alarm.get("pbehavior") is not None else "-"
    state = (alarm.get("state") or {}).get("val")
    status = (alarm.get("status") or {}).get("val")
    return f"{state}_{status}_{cancelled}_{planned}"


def change(before: dict | None, after: dict | None) -> Counter[str]:
    """What writing ``after`` over ``before`` (None: no open alarm) does to the buckets."""
    moved: Counter[str] = Counter()
    if before is not None:
        moved[bucket(before)] -= 1
    if after is not None:
        moved[bucket(after)] += 1
    return Counter({name: n for name, n in moved.items() if n})


class Ledger:
    """The counts one alerts process changed, in its document ``owner`` of ``alarm_counts``."""

    def __init__(self, db: Database, owner: str) -> None:
        self.coll = db[COUNTS]
        self.db = db
        self.owner = owner
        #: the batch's [alarm id, the revision its write gives it (0: deleted), its change]
        #: (a list: alarm ids hold dots, which field names must not)
        self.pending: list[list] = []

    def begin(self, changes: list[tuple[str, int, Counter[str]]]) -> None:
        """Record the changes of a batch before its alarms are written: each alarm id, the
        revision the write gives it (0 for a deletion) and its :func:`change`."""
        self.pending = [[alarm_id, rev, dict(moved)] for alarm_id, rev, moved in changes if moved]
        if self.pending:
            self.coll.update_one(
                {"_id": self.owner}, {"$set": {"pending": self.pending}}, upsert=True
            )

    def commit(self) -> None:
        """Add the recorded changes once their alarms are written."""
        if self.pending:
            self._settle(self.pending)

    def recover(self) -> None:
        """Add the changes of a batch cut short whose alarm writes are in the database."""
        doc = self.coll.find_one({"_id": self.owner}, {"pending": 1}) or {}
        pending = doc.get("pending") or []
        if pending:
            self._settle([entry for entry in pending if self._written(*entry[:2])])

    def _written(self, alarm_id: str, rev: int) -> bool:
        """Whether the write of the revision ``rev`` (0: the deletion) of ``alarm_id`` by this
        ledger's owner is in the database: the revision stored is this owner's (``written_by``)
        or a later one, or the alarm has moved to the resolved ones since."""
        stored = self.db[OPEN].find_one({"_id": alarm_id}, {"rev": 1, WRITTEN_BY: 1})
        if rev == 0:
            return stored is None
        if stored is not None:
            mine = stored.get(WRITTEN_BY) == self.owner
            return stored.get("rev", 0) > rev or (stored.get("rev") == rev and mine)
        return self.db[RESOLVED].find_one({"_id": alarm_id}, {"_id": 1}) is not None

    def _settle(self, entries: list[list]) -> None:
        total: Counter[str] = Counter()
        for _alarm_id, _rev, moved in entries:
            total.update(moved)
        update: dict = {"$unset": {"pending": ""}}
        added = {f"counts.{name}": n for name, n in total.items() if n}
        if added:
            update["$inc"] = added
        self.coll.update_one({"_id": self.owner}, update, upsert=True)
        self.pending = []


def ensure_base(db: Database) -> bool:
    """Count the open alarms into ``base`` when ``alarm_counts`` has no document; whether it
    did. Run by an alerts process before it writes anything."""
    if db[COUNTS].find_one({}, {"_id": 1}) is not None:
        return False
    counts: Counter[str] = Counter()
    for doc in db[OPEN].find({}, {"state.val": 1, "status.val": 1, "canceled": 1, "pbehavior": 1}):
        counts[bucket(doc)] += 1
    try:
        db[COUNTS].insert_one({"_id": BASE, "counts": dict(counts)})
    except DuplicateKeyError:  # another alerts process counted first
        return False
    return True


def summed(db: Database) -> dict | None:
    """The counts of the open alarms as ``counts`` (:mod:`canopsis.store.alarms`) gives
    them, from the ledgers; None when there are none (no alerts engine ran on this
    database yet)."""
    buckets = _buckets(db)
    if buckets is None:
        return None
    return alarms.tally(_group(name, n) for name, n in buckets.items())


def matching(db: Database, filters: alarms.Filters) -> int | None:
    """How many alarms ``filters`` selects, from the ledgers, when it selects open alarms on
    their state and status only; else None (and None without ledgers)."""
    if filters != alarms.Filters(states=filters.states, statuses=filters.statuses):
        return None
    buckets = _buckets(db)
    if buckets is None:
        return None
    found = 0
    for name, n in buckets.items():
        state, status, _cancelled, _planned, _n = _group(name, n)
        if (not filters.states or state in filters.states) and (
            not filters.statuses or status in filters.statuses
        ):
            found += n
    return found


def _buckets(db: Database) -> Counter[str] | None:
    docs = list(db[COUNTS].find({}, {"counts": 1}))
    if not any(doc["_id"] == BASE for doc in docs):
        return None
    buckets: Counter[str] = Counter()
    for doc in docs:
        buckets.update(doc.get("counts") or {})
    return buckets


def _group(name: str, n: int) -> tuple[int | None, int | None, bool, bool, int]:
    """The group of :func:`canopsis.store.alarms.tally` of the ``n`` alarms of bucket ``name``."""
    state, status, cancelled, planned = name.split("_")
    return _number(state), _number(status), cancelled == "c", planned == "p", n


def _number(text: str) -> int | None:
    """A state or status of a bucket name (``None``: the alarm had none)."""
    return None if text == "None" else int(text)


def counts(db: Database, collection: str, query: dict) -> dict:
    """:func:`canopsis.store.alarms.counts`, from the ledgers for every open alarm."""
    if collection == OPEN and not query:
        kept = summed(db)
        if kept is not None:
            return kept
    return alarms.counts(db, collection, query)
