"""The broker baseline: kombu publishing and consuming the mix's bodies through one queue.

One process publishes persistent messages with publisher confirms, waited
for every :data:`WINDOW` messages (:class:`WindowPublisher`, also the pipeline's
generator), another consumes with a prefetch of 200 and acknowledges each
message; both run at once. The rate of a publisher that waits for each
confirm before the next publish (what ``canopsis.amqp.Publisher`` does) is
measured too: on a durable queue each such confirm waits for the broker's
disk write. Every pipeline figure is also given as a
ratio to ``end_to_end_per_s``: the messages over the time from the first
publish to the last acknowledgement.
"""

import json
import multiprocessing
import time
import uuid

import kombu

from bench.mix import Mix
from bench.stats import rate

QUEUE = "bench.baseline"
PREFETCH = 200
WINDOW = 500
CONFIRM_TIMEOUT = 30


class WindowPublisher:
    """Persistent publishes whose confirms are awaited every ``window`` messages.

    ``publish`` returns at once; ``sync`` (called every ``window`` publishes
    and at the end) returns when the broker confirmed everything published.
    """

    def __init__(self, url: str, window: int = WINDOW) -> None:
        self.conn = kombu.Connection(url)
        self.conn.connect()
        self.channel = self.conn.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.producer = kombu.Producer(self.channel)
        self.window = window
        self.sent = 0
        self.confirmed = 0

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self.confirmed = max(self.confirmed, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        raise RuntimeError(f"the broker refused message {delivery_tag}")

    def publish(self, body: str, exchange: str, routing_key: str) -> None:
        self.producer.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            delivery_mode=2,
            content_type="application/json",
            content_encoding="utf-8",
            message_id=uuid.uuid4().hex,
        )
        self.sent += 1
        if self.sent - self.confirmed >= self.window:
            self.sync()

    def sync(self) -> None:
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while self.confirmed < self.sent:
            self.conn.drain_events(timeout=max(0.01, deadline - time.monotonic()))

    def close(self) -> None:
        self.sync()
        self.conn.release()


def _publish(url: str, bodies: list[str], ready, out) -> None:
    publisher = WindowPublisher(url)
    ready.wait()
    start = time.time()
    for body in bodies:
        publisher.publish(body, "", QUEUE)
    publisher.close()
    out.put(("publish", start, time.time()))


def _publish_each_confirmed(url: str, bodies: list[str]) -> float:
    """Publishes per second when each waits for its confirm."""
    with kombu.Connection(url, transport_options={"confirm_publish": True}) as conn:
        producer = kombu.Producer(conn.channel())
        start = time.time()
        for body in bodies:
            producer.publish(body, routing_key=QUEUE, delivery_mode=2)
        return rate(len(bodies), time.time() - start)


def _consume(url: str, count: int, ready, out) -> None:
    received = 0
    first = 0.0
    with kombu.Connection(url) as conn:
        channel = conn.channel()

        def on_message(message) -> None:
            nonlocal received, first
            if not received:
                first = time.time()
            message.ack()
            received += 1

        consumer = kombu.Consumer(channel, queues=[kombu.Queue(QUEUE, no_declare=True)])
        consumer.on_message = on_message
        consumer.qos(prefetch_count=PREFETCH)
        with consumer:
            ready.set()
            while received < count:
                conn.drain_events(timeout=30)
    out.put(("consume", first, time.time()))


def run(url: str, count: int) -> dict:
    """Publish and consume ``count`` bodies of the mix; the rates."""
    mix = Mix(tag="baseline")
    bodies = [json.dumps(mix.next()) for _ in range(count)]
    with kombu.Connection(url) as conn:
        queue = kombu.Queue(QUEUE, durable=True)(conn.default_channel)
        queue.declare()
        queue.purge()
    ctx = multiprocessing.get_context("fork")
    ready, out = ctx.Event(), ctx.Queue()
    consumer = ctx.Process(target=_consume, args=(url, count, ready, out))
    publisher = ctx.Process(target=_publish, args=(url, bodies, ready, out))
    consumer.start()
    publisher.start()
    times = dict((name, (start, end)) for name, start, end in (out.get(timeout=600) for _ in "pc"))
    publisher.join()
    consumer.join()
    each_confirmed = _publish_each_confirmed(url, bodies[: max(1, count // 10)])
    with kombu.Connection(url) as conn:
        kombu.Queue(QUEUE)(conn.default_channel).delete()
    (p_start, p_end), (c_start, c_end) = times["publish"], times["consume"]
    return {
        "messages": count,
        "body_bytes_mean": sum(map(len, bodies)) / count,
        "publish_per_s": rate(count, p_end - p_start),
        "consume_per_s": rate(count, c_end - c_start),
        "end_to_end_per_s": rate(count, c_end - p_start),
        "publish_each_confirmed_per_s": each_confirmed,
    }
