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
  worker queue: one worker at a time handles an entity, in order, and alarms
  never race, with no lock and no compare-and-swap in MongoDB. Adding workers
  moves a share of the entities to the new queues (consistent hashing moves
  about ``1/numprocs`` of them). Events entering through ``canopsis.events``
  are hashed on the sender's routing key, which is made of the entity and the
  connector: the cleaner is stateless, so that is enough.

Messages are persistent (``delivery_mode = 2``), sent as JSON text, each with
a ``message_id``. Publishing waits for the broker's confirm (py-amqp's
``confirm_publish`` transport option): a publish that returns is on the
broker. Consumers use ``on_message`` and read the raw body, so a body that is
not JSON still reaches the cleaner, which dead-letters it with the reason.

Changing an engine's ``numprocs`` leaves the queues of the old layout bound
and filled: drain and delete them (``rabbitmqctl delete_queue``) after the
change.
"""

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import kombu
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
RETRY_POLICY = {"max_retries": 5, "interval_start": 1, "interval_step": 2, "interval_max": 10}

ConsumerBase = ConsumerMixin


@dataclass(frozen=True)
class Delivery:
    """A received message as engines see it: raw body, routing key, message id."""

    body: bytes
    routing_key: str
    message_id: str | None


def connection(cfg: ConfigObj | None = None) -> kombu.Connection:
    """A (lazy) connection to the broker of ``amqp.conf``, with publisher confirms."""
    cfg = cfg if cfg is not None else config.load("amqp")
    return kombu.Connection(
        config.amqp_url(cfg),
        heartbeat=HEARTBEAT,
        connect_timeout=5,
        transport_options={"confirm_publish": True},
    )


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
    """Persistent, confirmed publishes on one channel of ``conn``."""

    def __init__(self, conn: kombu.Connection, cfg: ConfigObj, retry: bool = False) -> None:
        self.cfg = cfg
        self.retry = retry
        self.producer = kombu.Producer(conn.channel() if not retry else conn)
        self.channel = self.producer.channel

    def to_events(self, body: bytes | str, routing_key: str, message_id: str | None = None) -> None:
        """Publish to ``canopsis.events`` with ``routing_key``."""
        self._publish(body, events_exchange(self.cfg), routing_key, message_id)

    def to_engine(self, engine: str, body: bytes | str, key: str, message_id: str) -> None:
        """Publish to an engine's consistent-hash exchange, hashed on ``key`` (entity id)."""
        self._publish(body, engine_exchange(engine), key, message_id)

    def _publish(self, body, exchange: kombu.Exchange, key: str, message_id: str | None) -> None:
        self.producer.publish(
            body,
            exchange=exchange,
            routing_key=key,
            delivery_mode=PERSISTENT,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8" if isinstance(body, str) else "binary",
            message_id=message_id or uuid.uuid4().hex,
            retry=self.retry,
            retry_policy=RETRY_POLICY,
            timeout=CONFIRM_TIMEOUT,
            confirm_timeout=CONFIRM_TIMEOUT,
        )

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
        publisher = Publisher(conn, cfg, retry=True)
        if on_declare is not None:
            on_declare(conn.default_channel)
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
