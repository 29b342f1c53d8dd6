"""The broker baseline: kombu publishing and consuming the mix's bodies through one queue.

One process publishes persistent messages with publisher confirms, waited
for every :data:`WINDOW` messages (:class:`WindowPublisher`, also the pipeline's
generator), another consumes with a prefetch of 200 and acknowledges each
message; both run at once. The rate of a publisher that waits for each
confirm before the next publish (``canopsis.runtime.amqp.Publisher`` outside a batch)
is measured too: on a durable queue each such confirm waits for the broker's
disk write. Every pipeline figure is also given as a
ratio to ``end_to_end_per_s``: the messages over the time from the first
publish to the last acknowledgement.
"""

import json
import multiprocessing
import time

import kombu
from configobj import ConfigObj

from bench.mix import Mix
from bench.stats import rate
from canopsis.runtime import amqp

QUEUE = "bench.baseline"
PREFETCH = 200
WINDOW = 500


class WindowPublisher:
    """canopsis' :class:`~canopsis.runtime.amqp.Publisher`, its confirms awaited every ``window``
    messages (``sync``, called then and at the end)."""

    def __init__(self, url: str, window: int = WINDOW) -> None:
        self.conn = amqp.url_connection(url)
        self.conn.connect()
        self.publisher = amqp.Publisher(self.conn, ConfigObj({"exchange": "canopsis.events"}))
        self.publisher.batching = True
        self.channel = self.publisher.channel
        self.window = window

    def publish(self, body: str, exchange: str, routing_key: str) -> None:
        self.publisher.publish(body, kombu.Exchange(exchange), routing_key, None)
        if self.publisher.sent - self.publisher.confirmed >= self.window:
            self.sync()

    def sync(self) -> None:
        self.publisher.wait()

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
    """Publishes per second when each waits for its confirm (a publish outside a batch)."""
    with amqp.url_connection(url) as conn:
        publisher = amqp.Publisher(conn, ConfigObj({"exchange": "canopsis.events"}))
        start = time.time()
        for body in bodies:
            publisher.publish(body, kombu.Exchange(""), QUEUE, None)
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
