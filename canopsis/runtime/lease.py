"""Leases: one process at a time does a piece of work shared by several processes.

An engine run as several processes (``numprocs > 1``, or on several hosts)
must do its ``beat()`` once per interval, not once per process: before each
beat, every process asks for the engine's lease, and only the holder beats.

A lease is one document of the ``leases`` collection::

    {_id: "<engine>", holder: "<host>:<pid>:<worker>", expires: <date>}

:meth:`Lease.acquire` is one atomic ``find_one_and_update`` with upsert: it
takes the lease when there is none or it has expired, and extends it when
this holder already has it. When another holder has it, the filter matches
nothing and the upsert collides with the existing ``_id`` (a
``DuplicateKeyError``): the lease is not taken. Of several processes racing
for a free lease, exactly one wins the same way.

The holder renews its lease at each beat; the lease lasts longer than the
interval (the runner gives ``2 * beat_interval``), so a holder that dies is
replaced within that time, and :meth:`Lease.release` on a clean stop lets
another process take it at once. Expiry is computed from each process's
clock: the hosts' clocks must agree to well within the margin.
"""

import datetime as dt

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

COLLECTION = "leases"


def holder_id(host: str, pid: int, worker: int | None) -> str:
    """``<host>:<pid>:<worker>`` (``-`` for a process without a worker number)."""
    return f"{host}:{pid}:{'-' if worker is None else worker}"


class Lease:
    """The lease ``name`` for ``holder``, taken for ``seconds`` at each :meth:`acquire`."""

    def __init__(self, db: Database, name: str, holder: str, seconds: float) -> None:
        self.collection = db[COLLECTION]
        self.name = name
        self.holder = holder
        self.seconds = seconds

    def acquire(self, now: float) -> bool:
        """Take or extend the lease at ``now`` (epoch seconds); True when this holder has it."""
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        try:
            self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"expires": {"$lte": at}}, {"holder": self.holder}]},
                {
                    "$set": {
                        "holder": self.holder,
                        "expires": at + dt.timedelta(seconds=self.seconds),
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    def release(self) -> None:
        """Give the lease up, if this holder has it."""
        self.collection.delete_one({"_id": self.name, "holder": self.holder})
