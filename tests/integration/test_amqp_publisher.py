"""canopsis.runtime.amqp.Publisher on the real RabbitMQ: confirms awaited one by one or by batch."""

import kombu
import pytest
from amqp.exceptions import MessageNacked

from canopsis.ops import config
from canopsis.runtime import amqp

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(services):
    cfg = config.load("amqp", services.prefix / "etc" / "amqp.conf")
    with amqp.connection(cfg) as conn:
        yield cfg, conn


def bounded_queue(conn, name: str, length: int) -> kombu.Queue:
    """A queue that refuses (nacks) the publishes beyond ``length`` messages."""
    args = {"x-max-length": length, "x-overflow": "reject-publish"}
    queue = kombu.Queue(name, kombu.Exchange(""), routing_key=name, queue_arguments=args)
    queue(conn.default_channel).declare()
    queue(conn.default_channel).purge()
    return queue


def publish(publisher: amqp.Publisher, queue: str, count: int) -> None:
    for number in range(count):
        publisher.publish(f'{{"n": {number}}}', kombu.Exchange(""), queue, None)


def test_a_batch_returns_once_the_broker_confirmed_all_of_it(conn):
    cfg, connection = conn
    bounded_queue(connection, "test.publisher.batch", 1000)
    publisher = amqp.Publisher(connection, cfg)
    with publisher.batch():
        publish(publisher, "test.publisher.batch", 200)
        assert publisher.confirmed < 200  # nothing waited for inside the block
    assert publisher.confirmed == publisher.sent == 200
    assert publisher.queue_depth("test.publisher.batch") == 200
    publish(publisher, "test.publisher.batch", 1)  # outside a batch: confirmed on return
    assert publisher.confirmed == 201


def test_messages_the_broker_refuses_fail_the_batch_and_the_next_one_goes_on(conn):
    cfg, connection = conn
    bounded_queue(connection, "test.publisher.full", 3)
    publisher = amqp.Publisher(connection, cfg)
    with pytest.raises(MessageNacked, match="refused 2 message"), publisher.batch():
        publish(publisher, "test.publisher.full", 5)
    connection.default_channel.queue_purge("test.publisher.full")
    with publisher.batch():
        publish(publisher, "test.publisher.full", 3)
    assert publisher.queue_depth("test.publisher.full") == 3
    with pytest.raises(MessageNacked, match="refused 1 message"):
        publish(publisher, "test.publisher.full", 1)
