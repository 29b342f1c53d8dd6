"""The engine runtime: what every engine has, and the loop that runs a chain of them.

An engine is one module ``canopsis.engines.<name>`` with one :class:`Engine`
subclass: ``work(event)`` returns the event(s) to pass on (a dict, a list of
dicts or None), ``beat(now)`` runs every ``beat_interval`` seconds, and
``flush()`` writes what the events worked since the last flush caused
(``bulk_write``). Its settings are ``etc/engines/<name>.conf``
(spec ``canopsis/specs/engine.spec``): ``next``, ``beat_interval``,
``numprocs``, ``batch_size``, ``batch_ms``, an ``[options]`` section checked
against the class's :attr:`Engine.options_spec`, and a ``[perf]`` section: the
thresholds of the engine's own check (:class:`Thresholds`).

``canopsis-engine A B C`` runs the chain A → B → C fused in one process:
events pass from A to B in memory (the command line is the order), and what C
passes on goes to C's ``next`` through the broker.
The same engines can run one per process (``canopsis-engine A``, ...) by
configuration alone. See :mod:`canopsis.runtime.amqp` for the exchanges and queues and
why the events of one entity are always handled by one worker, in order.

The loop (a kombu ``ConsumerMixin``), for the queue of the first engine:

1. Receive with ``prefetch = 2 * batch_size``; a batch is ``batch_size``
   messages, or what arrived within ``batch_ms`` of the oldest one.
2. Run each message through the chain, in order. An exception in ``work``
   dead-letters that event with the reason and the batch goes on; nothing is
   ever dropped without a dead letter.
3. ``flush()`` every engine, then write the batch's dead letters, then make
   them durable: one journaled write (``j: true``) returns once every write
   of the batch is in the database's journal on disk
   (:func:`canopsis.runtime.storage.make_durable`; ``durable_batches`` in
   ``mongo.conf``, on by default).
4. Publish the events forwarded to the next engine, each confirmed by the
   broker (persistent, routing key = entity id).
5. Acknowledge the batch (one ``multiple`` ack).

So a message is acknowledged only after everything it caused is written
durably (a crash of the database process, ``kill -9`` included, or of the
machine keeps it) and published: delivery is **at least once**. A crash or a
failure between 3 and 5 redelivers the batch, which is worked again; writes
are idempotent (upserts, dead letters keyed by message id), and forwarded
events keep a message id derived from the one they came from, but the next
engine can see an event twice.

Failures that retrying cannot cure: when ``prepare`` or ``flush`` fails with
an error that :func:`transient` says lasting (a document too large, a
validation, a duplicate key, an engine's bug), the engines drop their pending
writes (``discard()``) and the batch is split in two halves, each worked,
written, published and acknowledged on its own (:meth:`Chain.run`), until the
message that causes the failure is alone: it goes to the dead letters with
the engine and the error, and the rest goes on in order. A :class:`Retry`
(a write that met a concurrent change) is worked again at once, and counts
as lasting after :data:`RETRIES` tries.

Transient failures: when a write fails because MongoDB or the broker is
gone (or a publish is refused), nothing more of the batch is acknowledged,
the engines drop their pending writes, every held message is requeued (so the
order stays), and the loop waits 1, 2, 4, ... up to 30 s before taking
messages again; a lost broker connection is re-established by kombu with the
same kind of backoff. MongoDB unreachable at start is retried the same way:
the process stays up and says so in its log rather than exiting. At start,
before anything else, the process brings the database to this version's
schema, or waits while another process does (:mod:`canopsis.ops.schema`).

Health: the process writes its health to MongoDB every few seconds and when
it changes (:mod:`canopsis.runtime.enginehealth`, outside the pipeline, which may be
what is stuck): batches failing again and again, or messages waiting while
nothing is acknowledged, make it stalled; its own checks then carry state
3 and the reason, and the healthcheck and ``/metrics`` show it.

SIGTERM: a batch or a beat in progress is finished (a batch written, published,
acknowledged), then the process exits 0; messages received but not started are
requeued by the broker when the connection closes.

Each engine publishes every beat a ``check`` event about itself to
``canopsis.events`` (connector ``canopsis``, connector_name ``engines``,
component the host, resource ``engine-<name>``) with the perf data
``events_per_second``, ``mean_processing_ms``, ``errors`` (exceptions, refused
events and failed batches) and, for the engine that reads the queue,
``queue_depth``. Its ``state`` is 3 and its ``output`` says why while the
engine is stalled; else 1 or 2 when the time per event or the queue depth
crosses the warning or critical threshold of the ``[perf]`` section of its
conf, the output saying which (``alerts: 12.3 ms per event (warning above
10), queue 5,400 (critical above 5,000)``); else 0 and ``ok``. A check, so a
slow or stalled engine becomes an alarm on its entity like any other.

An engine run as several processes does its ``beat()`` once per interval, not
once per process: before each beat, a process takes or renews the engine's
lease (:mod:`canopsis.runtime.lease`, for ``2 * beat_interval``) and only the holder
runs ``beat()``; every process still publishes its own check. A holder
that dies is replaced within two intervals; one stopped by SIGTERM releases
the lease, so another process takes it at its next beat. Taking and losing a
lease are logged.
"""

