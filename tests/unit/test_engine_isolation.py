"""A batch whose writes fail for good is split until the event at fault is alone (fakes).

The engines here are fakes that write into a list; the dead letters go to a fake
collection. What is checked is the runtime's logic: what is written, in which
order, what is acknowledged when, and what reaches the dead letters.
"""

import json

import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DocumentTooLarge,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from canopsis.runtime import amqp, enginehealth
from canopsis.runtime.chain import Chain
from canopsis.runtime.engine import Engine, EngineConf, EngineFailure, Retry, transient


class FakeCollection:
    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}

    def bulk_write(self, writes, ordered=True) -> None:
        for write in writes:
            doc = write._doc["$setOnInsert"]
            self.docs.setdefault(doc["_id"], doc)


class FakeDb(dict):
    def __missing__(self, name):
        self[name] = FakeCollection()
        return self[name]


class Store(Engine):
    """Writes the component of each event worked; a flush holding ``poison`` fails with
    ``error``; a cache of what it wrote, kept only for flushed batches."""

    def __init__(self, name: str, error: BaseException, poison: str = "poison") -> None:
        super().__init__(name, {}, None)
        self.error, self.poison = error, poison
        self.written: list[str] = []
        self.pending: list[str] = []
        self.flushes = 0
        self.known: set[str] = set()

    def work(self, ev):
        self.pending.append(ev["component"])
        return ev

    def flush(self):
        self.flushes += 1
        if self.poison in self.pending:
            raise self.error
        self.written += self.pending
        self.known |= set(self.pending)
        self.pending = []

    def discard(self):
        self.pending = []


def conf(name: str, next_: str = "") -> EngineConf:
    return EngineConf(name, next_, 60.0, 1, 100, 100, {}, f"/etc/engines/{name}.conf")


def deliveries(*components: str) -> list[amqp.Delivery]:
    return [
        amqp.Delivery(json.dumps({"component": c}).encode(), f"rk.{c}", f"m-{i}")
        for i, c in enumerate(components)
    ]


def chain_of(*engines: Engine) -> Chain:
    names = [e.name for e in engines]
    confs = [conf(n, nxt) for n, nxt in zip(names, [*names[1:], ""], strict=True)]
    return Chain(list(engines), confs, numprocs_of=lambda _name: 1)


def run(chain: Chain, batch: list[amqp.Delivery], db=None) -> tuple[list[int], FakeDb]:
    """Run the batch; the sizes of the parts acknowledged, in order."""
    db = FakeDb() if db is None else db
    parts: list[int] = []
    chain.run(batch, db, lambda count, _forwards: parts.append(count))
    return parts, db


TOO_LARGE = DocumentTooLarge("BSON document too large (36001723 bytes)")


def test_a_document_too_large_is_dead_lettered_alone_and_the_rest_is_written_in_order():
    store = Store("alerts", TOO_LARGE)
    chain = chain_of(store)
    names = [f"e{i}" for i in range(8)]
    names[5] = "poison"
    parts, db = run(chain, deliveries(*names))
    assert store.written == [n for n in names if n != "poison"]
    assert sum(parts) == 8  # every message acknowledged, the poison one too
    [letter] = db["dead_letters"].docs.values()
    assert letter["routing_key"] == "rk.poison"
    assert json.loads(letter["body"]) == {"component": "poison"}
    assert letter["engine"] == "alerts"
    [reason] = letter["reasons"]
    assert "engine alerts could not write" in reason["reason"]
    assert "DocumentTooLarge" in reason["reason"]
    assert chain.stats["alerts"].errors == 1
    assert store.known == set(names) - {"poison"}
    assert not store.pending and not chain.sink.pending


def test_the_parts_are_acknowledged_in_the_order_of_the_messages():
    store = Store("alerts", TOO_LARGE)
    parts, _db = run(chain_of(store), deliveries("a", "b", "c", "poison"))
    # [a b c poison] -> [a b] written; [c poison] -> [c] written, [poison] dead-lettered
    assert parts == [2, 1, 1]
    assert store.written == ["a", "b", "c"]


