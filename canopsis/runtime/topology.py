"""The exchanges and queues of canopsis on RabbitMQ, and who declares them.

Declared, idempotently, by whoever publishes or consumes first:

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
  :func:`canopsis.runtime.chain.check_workers` refuses that layout.

Changing an engine's ``numprocs`` leaves the queues of the old layout bound
and filled: drain and delete them (``rabbitmqctl delete_queue``) after the
change.
"""

from collections.abc import Callable
from typing import Any

import kombu
from configobj import ConfigObj

from canopsis.ops import config, paths

ENTRY_ENGINE = "cleaner"


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


def entry_numprocs() -> int:
    """The entry engine's ``numprocs`` (``etc/engines/cleaner.conf``); ConfigError if unreadable."""
    return config.load("engine", paths.etc("engines", f"{ENTRY_ENGINE}.conf"))["numprocs"]


def entry_declarer(amqp_cfg: ConfigObj) -> Callable[[Any], None]:
    """For publishers: declare the entry engine's queues when its configuration is installed.

    An event published before the cleaner ever ran then waits in its queue.
    """

    def declare(channel: Any) -> None:
        try:
            numprocs = entry_numprocs()
        except config.ConfigError:
            return
        declare_engine(channel, amqp_cfg, ENTRY_ENGINE, numprocs)

    return declare
