"""The alarm named from RabbitMQ's ``connection.blocked`` reason (its texts, RabbitMQ 3.10)."""

import pytest

from canopsis.runtime import amqp


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("low on disk", "disk alarm"),
        ("low on memory", "memory alarm"),
        ("low on memory & low on disk", "memory alarm and disk alarm"),
        ("something new", "something new"),
    ],
)
def test_a_blocked_broker_is_named_by_its_alarm(reason, cause):
    assert str(amqp.Blocked(reason)) == f"the broker refuses publishes: {cause}"
