"""The chain: the engines of one process, run on a batch of messages in memory.

The chain is declared once, for every engine, by ``chain`` in
``etc/engines.conf`` (:func:`~canopsis.ops.config.load_chain`): the order
every event follows. A process runs some of its engines, consecutive
(``canopsis-engine A B C``: the supervisord program lines say which engines
each process fuses): events pass from A to B in memory, and what C passes on
goes, through the broker, to the engine after C in the chain. So one program
can run the whole chain, or each engine its own, by the program lines alone.
An event a ``work`` returns as :class:`~canopsis.runtime.engine.Routed` goes
to the engine it names instead.

A batch goes through the engines one after the other (:meth:`Chain.process`);
then every engine's writes, the batch's dead letters and one journaled write
make it durable (:meth:`Chain.flush`); a batch whose writes fail for good is
split until the message at fault is alone (:meth:`Chain.run`).
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pymongo.database import Database

from canopsis.domain.event import FieldError, entity_id
from canopsis.ops import config, paths
from canopsis.runtime import amqp, deadletters, storage, topology
from canopsis.runtime.engine import (
    Engine,
    EngineConf,
    EngineFailure,
    Outbox,
    Retry,
    Routed,
    check_options,
    engine_class,
    load_conf,
    short_error,
    transient,
)

log = logging.getLogger("canopsis.engine")

#: tries of a batch whose writes met a concurrent change (Retry) before it counts as one that
#: cannot be written
RETRIES = 3


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
        self.attach(Outbox(refuse=self.refuse))

    def attach(self, outbox: Outbox) -> None:
        """Give every engine ``outbox`` (:meth:`Engine.attach`)."""
        self.outbox = outbox
        for engine in self.engines:
            engine.attach(outbox)

    def connect(self, emit: Callable[[dict], None], place: str = "") -> None:
        """Let the engines emit events through ``emit`` (the runner's publisher), running at
        ``place`` (see :class:`~canopsis.runtime.engine.Outbox`)."""
        self.attach(replace(self.outbox, emit=emit, place=place))

    @property
    def next(self) -> str:
        """Where the last engine's output goes ('' when nowhere)."""
        return self.confs[-1].next

    def _count(self, kind: int) -> int:
        """The next dead-letter (0) or forward (1) number of the current message."""
        counters = self._counters.setdefault(id(self._delivery), [0, 0])
        counters[kind] += 1
        return counters[kind] - 1

    def refuse(
        self, name: str, body: bytes | str, reasons: list[FieldError], key: str | None
    ) -> None:
        """Dead-letter ``body``, refused by engine ``name`` while it works the current message
        (the outbox's ``refuse``); ``key``: its routing key, else the message's."""
        delivery = self._delivery
        parent = f"{delivery.message_id}:{name}" if delivery and delivery.message_id else None
        letter_id = amqp.derived_id(parent, self._count(0))
        if key is None:
            key = delivery.routing_key if delivery else ""
        self.sink.add(deadletters.letter(letter_id, body, reasons, key, name, time.time()))
        self.stats[name].errors += 1

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
            body = value.body if isinstance(value, amqp.Delivery) else dumps(value)
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
                dumps(event), [FieldError("", f"engine {sender.name} passed on a non-event")]
            )
            return
        if item.exit not in self.exits:
            try:
                self.exits[item.exit] = self._numprocs_of(item.exit)
            except config.ConfigError as exc:
                sender.refuse(dumps(event), [FieldError("", f"no engine {item.exit!r}: {exc}")])
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
                    log.info("%s: worked again (%s)", exc.engine, short_error(exc.error))
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
        reason += f": {type(failure.error).__name__}: {short_error(failure.error, 400)}"
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


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def check_workers(confs: list[EngineConf]) -> None:
    """Refuse the entry engine fused with others in several workers (ConfigError).

    Events enter hashed on their routing key, which names the event type, so a
    check and an action on one entity can reach different entry workers; a
    chain fused after the entry would then work them in two processes, out of
    order. After the entry, events are hashed on their entity: workers belong there.
    """
    first = confs[0]
    if first.name == topology.ENTRY_ENGINE and first.numprocs > 1 and len(confs) > 1:
        fused = " ".join(conf.name for conf in confs[1:])
        raise config.ConfigError(
            f"{first.path}: numprocs = {first.numprocs}: {first.name} fused with {fused} in "
            "several workers would work the events of one entity in several processes, out of "
            f"order (events enter hashed on their routing key, which names the event type); run "
            f"{first.name} as a program of its own and give the workers to the engines after it"
        )


def build_chain(names: list[str], db: Database) -> Chain:
    """The engines ``names`` fused in one process, in that order (its command line); what the
    last one passes on goes to the engine after it in the chain
    (:func:`~canopsis.ops.config.load_chain`), nowhere after the chain's last engine.

    Engines that are not consecutive in the chain still run in the order of the command
    line (it is logged); a last engine the chain does not have is a ConfigError.
    """
    confs = [load_conf(name) for name in names]
    engines = []
    for conf in confs:
        cls = engine_class(conf.name)
        options = check_options(conf.path, conf.options, cls.options_spec)
        engines.append(cls(conf.name, options, db))
    order = config.load_chain()
    where = paths.etc("engines.conf")
    if names[-1] not in order:
        raise config.ConfigError(
            f"{where}: chain = {', '.join(order)}: no {names[-1]} (add it where its events come)"
        )
    after = dict(zip(order, [*order[1:], ""], strict=True))
    confs = [replace(conf, next=after.get(conf.name, "")) for conf in confs]
    for conf, following in zip(confs, names[1:], strict=False):
        if conf.next != following:
            there = f"{conf.next!r} after it" if conf.next else "nothing after it"
            there = there if conf.name in after else "no such engine"
            log.warning(
                "%s follows %s in this process; the chain of %s has %s",
                following,
                conf.name,
                where,
                there,
            )
    return Chain(engines, confs)
