"""Connections to RabbitMQ, publishing with confirms, and what consumers share.

With :mod:`canopsis.runtime.topology` (the exchanges and queues), the only modules
that import kombu.

Messages are persistent (``delivery_mode = 2``), sent as JSON text, each with
a ``message_id``. A :class:`Publisher` waits for the broker's confirms: a
publish that returns is on the broker. A batch of publishes (an engine's
forwards, the events of one API request) waits once for all its confirms,
since each confirm of a persistent message waits for a disk write. Consumers
use ``on_message`` and read the raw body, so a body that is not JSON still
reaches the cleaner, which dead-letters it with the reason.

A broker in a resource alarm (disk or memory below its limit) stops reading
the connections that publish and says so with ``connection.blocked`` (its
reason, e.g. "low on disk"), then ``connection.unblocked`` when the alarm
clears; it tells a connection only once it publishes. An engine's publisher
waits as long as the broker blocks it (nothing is failed, requeued or sent
twice) and goes on when the alarm clears. A sender's publisher (the API, the
ingest service, ``send_event``) raises :class:`Blocked` at once, naming the
alarm, and checks before it publishes with :meth:`Publisher.probe`, so a
refused request has published nothing (unless the alarm began during it).
"""

import contextlib
import hashlib
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import kombu
from amqp import spec
from amqp.exceptions import MessageNacked
from configobj import ConfigObj
from kombu.mixins import ConsumerMixin
from kombu.transport import pyamqp

from canopsis.ops import config
from canopsis.runtime import topology

log = logging.getLogger("canopsis.amqp")

CONTENT_TYPE = "application/json"
PERSISTENT = 2
#: seconds an engine's publish waits for the broker's confirm while the broker accepts publishes
CONFIRM_TIMEOUT = 30
#: seconds a sender's publish (the API, ``send_event``) waits for the socket and for a confirm
SENDER_TIMEOUT = 10
#: routing key of :meth:`Publisher.probe`'s message: on the default exchange, no queue has it
PROBE_KEY = "canopsis.probe"

ConsumerBase = ConsumerMixin


@dataclass(frozen=True)
class Delivery:
    """A received message as engines see it: raw body, routing key, message id."""

    body: bytes
    routing_key: str
    message_id: str | None


class Blocked(Exception):
    """The broker refuses publishes (a resource alarm); the message names the alarm."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the broker refuses publishes: {alarm(reason)}")


def alarm(reason: str) -> str:
    """The alarm in RabbitMQ's ``connection.blocked`` reason: "low on disk" is "disk alarm"."""
    parts = [part.strip() for part in reason.split("&")]
    return " and ".join(
        f"{part.removeprefix('low on ')} alarm" if part.startswith("low on ") else part
        for part in parts
    )


class _Connection(pyamqp.Connection):
    """py-amqp's connection, keeping the reason of ``connection.blocked`` (py-amqp reads the
    method without its argument and hands its callback a fixed text)."""

    _METHODS = {
        **pyamqp.Connection._METHODS,
        spec.Connection.Blocked: spec.method(spec.Connection.Blocked, "s"),
    }
    #: the broker's reason while it refuses publishes, None while it accepts them
    blocked: str | None = None

    def _on_blocked(self, reason: str) -> None:
        self.blocked = reason
        log.info("the broker refuses publishes: %s", alarm(reason))

    def _on_unblocked(self) -> None:
        self.blocked = None
        log.info("the broker accepts publishes again")


class _Transport(pyamqp.Transport):
    Connection = _Connection


def connection(cfg: ConfigObj | None = None) -> kombu.Connection:
    """A (lazy) connection to the broker of ``amqp.conf`` (publish with a :class:`Publisher`)."""
    cfg = cfg if cfg is not None else config.load("amqp")
    return url_connection(config.amqp_url(cfg), cfg["heartbeat"])


def url_connection(url: str, heartbeat: int = 0) -> kombu.Connection:
    """A (lazy) connection to the broker at ``url`` that knows when the broker blocks it,
    with a heartbeat every ``heartbeat`` seconds (0: none).

    py-amqp sets ``TCP_USER_TIMEOUT`` to 1 s, so the kernel drops a connection whose
    peer has not read its data for a second: a blocked broker stops reading, and the
    first publishes larger than its socket's buffer would cost the connection (and
    the batch). The system default is used instead; heartbeats find a dead broker.
    """
    return kombu.Connection(
        url,
        heartbeat=heartbeat,
        connect_timeout=5,
        transport=_Transport,
        transport_options={"socket_settings": {socket.TCP_USER_TIMEOUT: 0}},
    )


def close(conn: kombu.Connection) -> None:
    """Close ``conn``: with the AMQP handshake when the broker reads it, else (blocked, or
    broken) the socket only, since a blocked broker answers nothing until its alarm clears."""
    if conn.connected and conn.connection.blocked is None:
        conn.release()
    else:
        conn.collect()


