"""Everything canopsis does with RabbitMQ; the only module that imports kombu.

Topology (declared, idempotently, by whoever publishes or consumes first):

- ``canopsis.events`` (the ``exchange`` of ``amqp.conf``): durable topic
  exchange where connectors, collectd, ``send_event``, dead-letter replays and
  the engines' own ``perf`` events are published, with the event's routing key.
- ``canopsis.engine.<name>``: one durable ``x-consistent-hash`` exchange per
  engine (RabbitMQ's ``rabbitmq_consistent_hash_exchange`` plugin, enabled in
  ``etc/rabbitmq/enabled_plugins``). It feeds the engine's durable queue
  ``Engine_<name>`` when the engine runs as one process (``numprocs = 1``),
  or one queue ``Engine_<name>.<i>`` per worker ``i`` in ``0 .. numprocs-1``,
  each bound with weight ``"1"``.
- The entry engine's exchange (:data:`ENTRY_ENGINE`, the cleaner) is bound to
  ``canopsis.events`` with ``#`` (an exchange-to-exchange binding), so every
  event sent to canopsis reaches the cleaner.
- An event an engine forwards to the next engine is published to that
  engine's exchange with the **entity id** as routing key. The consistent-hash
  exchange hashes the routing key, so all events of one entity go to the same
  worker queue: one worker at a time handles an entity, in order (the alerts
  engine still guards each alarm write with a revision, for the beats).
  Adding workers moves a share of the entities to the new queues (consistent
  hashing moves about ``1/numprocs`` of them). Events entering through
  ``canopsis.events`` are hashed on the sender's routing key, which names the
  connector and the event type as well as the entity: a check and an ack of
  one entity may reach different cleaner workers. The cleaner is stateless, but
  fused with the engines after it in several workers it would work one
  entity's events in several processes, out of order:
  :func:`canopsis.engine.check_workers` refuses that layout.

Messages are persistent (``delivery_mode = 2``), sent as JSON text, each with
a ``message_id``. A :class:`Publisher` waits for the broker's confirms: a
publish that returns is on the broker. A batch of publishes (an engine's
forwards, the events of one API request) waits once for all its confirms,
since each confirm of a persistent message waits for a disk write. Consumers
use ``on_message`` and read the raw body, so a body that is not JSON still
reaches the cleaner, which dead-letters it with the reason.

Changing an engine's ``numprocs`` leaves the queues of the old layout bound
and filled: drain and delete them (``rabbitmqctl delete_queue``) after the
change.
"""

import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import kombu
from amqp import spec
from amqp.exceptions import MessageNacked
from configobj import ConfigObj
from kombu.mixins import ConsumerMixin

from canopsis import config

log = logging.getLogger("canopsis.amqp")

ENTRY_ENGINE = "cleaner"
CONTENT_TYPE = "application/json"
PERSISTENT = 2
HEARTBEAT = 30
#: seconds a publish waits for the broker's confirm (a blocked broker fails the batch, which
#: is requeued and retried, rather than holding the engine forever)
CONFIRM_TIMEOUT = 30

ConsumerBase = ConsumerMixin


@dataclass(frozen=True)
class Delivery:
    """A received message as engines see it: raw body, routing key, message id."""

    body: bytes
    routing_key: str
    message_id: str | None


def connection(cfg: ConfigObj | None = None) -> kombu.Connection:
    """A (lazy) connection to the broker of ``amqp.conf`` (publish with a :class:`Publisher`)."""
    cfg = cfg if cfg is not None else config.load("amqp")
    return kombu.Connection(config.amqp_url(cfg), heartbeat=HEARTBEAT, connect_timeout=5)


def connection_errors(conn: kombu.Connection) -> tuple[type[BaseException], ...]:
    """Exceptions meaning the broker or the channel went away."""
    return tuple(conn.connection_errors) + tuple(conn.channel_errors)


def events_exchange(cfg: ConfigObj) -> kombu.Exchange:
    return kombu.Exchange(cfg["exchange"], type="topic", durable=True)


def engine_exchange(engine: str) -> kombu.Exchange:
    return kombu.Exchange(f"canopsis.engine.{engine}", type="x-consistent-hash", durable=True)


def queue_name(engine: str, numprocs: int, worker: int | None = None) -> str:
    """``Engine_<name>`` for a single process, ``Engine_<name>.<worker>`` otherwise."""
    if numprocs == 1:
        return f"Engine_{engine}"
    if worker is None or not 0 <= worker < numprocs:
        raise ValueError(f"worker must be in 0..{numprocs - 1}, got {worker}")
    return f"Engine_{engine}.{worker}"


def engine_queues(engine: str, numprocs: int) -> list[kombu.Queue]:
    """The queues of an engine, each bound to its exchange with weight "1"."""
    exchange = engine_exchange(engine)
    workers = [None] if numprocs == 1 else range(numprocs)
    return [
        kombu.Queue(queue_name(engine, numprocs, w), exchange, routing_key="1", durable=True)
        for w in workers
    ]


def declare_engine(channel, cfg: ConfigObj, engine: str, numprocs: int) -> None:
    """Declare an engine's exchange and queues (and the entry binding for the cleaner)."""
    exchange = engine_exchange(engine)(channel)
    exchange.declare()
    for queue in engine_queues(engine, numprocs):
        queue(channel).declare()
    if engine == ENTRY_ENGINE:
        events = events_exchange(cfg)(channel)
        events.declare()
        exchange.bind_to(events.name, routing_key="#")