import contextlib
import importlib
import inspect
import json
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from configobj import ConfigObj, flatten_errors, get_extra_values
from configobj.validate import Validator
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)

from canopsis.domain.event import FieldError, entity_id, routing_key
from canopsis.ops import config, paths, schema
from canopsis.runtime import amqp, deadletters, enginehealth, storage
from canopsis.runtime.lease import Lease, holder_id

log = logging.getLogger("canopsis.engine")

MAX_BACKOFF = 30
#: tries of a batch whose writes met a concurrent change (Retry) before it counts as one that
#: cannot be written
RETRIES = 3


class Retry(Exception):
    """Raised by ``flush`` when a write met a concurrent change: the batch is worked again."""


class EngineFailure(Exception):
    """``error`` raised by ``engine``'s ``prepare`` or ``flush`` (the chain names the engine)."""

    def __init__(self, engine: str, error: BaseException) -> None:
        super().__init__(f"engine {engine}: {type(error).__name__}: {_short(error)}")
        self.engine = engine
        self.error = error


#: MongoDB error codes a later try can get past: network, elections, shutdowns, time limits,
#: write conflicts (the codes MongoDB itself labels retryable), and a state of the server an
#: administrator puts right (no permission, no disk space), which must stall, not dead-letter
TRANSIENT_CODES = frozenset(
    {
        "HostUnreachable": 6,
        "HostNotFound": 7,
        "Unauthorized": 13,
        "LockTimeout": 24,
        "MaxTimeMSExpired": 50,
        "WriteConcernFailed": 64,
        "NetworkTimeout": 89,
        "ShutdownInProgress": 91,
        "WriteConflict": 112,
        "PrimarySteppedDown": 189,
        "ExceededTimeLimit": 262,
        "SocketException": 9001,
        "NotWritablePrimary": 10107,
        "InterruptedAtShutdown": 11600,
        "Interrupted": 11601,
        "InterruptedDueToReplStateChange": 11602,
        "NotPrimaryNoSecondaryOk": 13435,
        "NotPrimaryOrSecondary": 13436,
        "OutOfDiskSpace": 14031,
    }.values()
)


def transient(error: BaseException) -> bool:
    """Whether trying the same writes again can succeed: the database unreachable, a primary
    changing, a write concern not met, a write conflict. A document too large, a validation,
    a duplicate key or an engine's bug fails the same way every time."""
    if isinstance(error, ConnectionFailure | WriteConcernError):
        return True
    if isinstance(error, BulkWriteError):
        details = error.details or {}
        if details.get("writeConcernErrors"):
            return True
        errors = details.get("writeErrors") or []
        return bool(errors) and all(e.get("code") in TRANSIENT_CODES for e in errors)
    if isinstance(error, OperationFailure):
        return (
            error.code in TRANSIENT_CODES
            or error.has_error_label("TransientTransactionError")
            or error.has_error_label("RetryableWriteError")
        )
    return False


class Stop(BaseException):
    """Raised by SIGTERM when no batch is in progress: leave at once."""