def connection_errors(conn: kombu.Connection) -> tuple[type[BaseException], ...]:
    """Exceptions meaning the broker or the channel went away."""
    return tuple(conn.connection_errors) + tuple(conn.channel_errors)


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

    While the broker blocks publishes (a resource alarm), an engine's publisher
    (``waits``) waits until it accepts them again, without a deadline, then goes on;
    a sender's (``waits=False``) raises :class:`Blocked` at once, and waits at most
    :data:`SENDER_TIMEOUT` for the socket and for a confirm.
    """

    def __init__(self, conn: kombu.Connection, cfg: ConfigObj, *, waits: bool = True) -> None:
        self.cfg = cfg
        self.waits = waits
        self.timeout = CONFIRM_TIMEOUT if waits else SENDER_TIMEOUT
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
        """Return when the broker confirmed everything published; TimeoutError when it has
        not within the publisher's timeout while it accepts publishes."""
        deadline = time.monotonic() + self.timeout
        while self.confirmed < self.sent:
            if self._held():
                deadline = time.monotonic() + self.timeout
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no confirm from the broker within {self.timeout} s")
            with contextlib.suppress(TimeoutError):
                # a second at most: each frame (a heartbeat) would start a longer timeout again
                self.channel.connection.drain_events(timeout=min(left, 1))
        if self.refused:
            refused, self.refused = self.refused, 0
            raise MessageNacked(f"the broker refused {refused} message(s)")

    def _held(self) -> bool:
        """While the broker blocks publishes (as far as read: py-amqp reads what is pending
        before each publish), raise :class:`Blocked` or (``waits``) wait until it accepts
        them again. True when it waited."""
        conn = self.channel.connection
        if conn.blocked is None:
            return False
        if not self.waits:
            raise Blocked(conn.blocked)
        while conn.blocked is not None:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=1)
            conn.heartbeat_tick()
        return True

    def probe(self) -> None:
        """Check that the broker takes publishes now, with a message no queue receives:
        :class:`Blocked` when it refuses them, a connection error when it is gone (read
        from all it sent since the last use, e.g. a close for missed heartbeats)."""
        conn = self.channel.connection
        with contextlib.suppress(TimeoutError):
            while True:
                conn.drain_events(timeout=0)
        self._held()
        self.producer.publish(
            b"", exchange="", routing_key=PROBE_KEY, delivery_mode=1, timeout=self.timeout
        )
        self.sent += 1
        self.wait()

    def to_events(self, body: bytes | str, routing_key: str, message_id: str | None = None) -> None:
        """Publish to ``canopsis.events`` with ``routing_key``."""
        self.publish(body, topology.events_exchange(self.cfg), routing_key, message_id)

    def to_engine(self, engine: str, body: bytes | str, key: str, message_id: str) -> None:
        """Publish to an engine's consistent-hash exchange, hashed on ``key`` (entity id)."""
        self.publish(body, topology.engine_exchange(engine), key, message_id)

    def publish(self, body, exchange: kombu.Exchange, key: str, message_id: str | None) -> None:
        """Publish ``body`` to ``exchange`` with routing key ``key``."""
        self._held()
        self.producer.publish(
            body,
            exchange=exchange,
            routing_key=key,
            delivery_mode=PERSISTENT,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8" if isinstance(body, str) else "binary",
            message_id=message_id or uuid.uuid4().hex,
            # a blocked broker stops reading: an engine waits in the write, a sender does not
            timeout=None if self.waits else self.timeout,
        )
        self.sent += 1
        if not self.batching:
            self.wait()

    def queue_depth(self, name: str) -> int:
        """Messages ready in queue ``name`` (passive declare)."""
        self._held()
        return self.channel.queue_declare(queue=name, passive=True).message_count


def publish_events(
    cfg: ConfigObj,
    messages: list[tuple[bytes | str, str]],
    on_declare: Callable[[object], None] | None = None,
) -> None:
    """Publish ``(body, routing_key)`` pairs to ``canopsis.events`` from a short-lived client.

    The entry engine's topology is declared first (when its configuration is
    known, through ``on_declare``) so that an event sent before the cleaner
    ever started waits in its queue instead of being unroutable. A sender's
    publisher: :class:`Blocked` at once when the broker refuses publishes.
    """
    conn = connection(cfg)
    try:
        conn.ensure_connection(max_retries=3, interval_start=1, interval_step=1)
        if on_declare is not None:
            on_declare(conn.default_channel)
        publisher = Publisher(conn, cfg, waits=False)
        publisher.probe()
        with publisher.batch():
            for body, key in messages:
                publisher.to_events(body, key)
    except BaseException:
        conn.collect()
        raise
    close(conn)


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
