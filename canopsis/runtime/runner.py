"""The engine process: consume the first engine's queue, run batches through the chain.

``canopsis-engine A B C`` runs the engines A, B and C fused in one process
(:mod:`canopsis.runtime.chain`); :mod:`canopsis.runtime.topology` tells the
exchanges and queues, and why one worker at a time handles an entity. The
loop (a kombu ``ConsumerMixin``):

1. Receive with ``prefetch = 2 * batch_size``; a batch is ``batch_size``
   messages, or what arrived within ``batch_ms`` of the oldest one.
2. Run each message through the chain, in order (an exception in ``work``
   dead-letters that event with the reason, and the batch goes on).
3. Write: every engine's ``flush()``, the batch's dead letters, then one
   journaled write that returns once all are in the database's journal on
   disk (``durable_batches`` in ``mongo.conf``, on by default).
4. Publish the events forwarded to other processes, each confirmed by the broker.
5. Acknowledge the batch (one ``multiple`` ack).

So delivery is **at least once**: a crash between 3 and 5 redelivers the
batch, worked again with idempotent writes and the same derived message ids.
When a write fails because MongoDB or the broker is gone (or a publish is
refused), the engines drop their pending writes, every held message is
requeued (the order stays) and the loop waits 1, 2, 4, ... up to 30 s; kombu
reconnects a lost broker the same way, and MongoDB unreachable at start is
retried, the process up and saying so. At start the process first brings the
database to this version's schema, or waits while another does
(:mod:`canopsis.ops.schema`).

Health: the process writes its health to MongoDB every few seconds and when
it changes (:mod:`canopsis.runtime.enginehealth`): batches failing again and
again, or messages waiting while nothing is acknowledged, make it stalled.
Between batches run the engines' beats and their checks about themselves
(:mod:`canopsis.runtime.beats`). SIGTERM: a batch or a beat in progress is
finished, then the process exits 0.
"""

import contextlib
import logging
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from configobj import ConfigObj
from pymongo.database import Database
from pymongo.errors import PyMongoError

from canopsis.domain.event import routing_key
from canopsis.ops import config, schema
from canopsis.runtime import amqp, enginehealth, storage, topology
from canopsis.runtime.beats import Beats
from canopsis.runtime.chain import Chain, Forward, build_chain, check_workers, dumps
from canopsis.runtime.engine import EngineFailure, load_conf, short_error

log = logging.getLogger("canopsis.engine")

MAX_BACKOFF = 30


class Stop(BaseException):
    """Raised by SIGTERM when no batch is in progress: leave at once."""