@dataclass(frozen=True)
class Thresholds:
    """When an engine's own check is a warning (1) or critical (2): the ``[perf]`` section of
    its conf; 0 turns a threshold off."""

    warn_ms_per_event: float = 0.0
    crit_ms_per_event: float = 0.0
    warn_queue: int = 0
    crit_queue: int = 0

    def assess(self, engine: str, ms_per_event: float, depth: int | None) -> tuple[int, str]:
        """``(state, output)`` of ``engine`` taking ``ms_per_event`` with ``depth`` messages
        waiting (None: not its queue)."""
        measures = [
            (
                ms_per_event,
                f"{ms_per_event:,.1f}" if ms_per_event >= 0.1 else f"{ms_per_event:.2g}",
                " ms per event",
                self.warn_ms_per_event,
                self.crit_ms_per_event,
            )
        ]
        if depth is not None:
            measures.append((depth, f"queue {depth:,}", "", self.warn_queue, self.crit_queue))
        state, parts = enginehealth.STATE_OK, []
        for value, shown, unit, warn, crit in measures:
            if crit and value > crit:
                level, said = 2, f" (critical above {crit:,g})"
            elif warn and value > warn:
                level, said = 1, f" (warning above {warn:,g})"
            else:
                level, said = enginehealth.STATE_OK, ""
            state = max(state, level)
            parts.append(f"{shown}{unit}{said}")
        if state == enginehealth.STATE_OK:
            return state, "ok"
        return state, f"{engine}: " + ", ".join(parts)


@dataclass(frozen=True)
class EngineConf:
    name: str
    next: str
    beat_interval: float
    numprocs: int
    batch_size: int
    batch_ms: int
    options: dict[str, Any]
    path: str
    perf: Thresholds = Thresholds()


def conf_path(name: str):
    return paths.etc("engines", f"{name}.conf")


def load_conf(name: str) -> EngineConf:
    """``etc/engines/<name>.conf``, checked against ``engine.spec``."""
    path = conf_path(name)
    cfg = config.load("engine", path)
    perf = cfg["perf"]
    for measure in ("ms_per_event", "queue"):
        warn, crit = perf[f"warn_{measure}"], perf[f"crit_{measure}"]
        if warn and crit and crit < warn:
            raise config.ConfigError(
                f"{path}: perf.crit_{measure} = {crit}: expected 0 (off) or at least "
                f"perf.warn_{measure} ({warn})"
            )
    return EngineConf(
        name=name,
        next=cfg["next"].strip(),
        beat_interval=cfg["beat_interval"],
        numprocs=cfg["numprocs"],
        batch_size=cfg["batch_size"],
        batch_ms=cfg["batch_ms"],
        options=dict(cfg["options"]),
        path=str(path),
        perf=Thresholds(**perf),
    )


def check_options(path: str, options: dict[str, Any], spec: str) -> dict[str, Any]:
    """``options`` converted and checked against an engine's spec lines; ConfigError if not."""
    cfg = ConfigObj(options, configspec=spec.splitlines(), interpolation=False)
    result = cfg.validate(Validator(), preserve_errors=True)
    problems = []
    for _sections, key, error in flatten_errors(cfg, result):
        if error is False:
            problems.append(f"options.{key}: missing")
        else:
            problems.append(f"options.{key} = {options.get(key)!r}: {error}")
    problems += [f"options.{key}: unknown key" for _s, key in get_extra_values(cfg)]
    if problems:
        raise config.ConfigError(f"{path}: " + "; ".join(problems))
    return dict(cfg)


@dataclass(frozen=True)
class Routed:
    """Returned by ``work`` to send an event to ``engine`` instead of the next one."""

    engine: str
    event: dict