def derived_id(parent: str | None, index: int) -> str:
    """A message id: derived from the parent's (so a redelivery repeats it) or new."""
    if parent is None:
        return uuid.uuid4().hex
    return hashlib.sha1(f"{parent}:{index}".encode()).hexdigest()[:32]


class Publisher:
    """Persistent publishes on a channel of its own, each confirmed by the broker.

    A publish returns once the broker confirmed it. Inside ``with publisher.batch():``
    publishes return at once and the end of the block waits for all their confirms;
    a block left by an exception waits for nothing (its messages may or may not be
    on the broker: the caller's retry sends them again, with the same ids).
    A message the broker refuses raises :class:`amqp.exceptions.MessageNacked`.
    """

    def __init__(self, conn: kombu.Connection, cfg: ConfigObj) -> None:
        self.cfg = cfg
        self.channel = conn.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.producer = kombu.Producer(self.channel)
        #: publishes on the channel (their delivery tags are 1..sent), and confirms received
        self.sent = 0
        self.confirmed = 0
        self.refused = 0
        self.batching = False

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self.confirmed = max(self.confirmed, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self.refused += 1
        self.confirmed = max(self.confirmed, delivery_tag)

    @contextlib.contextmanager
    def batch(self) -> Iterator["Publisher"]:
        """Publishes that wait for their confirms together, at the end of the block."""
        self.batching = True
        try:
            yield self
        finally:
            self.batching = False
        self.wait()

    def wait(self) -> None:
        """Return when the broker confirmed everything published; socket.timeout after
        :data:`CONFIRM_TIMEOUT`."""
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while self.confirmed < self.sent:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no confirm from the broker within {CONFIRM_TIMEOUT} s")
            self.channel.wait([spec.Basic.Ack, spec.Basic.Nack], timeout=left)
        if self.refused:
            refused, self.refused = self.refused, 0
            raise MessageNacked(f"the broker refused {refused} message(s)")

    def to_events(self, body: bytes | str, routing_key: str, message_id: str | None = None) -> None:
        """Publish to ``canopsis.events`` with ``routing_key``."""
        self.publish(body, events_exchange(self.cfg), routing_key, message_id)

    def to_engine(self, engine: str, body: bytes | str, key: str, message_id: str) -> None:
        """Publish to an engine's consistent-hash exchange, hashed on ``key`` (entity id)."""
        self.publish(body, engine_exchange(engine), key, message_id)

    def publish(self, body, exchange: kombu.Exchange, key: str, message_id: str | None) -> None:
        """Publish ``body`` to ``exchange`` with routing key ``key``."""
        self.producer.publish(
            body,
            exchange=exchange,
            routing_key=key,
            delivery_mode=PERSISTENT,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8" if isinstance(body, str) else "binary",
            message_id=message_id or uuid.uuid4().hex,
            timeout=CONFIRM_TIMEOUT,
        )
        self.sent += 1
        if not self.batching:
            self.wait()

    def queue_depth(self, name: str) -> int:
        """Messages ready in queue ``name`` (passive declare)."""
        return self.channel.queue_declare(queue=name, passive=True).message_count


def publish_events(
    cfg: ConfigObj,
    messages: list[tuple[bytes | str, str]],
    on_declare: Callable[[object], None] | None = None,
) -> None:
    """Publish ``(body, routing_key)`` pairs to ``canopsis.events`` from a short-lived client.

    The entry engine's topology is declared first (when its configuration is
    known, through ``on_declare``) so that an event sent before the cleaner
    ever started waits in its queue instead of being unroutable.
    """
    with connection(cfg) as conn:
        conn.ensure_connection(max_retries=3, interval_start=1, interval_step=1)
        if on_declare is not None:
            on_declare(conn.default_channel)
        publisher = Publisher(conn, cfg)
        with publisher.batch():
            for body, key in messages:
                publisher.to_events(body, key)


def delivery(message: kombu.Message) -> Delivery:
    """The :class:`Delivery` of a kombu message."""
    return Delivery(
        body=message.body if isinstance(message.body, bytes) else message.body.encode(),
        routing_key=message.delivery_info.get("routing_key", ""),
        message_id=message.properties.get("message_id"),
    )


def consumer(channel, queue: str, prefetch: int, on_message) -> kombu.Consumer:
    """A consumer of ``queue`` (already declared) with ``prefetch`` unacked messages at most."""
    cons = kombu.Consumer(channel, queues=[kombu.Queue(queue, no_declare=True)])
    cons.on_message = on_message
    cons.qos(prefetch_count=prefetch)
    return cons


def entry_definitions(cfg: ConfigObj, numprocs: int) -> dict[str, list[dict]]:
    """The entry engine's exchange, queues and bindings as RabbitMQ definitions.

    Loaded by the managed broker at boot (see ``canopsis-launch``), so events
    published before the cleaner first runs wait in its queue.
    """
    vhost = cfg["vhost"]
    exchange = engine_exchange(ENTRY_ENGINE)
    queues = engine_queues(ENTRY_ENGINE, numprocs)
    common = {"vhost": vhost, "arguments": {}}
    return {
        "exchanges": [
            {
                "name": exchange.name,
                "type": exchange.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                **common,
            }
        ],
        "queues": [
            {"name": q.name, "durable": True, "auto_delete": False, **common} for q in queues
        ],
        "bindings": [
            {
                "source": cfg["exchange"],
                "destination": exchange.name,
                "destination_type": "exchange",
                "routing_key": "#",
                **common,
            },
            *(
                {
                    "source": exchange.name,
                    "destination": q.name,
                    "destination_type": "queue",
                    "routing_key": "1",
                    **common,
                }
                for q in queues
            ),
        ],
    }