def backoff(attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th failure in a row: 1, 2, 4, ... 30."""
    return float(min(MAX_BACKOFF, 2 ** max(0, attempt - 1)))


class Runner(amqp.ConsumerBase):
    """Consume the first engine's queue and run batches through the chain (see module doc)."""

    def __init__(
        self, connection, amqp_cfg: ConfigObj, chain: Chain, db: Database, worker: int | None
    ) -> None:
        self.connection = connection
        self.amqp_cfg = amqp_cfg
        self.chain = chain
        self.db = db
        first = chain.confs[0]
        self.first = first
        self.queue = topology.queue_name(first.name, first.numprocs, worker)
        if chain.next:
            chain.exits[chain.next] = load_conf(chain.next).numprocs
        self.declared: set[str] = set()
        self.pending: list = []
        self.first_at = 0.0
        self.busy = False
        #: connected to the broker: SIGTERM only asks the consuming loop to stop (it looks
        #: every ``safety_interval``), never cuts a frame of the AMQP connection short (a
        #: cancel would then wait for an answer it cannot read)
        self.connected = False
        #: batches failed in a row, the last one's reason
        self.failures = 0
        self.last_error = ""
        self.acked = 0
        #: the messages of the batch in progress not acknowledged yet
        self.holding: list = []
        self.worker = worker
        #: messages waiting (queue and held), when something was last acknowledged or nothing
        #: waited, and the state last reported, when to report next
        self.depth = 0
        self.progress_at = time.monotonic()
        self.reported: int | None = None
        self.next_report = 0.0
        self.publisher: amqp.Publisher | None = None
        self.conn: Any = None  # the broker connection, once connected
        self.host = socket.gethostname()
        self.report_ids = [enginehealth.report_id(c.name, self.host, worker) for c in chain.confs]
        self.beats = Beats(chain, db, self.host, worker)
        #: this process in the leases (:mod:`canopsis.runtime.lease`)
        self.holder = self.beats.holder
        chain.connect(self.emit, f"{self.host}/{'-' if worker is None else worker}")

    # kombu ConsumerMixin hooks

    def on_connection_revived(self) -> None:
        self.connected = True

    def interruptible(self) -> bool:
        """Whether SIGTERM may leave at once (:class:`Stop`): no batch in progress and no
        AMQP connection in use."""
        return not self.busy and not self.connected

    def get_consumers(self, _consumer_cls, channel) -> list:
        topology.declare_engine(channel, self.amqp_cfg, self.first.name, self.first.numprocs)
        self.declared = set()
        if self.chain.next:
            topology.declare_engine(
                channel, self.amqp_cfg, self.chain.next, self.chain.exits[self.chain.next]
            )
            self.declared.add(self.chain.next)
        prefetch = 2 * self.first.batch_size
        return [amqp.consumer(channel, self.queue, prefetch, self._on_message)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs) -> None:
        self.conn = connection
        self.pending = []
        self.publisher = amqp.Publisher(connection, self.amqp_cfg)
        log.info(
            "consuming %s (%s)",
            self.queue,
            " -> ".join(
                [c.name for c in self.chain.confs] + ([self.chain.next] if self.chain.next else [])
            ),
        )

    def on_connection_error(self, exc, interval) -> None:
        self.connected = False
        if self.should_stop:
            raise Stop
        log.warning("broker unreachable (%s), retrying in %s s", exc, interval)

    def on_iteration(self) -> None:
        now = time.monotonic()
        if self.pending and (
            len(self.pending) >= self.first.batch_size
            or now - self.first_at >= self.first.batch_ms / 1000
        ):
            self._batch()
        if not self.should_stop:
            self._beats(time.monotonic())
            self._report(time.monotonic())

    def _forward(self, forwards: list[Forward]) -> None:
        """Publish the batch's forwards, all confirmed before it is acknowledged."""
        with self.publisher.batch():
            for fwd in forwards:
                if fwd.engine not in self.declared:
                    numprocs = self.chain.exits[fwd.engine]
                    topology.declare_engine(
                        self.publisher.channel, self.amqp_cfg, fwd.engine, numprocs
                    )
                    self.declared.add(fwd.engine)
                self.publisher.to_engine(fwd.engine, dumps(fwd.event), fwd.key, fwd.message_id)

    def _on_message(self, message) -> None:
        if not self.pending:
            self.first_at = time.monotonic()
        self.pending.append(message)

    # the batch

    def _batch(self) -> None:
        size = self.first.batch_size
        batch, self.pending = self.pending[:size], self.pending[size:]
        if self.pending:
            self.first_at = time.monotonic()
        self.busy = True
        self.holding = batch
        try:
            self.chain.run([amqp.delivery(message) for message in batch], self.db, self._done)
            self.failures = 0
        except amqp.connection_errors(self.connection) as exc:
            self._failed(f"broker: {exc}")
            raise
        except EngineFailure as exc:
            where = f"{type(exc.error).__name__}: {short_error(exc.error)}, engine {exc.engine}"
            if isinstance(exc.error, PyMongoError):
                where = f"MongoDB: {where}"
            self._failed(where, exc.engine)
            self._wait()
        except (amqp.MessageNacked, TimeoutError) as exc:
            self._failed(f"broker: {exc}")
            self._wait()
        except PyMongoError as exc:
            self._failed(f"MongoDB: {short_error(exc)}")
            self._wait()
        except Exception as exc:
            log.exception("batch failed")
            self._failed(f"{type(exc).__name__}: {exc}")
            self._wait()
        finally:
            self.busy = False
            self._report(time.monotonic())

    def _done(self, count: int, forwards: list[Forward]) -> None:
        """The first ``count`` held messages are written: publish their forwards, ack them."""
        self._forward(forwards)
        last = self.holding[count - 1]
        last.channel.basic_ack(last.delivery_tag, multiple=True)
        self.holding = self.holding[count:]
        self.acked += count
        self.progress_at = time.monotonic()

    def _failed(self, reason: str, engine: str | None = None) -> None:
        self.chain.discard()
        failed = len(self.holding)
        held, self.pending = self.holding + self.pending, []
        self.holding = []
        self.failures += 1
        self.last_error = reason
        name = engine if engine in self.chain.stats else self.first.name
        self.chain.stats[name].errors += 1
        log.warning(
            "batch of %d failed (%s): requeued %d messages, retrying in %.0f s",
            failed,
            reason,
            len(held),
            backoff(self.failures),
        )
        try:
            for message in held:
                message.requeue()
        except Exception as exc:  # the channel is gone: the broker requeues them itself
            log.warning("requeue failed (%s); the broker will redeliver", exc)

    def _wait(self) -> None:
        deadline = time.monotonic() + backoff(self.failures)
        while time.monotonic() < deadline and not self.should_stop:
            time.sleep(0.1)
            with contextlib.suppress(Exception):  # a dead connection shows at the next drain
                self.conn.heartbeat_check()
            self._report(time.monotonic())

    # health

    def _health(self, now: float) -> tuple[int, str]:
        """The chain's state and why (see :func:`canopsis.runtime.enginehealth.assess`)."""
        return enginehealth.assess(
            self.failures, self.last_error, self.depth, now - self.progress_at
        )

    def _report(self, now: float) -> None:
        """Write the chain's health when it is due or has changed (never fails the loop)."""
        if self.publisher is None:
            return
        due = now >= self.next_report
        if due:
            try:
                self.depth = self._depth()
            except Exception as exc:  # the broker is gone: the loop reconnects
                log.debug("queue depth not read: %s", exc)
            if self.depth == 0:
                self.progress_at = now
        state, output = self._health(now)
        if not due and state == self.reported:
            return
        docs = [
            {
                "_id": report_id,
                "engine": conf.name,
                "host": self.host,
                "worker": self.worker,
                "state": state,
                "output": output,
                "failures": self.failures,
                "queue_depth": self.depth,
            }
            for conf, report_id in zip(self.chain.confs, self.report_ids, strict=True)
        ]
        self.next_report = now + enginehealth.REPORT_EVERY
        busy, self.busy = self.busy, True  # SIGTERM does not cut the write short
        try:
            enginehealth.write(self.db, docs, time.time())
        except PyMongoError as exc:
            log.warning("health not reported (MongoDB: %s)", short_error(exc))
            return
        finally:
            self.busy = busy
        if state != self.reported:
            log.log(logging.ERROR if state else logging.INFO, "health: %s", output)
        self.reported = state

    def forget_health(self) -> None:
        """Remove this process's health reports (a clean stop)."""
        try:
            enginehealth.remove(self.db, self.report_ids)
        except PyMongoError as exc:
            log.warning("health reports not removed (MongoDB: %s)", short_error(exc))

    # beats

    def _beats(self, now: float) -> None:
        # busy: SIGTERM lets the beats finish rather than cut a MongoDB call (and the lease
        # release that follows) short
        self.busy = True
        try:
            self.beats.run(now, self._health(now), self._depth, self._send_check)
        finally:
            self.busy = False

    def _depth(self) -> int:
        return self.publisher.queue_depth(self.queue) + len(self.pending)

    def _send_check(self, check: dict) -> None:
        self.emit(check)
        self.conn.heartbeat_check()

    def emit(self, event: dict) -> None:
        """Publish ``event`` to ``canopsis.events`` (the engines' outbox ``emit``)."""
        self.publisher.to_events(dumps(event), routing_key(event))

    def release_leases(self) -> None:
        """Give up the beat leases held, so another process takes them at once."""
        self.beats.release()


def wait_for_database(
    db: Database, chain: Chain, holder: str, stopping: Callable[[], bool]
) -> None:
    """Bring the database to this canopsis' schema (:func:`canopsis.ops.schema.upgrade`, under the
    name ``holder``), create the indexes and set the engines up, retrying while MongoDB is
    unreachable."""
    attempt = 0
    while not stopping():
        try:
            schema.upgrade(db, holder, stopping)
            if stopping():
                return
            storage.ensure_indexes(db)
            for engine in chain.engines:
                engine.setup()
            return
        except PyMongoError as exc:
            attempt += 1
            log.warning(
                "MongoDB unreachable (%s), retrying in %.0f s", short_error(exc), backoff(attempt)
            )
            time.sleep(backoff(attempt))


def serve(names: list[str], worker: int | None) -> int:
    """Run the chain ``names`` until SIGTERM; the exit status."""
    amqp_cfg = config.load("amqp")
    mongo_cfg = config.load("mongo")
    db = storage.database(mongo_cfg)
    chain = build_chain(names, db)
    first = chain.confs[0]
    check_workers(chain.confs)
    if first.numprocs > 1 and worker is None:
        raise config.ConfigError(
            f"{first.path}: numprocs = {first.numprocs}: --worker 0..{first.numprocs - 1} "
            "is required"
        )
    if worker is not None and not 0 <= worker < first.numprocs:
        raise config.ConfigError(f"--worker {worker}: {first.path} has numprocs = {first.numprocs}")
    if chain.next:
        load_conf(chain.next)
    runner = Runner(amqp.connection(amqp_cfg), amqp_cfg, chain, db, worker)
    if mongo_cfg["durable_batches"]:
        chain.durable_marker = f"{runner.host}/{runner.queue}"

    def on_term(signum, _frame) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        runner.should_stop = True
        if runner.interruptible():
            raise Stop

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        wait_for_database(db, chain, runner.holder, lambda: runner.should_stop)
        runner.run(safety_interval=min(1.0, first.batch_ms / 1000))
    except Stop:
        pass
    runner.release_leases()
    runner.forget_health()
    log.info("stopped: %d messages acknowledged", runner.acked)
    return 0