class Engine:
    """Base of every engine. Subclasses override :meth:`work` and, if needed, the others."""

    #: configobj spec lines of the ``[options]`` section
    options_spec: ClassVar[str] = ""
    #: True: :meth:`work` receives the :class:`~canopsis.runtime.amqp.Delivery` (raw body)
    raw: ClassVar[bool] = False

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        self.name = name
        self.options = options
        self.db = db
        #: what the engine counts itself (dropped, ignored, ...), published each beat then reset
        self.counters: Counter[str] = Counter()
        self._refuse: Callable[[bytes | str, list[FieldError], str | None], None] | None = None
        self._emit: Callable[[dict], None] | None = None

    def setup(self) -> None:
        """Create what the engine needs in MongoDB (indexes set by its options, caches).

        Run once at start, before any message, and again while MongoDB is
        unreachable (so it must be idempotent).
        """

    def prepare(self, events: list[Any]) -> None:
        """Called with everything a batch brings to this engine, before ``work`` on each.

        An engine loads here, in one query, what the batch will need.
        """

    def work(self, event: Any) -> dict | list[dict] | Routed | list[dict | Routed] | None:
        raise NotImplementedError

    def beat(self, now: float) -> None:
        """Periodic work, every ``beat_interval`` seconds, between batches."""

    def flush(self) -> None:
        """Write what the events worked since the last flush caused."""

    def discard(self) -> None:
        """Forget the pending writes of a batch that failed (it will be redelivered), and
        what the engine believes stored: writes the database answered are lost if it
        crashed before the batch was made durable."""

    def emit(self, event: dict) -> None:
        """Publish a new event to ``canopsis.events`` now (from ``beat``), confirmed by the broker.

        It enters the pipeline like any event sent to canopsis; an error raised
        here fails the beat, which runs again at the next interval.
        """
        if self._emit is None:
            raise RuntimeError(f"engine {self.name} is not attached to a runner")
        self._emit(event)

    def refuse(
        self, body: bytes | str, reasons: list[FieldError], routing_key: str | None = None
    ) -> None:
        """Send one event to the dead letters with the reasons (``routing_key``: the message's)."""
        if self._refuse is None:
            raise RuntimeError(f"engine {self.name} is not attached to a chain")
        self._refuse(body, reasons, routing_key)