def test_a_batch_without_poison_is_written_once():
    store = Store("alerts", TOO_LARGE)
    parts, db = run(chain_of(store), deliveries("a", "b", "c"))
    assert parts == [3] and store.flushes == 1 and not db["dead_letters"].docs


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection closed"),
        ServerSelectionTimeoutError("no server"),
        NotPrimaryError("not primary"),
        WriteConcernError("waiting for replication timed out", 64, {}),
        OperationFailure("WriteConflict", 112),
    ],
)
def test_a_transient_failure_is_raised_for_the_whole_batch(error):
    store = Store("alerts", error)
    chain = chain_of(store)
    with pytest.raises(EngineFailure) as raised:
        run(chain, deliveries("a", "poison", "b"))
    assert raised.value.engine == "alerts" and raised.value.error is error
    assert store.written == [] and store.flushes == 1


class Flaky(Store):
    """Raises Retry for its first ``failures`` flushes."""

    def __init__(self, failures: int) -> None:
        super().__init__("alerts", Retry("an alarm changed"), poison="")
        self.failures = failures

    def flush(self):
        self.flushes += 1
        if self.flushes <= self.failures:
            self.pending = []
            raise Retry("an alarm changed by another process")
        super().flush()


def test_a_retry_is_worked_again_at_once_and_written():
    store = Flaky(2)
    parts, db = run(chain_of(store), deliveries("a", "b"))
    assert parts == [2] and store.written == ["a", "b"] and not db["dead_letters"].docs


def test_an_event_that_always_meets_a_concurrent_change_ends_in_the_dead_letters():
    store = Store("alerts", Retry("an alarm was opened by another process"))
    parts, db = run(chain_of(store), deliveries("a", "poison"))
    assert parts == [1, 1] and store.written == ["a"]
    [letter] = db["dead_letters"].docs.values()
    assert "3 tries, each met a concurrent change" in letter["reasons"][0]["reason"]


def test_the_engine_named_is_the_one_whose_write_failed_and_later_engines_are_discarded():
    first = Store("context", TOO_LARGE, poison="never")
    failing = Store("alerts", OperationFailure("Document failed validation", 121))
    last = Store("eventstore", TOO_LARGE, poison="never")
    parts, db = run(chain_of(first, failing, last), deliveries("a", "poison", "b"))
    assert sum(parts) == 3
    assert failing.written == last.written == ["a", "b"]
    assert first.written.count("poison") >= 1  # written before alerts failed: idempotent
    [letter] = db["dead_letters"].docs.values()
    assert letter["engine"] == "alerts"
    assert "OperationFailure: Document failed validation" in letter["reasons"][0]["reason"]
    assert not last.pending


def test_a_redelivered_poison_message_gets_the_same_dead_letter():
    db = FakeDb()
    run(chain_of(Store("alerts", TOO_LARGE)), deliveries("a", "poison"), db)
    run(chain_of(Store("alerts", TOO_LARGE)), deliveries("a", "poison"), db)
    assert len(db["dead_letters"].docs) == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AutoReconnect("x"), True),
        (OperationFailure("x", 91), True),
        (OperationFailure("x", 2, {"errorLabels": ["RetryableWriteError"]}), True),
        (BulkWriteError({"writeErrors": [{"code": 112}], "writeConcernErrors": []}), True),
        (BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64}]}), True),
        (BulkWriteError({"writeErrors": [{"code": 11000}], "writeConcernErrors": []}), False),
        (BulkWriteError({"writeErrors": [{"code": 10334}], "writeConcernErrors": []}), False),
        (BulkWriteError({"writeErrors": [{"code": 112}, {"code": 121}]}), False),
        (OperationFailure("Document failed validation", 121), False),
        (TOO_LARGE, False),
        (KeyError("state"), False),
    ],
)
def test_transient_tells_the_failures_retrying_can_cure(error, expected):
    assert transient(error) is expected


def test_an_engine_is_stalled_after_failures_in_a_row_or_when_nothing_is_acknowledged():
    assert enginehealth.assess(0, "", 0, 3600) == (0, "ok")
    assert enginehealth.assess(2, "boom", 10, 10)[0] == 0
    state, output = enginehealth.assess(3, "MongoDB: gone", 10, 7)
    assert state == 3 and "3 batches failed in a row" in output and "MongoDB: gone" in output
    state, output = enginehealth.assess(0, "", 12, enginehealth.STALL_SECONDS)
    assert state == 3 and "12 messages waiting" in output
