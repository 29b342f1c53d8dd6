"""Leases against a real MongoDB, and the beat lease of an engine run as two processes."""

import re
import threading
import time

import kombu
import pymongo
import pytest

from canopsis.runtime.lease import COLLECTION, Lease, holder_id
from tests.conftest import EngineProcess

pytestmark = pytest.mark.integration

NOW = 1_700_000_000.0


def pair(db) -> tuple[Lease, Lease]:
    return Lease(db, "alerts", "h1:1:0", 10), Lease(db, "alerts", "h2:2:1", 10)


def test_one_holder_at_a_time(mongo_db):
    first, second = pair(mongo_db)
    assert first.acquire(NOW)
    assert not second.acquire(NOW + 1)
    assert not second.acquire(NOW + 9.9)
    [doc] = mongo_db[COLLECTION].find()
    assert doc["_id"] == "alerts" and doc["holder"] == "h1:1:0"
    assert doc["expires"].timestamp() == pytest.approx(NOW + 10)


def test_the_holder_renews_its_lease(mongo_db):
    first, second = pair(mongo_db)
    assert first.acquire(NOW)
    assert first.acquire(NOW + 8)
    assert not second.acquire(NOW + 12)  # would have expired at NOW + 10 without the renewal
    assert mongo_db[COLLECTION].find_one()["expires"].timestamp() == pytest.approx(NOW + 18)


def test_another_takes_an_expired_lease(mongo_db):
    first, second = pair(mongo_db)
    assert first.acquire(NOW)
    assert second.acquire(NOW + 10)
    assert not first.acquire(NOW + 11)
    assert mongo_db[COLLECTION].find_one()["holder"] == "h2:2:1"


def test_release_lets_another_take_it_at_once(mongo_db):
    first, second = pair(mongo_db)
    assert first.acquire(NOW)
    second.release()  # not its lease: nothing changes
    assert not second.acquire(NOW + 1)
    first.release()
    assert mongo_db[COLLECTION].count_documents({}) == 0
    assert second.acquire(NOW + 1)


def test_leases_of_different_names_are_independent(mongo_db):
    assert Lease(mongo_db, "alerts", "h1:1:0", 10).acquire(NOW)
    assert Lease(mongo_db, "cleaner", "h2:2:1", 10).acquire(NOW)


def test_of_many_racing_for_a_free_lease_exactly_one_wins(mongo_db):
    racers = 16
    leases = [Lease(mongo_db, "alerts", holder_id("h", pid, None), 10) for pid in range(racers)]
    start = threading.Barrier(racers)
    results: dict[str, bool] = {}

    def race(lease: Lease) -> None:
        start.wait()
        results[lease.holder] = lease.acquire(NOW)

    threads = [threading.Thread(target=race, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [False] * (racers - 1) + [True]
    [doc] = mongo_db[COLLECTION].find()
    assert results[doc["holder"]]


@pytest.fixture
def two_cleaners(services):
    """``cleaner`` with numprocs = 2 and beat_interval = 1 (its conf restored afterwards)."""
    conf = services.prefix / "etc" / "engines" / "cleaner.conf"
    saved = conf.read_text()
    conf.write_text("numprocs = 2\nbeat_interval = 1\nbatch_ms = 20\n")
    try:
        yield services
    finally:
        conf.write_text(saved)
        with kombu.Connection(services.amqp_url) as conn:
            channel = conn.channel()
            for worker in (0, 1):  # else they would take a share of the cleaner's events
                channel.queue_delete(f"Engine_cleaner.{worker}")


def taken(process: EngineProcess) -> int:
    return len(re.findall(r"beat lease of cleaner taken", process.text()))


def wait(condition, timeout: float, explain) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, explain()
        time.sleep(0.1)


def test_of_two_worker_processes_one_beats_and_the_other_takes_over_at_its_stop(two_cleaners):
    client = pymongo.MongoClient(two_cleaners.mongo_uri, tz_aware=True)
    leases = client[two_cleaners.database][COLLECTION]
    workers = [EngineProcess(two_cleaners, "cleaner", "--worker", str(n)) for n in (0, 1)]
    try:
        for worker in workers:
            worker.wait_ready()

        def logs() -> str:
            return "\n---\n".join(w.text() for w in workers)

        wait(lambda: sum(taken(w) for w in workers) >= 1, 15, logs)
        time.sleep(3)  # three beats of each: the lease stays with the first holder
        assert [taken(w) for w in workers] in ([1, 0], [0, 1]), logs()
        holder, other = workers if taken(workers[0]) else workers[::-1]
        doc = leases.find_one({"_id": "cleaner"})
        assert doc["holder"].endswith(f":{holder.proc.pid}:{workers.index(holder)}")

        assert holder.stop() == 0, holder.text()
        assert "beat lease of cleaner released" in holder.text()
        wait(lambda: taken(other) == 1, 10, logs)
        doc = leases.find_one({"_id": "cleaner"})
        assert doc["holder"].endswith(f":{other.proc.pid}:{workers.index(other)}")
        assert other.stop() == 0, other.text()
        assert leases.find_one({"_id": "cleaner"}) is None
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
        client.close()