def engine_class(name: str) -> type[Engine]:
    """The one :class:`Engine` subclass of ``canopsis.engines.<name>``."""
    try:
        module = importlib.import_module(f"canopsis.engines.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"canopsis.engines.{name}":
            raise
        raise config.ConfigError(
            f"unknown engine {name!r}: no module canopsis.engines.{name}"
        ) from None
    found = [
        cls
        for _n, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Engine) and cls is not Engine and cls.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise config.ConfigError(
            f"canopsis.engines.{name}: expected one Engine subclass, found {len(found)}"
        )
    return found[0]


def backoff(attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th failure in a row: 1, 2, 4, ... 30."""
    return float(min(MAX_BACKOFF, 2 ** max(0, attempt - 1)))


@dataclass
class Stats:
    """What an engine did since its last beat."""

    events: int = 0
    seconds: float = 0.0
    errors: int = 0
    since: float = field(default_factory=time.monotonic)

    @property
    def ms_per_event(self) -> float:
        return self.seconds * 1000 / self.events if self.events else 0.0

    def reset(self, now: float) -> None:
        self.events, self.seconds, self.errors, self.since = 0, 0.0, 0, now


def perf_event(
    engine: str,
    stats: Stats,
    now: float,
    elapsed: float,
    host: str,
    depth: int | None,
    counters: dict[str, int] | None = None,
    state: int = enginehealth.STATE_OK,
    output: str = "ok",
) -> dict:
    """The self-monitoring check of ``engine`` with its perf data (``counters``: the engine's
    own); ``state`` and ``output`` say how it goes (stalled: :mod:`canopsis.runtime.enginehealth`,
    slow: :class:`Thresholds`)."""
    metrics = [
        {
            "metric": "events_per_second",
            "value": stats.events / elapsed if elapsed > 0 else 0.0,
            "unit": "1/s",
        },
        {
            "metric": "mean_processing_ms",
            "value": stats.ms_per_event,
            "unit": "ms",
        },
        {"metric": "errors", "value": stats.errors, "unit": None},
    ]
    if depth is not None:
        metrics.append({"metric": "queue_depth", "value": depth, "unit": None})
    for name, value in sorted((counters or {}).items()):
        metrics.append({"metric": name, "value": value, "unit": None})
    return {
        "connector": "canopsis",
        "connector_name": "engines",
        "event_type": "check",
        "source_type": "resource",
        "component": host,
        "resource": f"engine-{engine}",
        "state": state,
        "output": output,
        "timestamp": now,
        "perf_data_array": metrics,
    }


@dataclass(frozen=True)
class Forward:
    """An event for an engine of another process."""

    engine: str
    event: dict
    key: str
    message_id: str


@dataclass
class _Item:
    """A value on its way through the chain: the message it came from, the engine it goes to."""

    delivery: amqp.Delivery
    value: Any
    target: int  # index of the next engine to work it; len(engines): it leaves the process
    exit: str  # the engine of another process it goes to when it leaves ('' = nowhere)
    sender: int  # index of the engine that produced it


class Chain:
    """The engines fused in one process: runs a batch of deliveries through them, in memory.

    The batch goes through the engines one after the other (each engine's
    :meth:`Engine.prepare` sees everything it will work in the batch, then
    ``work`` runs on each item in the order of the messages), so the events of
    one entity keep their order and an engine can load what a whole batch
    needs in one query. No broker and no database here except through
    ``prepare`` and ``flush``: the unit tests drive it directly.
    """

    def __init__(
        self,
        engines: list[Engine],
        confs: list[EngineConf],
        numprocs_of: Callable[[str], int] | None = None,
    ) -> None:
        self.engines = engines
        self.confs = confs
        self.names = [e.name for e in engines]
        self.sink = deadletters.Sink()
        self.stats = {e.name: Stats() for e in engines}
        self._numprocs_of = numprocs_of or (lambda name: load_conf(name).numprocs)
        #: numprocs of the engines of other processes this chain sends to
        self.exits: dict[str, int] = {}
        self._delivery: amqp.Delivery | None = None
        self._counters: dict[int, list[int]] = {}
        #: the document :meth:`flush` makes each batch durable with (None: mongo.conf's
        #: durable_batches is off, or no runner)
        self.durable_marker: str | None = None
        for engine in engines:
            engine._refuse = self._refuser(engine.name)

    @property
    def next(self) -> str:
        """Where the last engine's output goes ('' when nowhere)."""
        return self.confs[-1].next

    def _count(self, kind: int) -> int:
        """The next dead-letter (0) or forward (1) number of the current message."""
        counters = self._counters.setdefault(id(self._delivery), [0, 0])
        counters[kind] += 1
        return counters[kind] - 1

    def _refuser(self, name: str):
        def refuse(body: bytes | str, reasons: list[FieldError], key: str | None) -> None:
            delivery = self._delivery
            parent = f"{delivery.message_id}:{name}" if delivery and delivery.message_id else None
            letter_id = amqp.derived_id(parent, self._count(0))
            if key is None:
                key = delivery.routing_key if delivery else ""
            self.sink.add(deadletters.letter(letter_id, body, reasons, key, name, time.time()))
            self.stats[name].errors += 1

        return refuse

    def process(self, deliveries: list[amqp.Delivery]) -> list[Forward]:
        """Run a batch of messages through the chain; the events to forward to other processes."""
        self._counters = {}
        items = [item for d in deliveries if (item := self._decode(d)) is not None]
        for index, engine in enumerate(self.engines):
            mine = [item.value for item in items if item.target == index]
            if not mine:
                continue
            try:
                engine.prepare(mine)
            except Exception as exc:
                raise EngineFailure(engine.name, exc) from exc
            worked: list[_Item] = []
            for item in items:
                worked += self._work(index, item) if item.target == index else [item]
            items = worked
        out = []
        for item in items:
            self._delivery = item.delivery
            if item.exit:
                self._forward(item, out)
        self._delivery = None
        return out

    def _decode(self, delivery: amqp.Delivery) -> _Item | None:
        if self.engines[0].raw:
            return _Item(delivery, delivery, 0, "", 0)
        try:
            return _Item(delivery, json.loads(delivery.body), 0, "", 0)
        except ValueError as exc:
            self._delivery = delivery
            self.engines[0].refuse(delivery.body, [FieldError("body", f"not JSON: {exc}")])
            return None

    def _work(self, index: int, item: _Item) -> list[_Item]:
        engine = self.engines[index]
        stats = self.stats[engine.name]
        self._delivery = item.delivery
        start = time.perf_counter()
        try:
            result = engine.work(item.value)
        except Exception as exc:
            log.exception("%s: work failed", engine.name)
            value = item.value
            body = value.body if isinstance(value, amqp.Delivery) else _dumps(value)
            reason = f"engine {engine.name} failed: {type(exc).__name__}: {exc}"
            engine.refuse(body, [FieldError("", reason)])
            return []
        finally:
            stats.events += 1
            stats.seconds += time.perf_counter() - start
        last = len(self.engines)
        out = []
        for value in _as_list(result):
            if not isinstance(value, Routed):
                exit_ = self.next if index + 1 == last else ""
                out.append(_Item(item.delivery, value, index + 1, exit_, index))
            elif value.engine in self.names[index + 1 :]:
                target = self.names.index(value.engine, index + 1)
                out.append(_Item(item.delivery, value.event, target, "", index))
            else:
                out.append(_Item(item.delivery, value.event, last, value.engine, index))
        return out

    def _forward(self, item: _Item, out: list[Forward]) -> None:
        sender = self.engines[item.sender]
        event = item.value
        try:
            key = event.get("entity_id") or entity_id(event)
        except (AttributeError, KeyError, TypeError):
            sender.refuse(
                _dumps(event), [FieldError("", f"engine {sender.name} passed on a non-event")]
            )
            return
        if item.exit not in self.exits:
            try:
                self.exits[item.exit] = self._numprocs_of(item.exit)
            except config.ConfigError as exc:
                sender.refuse(_dumps(event), [FieldError("", f"no engine {item.exit!r}: {exc}")])
                return
        parent = item.delivery.message_id
        mid = amqp.derived_id(f"{parent}:{item.exit}" if parent else None, self._count(1))
        out.append(Forward(item.exit, event, key, mid))

    def flush(self, db: Database) -> None:
        """Every engine's writes, then the dead letters, then (``durable_marker`` set) one
        journaled write that returns once they are all on disk (:func:`storage.make_durable`);
        EngineFailure names what failed."""
        for engine in self.engines:
            try:
                engine.flush()
            except Exception as exc:
                raise EngineFailure(engine.name, exc) from exc
        try:
            self.sink.flush(db)
        except Exception as exc:
            raise EngineFailure("deadletters", exc) from exc
        if self.durable_marker is not None:
            try:
                storage.make_durable(db, self.durable_marker)
            except Exception as exc:
                raise EngineFailure("durable write", exc) from exc

    def run(
        self,
        deliveries: list[amqp.Delivery],
        db: Database,
        done: Callable[[int, list[Forward]], None],
    ) -> None:
        """Work and write a batch; ``done(count, forwards)`` for each part written, in order.

        ``done`` gets how many of the next messages are written and their forwards;
        the caller publishes and acknowledges them. A batch whose writes fail in a way
        that trying again cannot cure (:func:`transient`) is split in two halves, each
        worked, written and done on its own, until the message that causes the failure
        is alone: it goes to the dead letters with the reason, and the rest goes on. A
        :class:`Retry` is worked again at once, :data:`RETRIES` times in all before it
        counts as such a failure. A transient failure is raised (EngineFailure): what
        is not done yet is to be requeued and tried again later.
        """
        tries = 0
        while True:
            tries += 1
            try:
                forwards = self.process(deliveries)
                self.flush(db)
                done(len(deliveries), forwards)
                return
            except EngineFailure as exc:
                self.discard()
                if isinstance(exc.error, Retry) and tries < RETRIES:
                    log.info("%s: worked again (%s)", exc.engine, _short(exc.error))
                    continue
                if not isinstance(exc.error, Retry) and transient(exc.error):
                    raise
                failure = exc
            break
        if len(deliveries) == 1:
            self.unwritable(deliveries[0], failure, tries)
            self.flush(db)  # the dead letter alone: the engines hold nothing after discard()
            done(1, [])
            return
        half = len(deliveries) // 2
        log.warning(
            "batch of %d not written (%s): worked again in halves of %d and %d",
            len(deliveries),
            failure,
            half,
            len(deliveries) - half,
        )
        self.run(deliveries[:half], db, done)
        self.run(deliveries[half:], db, done)

    def unwritable(self, delivery: amqp.Delivery, failure: EngineFailure, tries: int) -> None:
        """Dead-letter the message whose writes fail for good (alone in its batch)."""
        name = failure.engine if failure.engine in self.stats else self.names[0]
        parent = f"{delivery.message_id}:{name}:unwritable" if delivery.message_id else None
        reason = f"engine {failure.engine} could not write what this event caused"
        if isinstance(failure.error, Retry):
            reason += f" ({tries} tries, each met a concurrent change)"
        reason += f": {type(failure.error).__name__}: {_short(failure.error, 400)}"
        letter_id = amqp.derived_id(parent, 0)
        self.sink.add(
            deadletters.letter(
                letter_id,
                delivery.body,
                [FieldError("", reason)],
                delivery.routing_key,
                name,
                time.time(),
            )
        )
        self.stats[name].errors += 1

    def discard(self) -> None:
        for engine in self.engines:
            engine.discard()
        self.sink.discard()


def _as_list(result: dict | list[dict] | None) -> list:
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


def _short(exc: BaseException, size: int = 160) -> str:
    """The start of an error's message (pymongo's carry a whole topology description; a
    bulk write's, its write errors)."""
    if isinstance(exc, BulkWriteError) and exc.details and exc.details.get("writeErrors"):
        found = {(e.get("errmsg"), e.get("code")) for e in exc.details["writeErrors"]}
        text = "; ".join(f"{message} (code {code})" for message, code in sorted(found, key=str))
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= size else text[: size - 3] + "..."


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def build_chain(names: list[str], db: Database) -> Chain:
    """The chain of engines ``names``, in that order; the last one's ``next`` is where the
    chain's output goes.

    The order of the engines of one process is its command line, and only that: a ``next``
    naming another engine than the one after it there is not used (it is logged), so an
    engine's file kept from an older chain cannot break the chain of a new version.
    """
    confs = [load_conf(name) for name in names]
    for conf, following in zip(confs, names[1:], strict=False):
        if conf.next != following:
            log.warning(
                "%s: next = %r is not used: %s follows %s in this process",
                conf.path,
                conf.next,
                following,
                conf.name,
            )
    engines = []
    for conf in confs:
        cls = engine_class(conf.name)
        options = check_options(conf.path, conf.options, cls.options_spec)
        engines.append(cls(conf.name, options, db))
    return Chain(engines, confs)


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
        self.queue = amqp.queue_name(first.name, first.numprocs, worker)
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
        self.conn = None
        self.host = socket.gethostname()
        now = time.monotonic()
        self.next_beat = {c.name: now + c.beat_interval for c in chain.confs}
        self.report_ids = [enginehealth.report_id(c.name, self.host, worker) for c in chain.confs]
        #: this process in the leases (:mod:`canopsis.runtime.lease`)
        self.holder = holder_id(self.host, os.getpid(), worker)
        self.leases = {
            c.name: Lease(db, c.name, self.holder, 2 * c.beat_interval) for c in chain.confs
        }
        #: the engines whose beat lease this process holds
        self.leading: set[str] = set()

    # kombu ConsumerMixin hooks

    def on_connection_revived(self) -> None:
        self.connected = True

    def interruptible(self) -> bool:
        """Whether SIGTERM may leave at once (:class:`Stop`): no batch in progress and no
        AMQP connection in use."""
        return not self.busy and not self.connected

    def get_consumers(self, _consumer_cls, channel) -> list:
        amqp.declare_engine(channel, self.amqp_cfg, self.first.name, self.first.numprocs)
        self.declared = set()
        if self.chain.next:
            amqp.declare_engine(
                channel, self.amqp_cfg, self.chain.next, self.chain.exits[self.chain.next]
            )
            self.declared.add(self.chain.next)
        prefetch = 2 * self.first.batch_size
        return [amqp.consumer(channel, self.queue, prefetch, self._on_message)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs) -> None:
        self.conn = connection
        self.pending = []
        self.publisher = amqp.Publisher(connection, self.amqp_cfg)
        for engine in self.chain.engines:
            engine._emit = self._emit
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
                    amqp.declare_engine(self.publisher.channel, self.amqp_cfg, fwd.engine, numprocs)
                    self.declared.add(fwd.engine)
                self.publisher.to_engine(fwd.engine, _dumps(fwd.event), fwd.key, fwd.message_id)

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
            where = f"{type(exc.error).__name__}: {_short(exc.error)}, engine {exc.engine}"
            if isinstance(exc.error, PyMongoError):
                where = f"MongoDB: {where}"
            self._failed(where, exc.engine)
            self._wait()
        except (amqp.MessageNacked, TimeoutError) as exc:
            self._failed(f"broker: {exc}")
            self._wait()
        except PyMongoError as exc:
            self._failed(f"MongoDB: {_short(exc)}")
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
                self.depth = self.publisher.queue_depth(self.queue) + len(self.pending)
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
            log.warning("health not reported (MongoDB: %s)", _short(exc))
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
            log.warning("health reports not removed (MongoDB: %s)", _short(exc))

    # beats

    def _beats(self, now: float) -> None:
        # busy: SIGTERM lets the beats finish rather than cut a MongoDB call (and the lease
        # release that follows) short
        self.busy = True
        try:
            for engine, conf in zip(self.chain.engines, self.chain.confs, strict=True):
                if now < self.next_beat[engine.name]:
                    continue
                self.next_beat[engine.name] = now + conf.beat_interval
                self._beat(engine, conf, now)
        finally:
            self.busy = False

    def _beat(self, engine: Engine, conf: EngineConf, now: float) -> None:
        stats = self.chain.stats[engine.name]
        if self._lead(engine.name):
            try:
                engine.beat(time.time())
            except Exception:
                log.exception("%s: beat failed", engine.name)
                stats.errors += 1
        depth = None
        if engine is self.chain.engines[0]:
            depth = self.publisher.queue_depth(self.queue) + len(self.pending)
        state, output = self._health(now)
        if state == enginehealth.STATE_OK:
            state, output = conf.perf.assess(engine.name, stats.ms_per_event, depth)
        perf = perf_event(
            engine.name,
            stats,
            time.time(),
            now - stats.since,
            self.host,
            depth,
            engine.counters,
            state,
            output,
        )
        stats.reset(now)
        engine.counters.clear()
        self.publisher.to_events(_dumps(perf), routing_key(perf))
        self.conn.heartbeat_check()

    def _emit(self, event: dict) -> None:
        self.publisher.to_events(_dumps(event), routing_key(event))

    def _lead(self, name: str) -> bool:
        """Take or renew the beat lease of engine ``name``: True when this process holds it."""
        try:
            held = self.leases[name].acquire(time.time())
        except PyMongoError as exc:
            log.warning("beat lease of %s not renewed (MongoDB: %s)", name, _short(exc))
            held = False
        if held and name not in self.leading:
            log.info("beat lease of %s taken", name)
            self.leading.add(name)
        elif not held and name in self.leading:
            log.info("beat lease of %s lost", name)
            self.leading.discard(name)
        return held

    def release_leases(self) -> None:
        """Give up the beat leases held, so another process takes them at once."""
        for name in sorted(self.leading):
            try:
                self.leases[name].release()
            except PyMongoError as exc:
                log.warning("beat lease of %s not released (MongoDB: %s)", name, _short(exc))
            else:
                log.info("beat lease of %s released", name)
        self.leading.clear()


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
                "MongoDB unreachable (%s), retrying in %.0f s", _short(exc), backoff(attempt)
            )
            time.sleep(backoff(attempt))


def check_workers(confs: list[EngineConf]) -> None:
    """Refuse the entry engine fused with others in several workers (ConfigError).

    Events enter hashed on their routing key, which names the event type, so a
    check and an action on one entity can reach different entry workers; a
    chain fused after the entry would then work them in two processes, out of
    order. After the entry, events are hashed on their entity: workers belong there.
    """
    first = confs[0]
    if first.name == amqp.ENTRY_ENGINE and first.numprocs > 1 and len(confs) > 1:
        fused = " ".join(conf.name for conf in confs[1:])
        raise config.ConfigError(
            f"{first.path}: numprocs = {first.numprocs}: {first.name} fused with {fused} in "
            "several workers would work the events of one entity in several processes, out of "
            f"order (events enter hashed on their routing key, which names the event type); run "
            f"{first.name} as a program of its own and give the workers to the engines after it"
        )


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


def entry_declarer(amqp_cfg: ConfigObj) -> Callable[[Any], None]:
    """For publishers: declare the entry engine's queues when its configuration is installed.

    An event published before the cleaner ever ran then waits in its queue.
    """

    def declare(channel: Any) -> None:
        try:
            conf = load_conf(amqp.ENTRY_ENGINE)
        except config.ConfigError:
            return
        amqp.declare_engine(channel, amqp_cfg, conf.name, conf.numprocs)

    return declare
