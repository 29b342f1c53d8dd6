"""What every connector shares: its configuration, publishing, its heartbeat, its stop.

A connector is a class with a ``step(now)`` that gathers events (reads log
lines, runs probes...), hands them to :meth:`Connector.publish` and returns the
seconds to wait before the next step. :func:`main` runs it as
``canopsis-connector KIND [NAME]``, the command of its supervisord program.

- Configuration: ``etc/connectors/<NAME>.conf``, checked at start against the
  common keys (``canopsis/specs/connector.spec``: ``connector_name``, the
  events' ``connector_name``, default NAME; ``heartbeat_interval``, seconds)
  followed by the class's :attr:`Connector.spec`. A bad value stops the
  program at once with one line naming the file and the key (exit status 2).
- Publishing: :meth:`Connector.publish` checks every event first
  (:func:`canopsis.domain.event.normalize`: one bad event publishes nothing),
  then publishes them to ``canopsis.events`` and returns once the broker
  confirmed them all, so what a connector remembers as sent (a file offset) is
  on the broker. A lost broker is waited for (reconnecting with backoff) and
  the unconfirmed events are published again with the same message ids; a
  broker that refuses publishes (a resource alarm) is waited for too.
- Heartbeat: every ``heartbeat_interval`` seconds (and at start) the connector
  publishes a ``heartbeat`` event announcing twice that interval, on the
  entity ``connector-<NAME>/<host>`` (connector ``canopsis``, connector_name
  ``connectors``), with the events it published since the last one and its
  own :attr:`Connector.counters` as perf data. The heartbeat engine raises an
  alarm on that entity when they stop: a dead or stuck connector is an alarm.
- Logging: one line per event worth it, on the logger
  ``canopsis.connectors.<NAME>`` (:attr:`Connector.log`).
- Stop: SIGTERM (or SIGINT) lets the current step finish, then the program
  closes and exits with status 0; while it waits (between steps, for the
  broker, for confirms) it stops at once: events not yet confirmed are then
  published again by the next run, and the step that gathered them did not
  finish, so nothing is lost.
- State: :attr:`Connector.state_dir`, ``var/lib/canopsis/connectors/<NAME>``,
  for what a connector keeps across restarts (positions in files...).
"""

import argparse
import contextlib
import importlib
import inspect
import json
import logging
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from configobj import ConfigObj

from canopsis.domain import event as events
from canopsis.ops import config, paths
from canopsis.runtime import amqp
from canopsis.runtime.topology import entry_declarer

#: how many heartbeat intervals of silence make a connector late
HEARTBEAT_SLACK = 2
#: seconds before a publish that failed is tried again (after reconnecting)
RETRY_DELAY = 1.0


class Stopped(BaseException):
    """Raised by SIGTERM while the connector waits: it stops."""


class InvalidEvent(ValueError):
    """An event the connector built is not a valid canopsis event; nothing was published."""


def load_conf(name: str, spec: str = "", path: Path | None = None) -> ConfigObj:
    """``etc/connectors/<name>.conf`` (or ``path``) checked against the common keys and
    ``spec``; :class:`canopsis.ops.config.ConfigError` naming file and key if not."""
    path = path or paths.etc("connectors", f"{name}.conf")
    lines = config.spec_lines("connector") + spec.splitlines()
    cfg = config.load(f"connectors/{name}", path, lines)
    if cfg["connector_name"] is None:
        cfg["connector_name"] = name
    return cfg


class Connector:
    """A data source publishing events to canopsis; subclasses set :attr:`kind` and
    :attr:`spec` and write :meth:`step`."""

    #: the ``connector`` field of its events: the kind of source (``logtail``, ``probe``...)
    kind: ClassVar[str] = ""
    #: configobj spec lines of its own keys and sections in its conf, after the common keys
    spec: ClassVar[str] = ""

    def __init__(self, name: str, conf: ConfigObj, amqp_cfg: ConfigObj) -> None:
        self.name = name
        self.conf = conf
        self.amqp_cfg = amqp_cfg
        self.log = logging.getLogger(f"canopsis.connectors.{name}")
        self.host = socket.gethostname()
        self.state_dir = paths.var("lib", "canopsis", "connectors", name)
        #: counts of the connector's own, sent as perf data with each heartbeat, then reset
        self.counters: dict[str, int] = {}
        self.published = 0
        self.stopping = False
        self._interruptible = False
        self._conn = amqp.connection(amqp_cfg)  # lazy: connects on the first publish
        self._publisher: amqp.Publisher | None = None

    # What a connector writes.

    def setup(self) -> None:
        """Called once before the first step (open files, read the state)."""

    def step(self, now: float) -> float:
        """Gather and publish what there is; the seconds to wait before the next step."""
        raise NotImplementedError

    def close(self) -> None:
        """Called once when the connector stops, even after an error."""

    # What a connector calls.

    def event(
        self, event_type: str, component: str, resource: str | None = None, **fields: Any
    ) -> dict:
        """An event of this connector (its ``connector`` and ``connector_name`` set)."""
        doc = {
            "connector": self.kind,
            "connector_name": self.conf["connector_name"],
            "event_type": event_type,
            "source_type": "component" if resource is None else "resource",
            "component": component,
            **fields,
        }
        if resource is not None:
            doc["resource"] = resource
        return doc

    def publish(self, raw_events: list[dict]) -> int:
        """Publish the events, each checked first; returns once the broker has them all.

        :class:`InvalidEvent` (nothing published) when one is not a valid event.
        """
        now = time.time()
        messages, problems = [], []
        for index, raw in enumerate(raw_events):
            normalized, errors = events.normalize(raw, now)
            if errors:
                problems += [f"event {index}: {error}" for error in errors]
                continue
            body = json.dumps(normalized, ensure_ascii=False)
            messages.append((body, normalized["routing_key"], uuid.uuid4().hex))
        if problems:
            raise InvalidEvent("; ".join(problems))
        self._send(messages)
        self.published += len(messages)
        return len(messages)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when SIGTERM comes (:class:`Stopped`)."""
        with self.waiting():
            time.sleep(max(0.0, seconds))

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """A block SIGTERM may end at once (:class:`Stopped`): a wait that changes nothing."""
        if self.stopping:
            raise Stopped
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    # The program.

    def heartbeat(self, now: float) -> dict:
        """The connector's own event: alive, and what it did since the last one."""
        interval = self.conf["heartbeat_interval"]
        counts = {"events_published": self.published, **self.counters}
        return {
            "connector": "canopsis",
            "connector_name": "connectors",
            "event_type": "heartbeat",
            "source_type": "resource",
            "component": self.host,
            "resource": f"connector-{self.name}",
            "interval": interval * HEARTBEAT_SLACK,
            "output": f"{self.kind} {self.name}: {self.published} events sent since the last beat",
            "timestamp": now,
            "perf_data_array": [
                {"metric": metric, "value": value, "unit": None}
                for metric, value in sorted(counts.items())
            ],
        }

    def beat(self, now: float) -> None:
        beat = self.heartbeat(now)
        self.publish([beat])
        self.published = 0
        self.counters = dict.fromkeys(self.counters, 0)

    def run(self) -> int:
        """Steps and heartbeats until SIGTERM; the exit status."""
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        self.log.info(
            "started: %s %s, publishing to %s", self.kind, self.name, self.amqp_cfg["exchange"]
        )
        try:
            self.setup()
            next_beat = 0.0
            while not self.stopping:
                if time.time() >= next_beat:
                    self.beat(time.time())
                    next_beat = time.time() + self.conf["heartbeat_interval"]
                wait = self.step(time.time())
                self.sleep(min(wait, next_beat - time.time()))
        except Stopped:
            pass
        finally:
            self.close()
            self._disconnect()
        self.log.info("stopped")
        return 0

    def _on_term(self, signum: int, _frame: object) -> None:
        self.log.info("%s received: stopping", signal.Signals(signum).name)
        self.stopping = True
        if self._interruptible:
            raise Stopped

    def _send(self, messages: list[tuple[str, str, str]]) -> None:
        """Publish until the broker confirmed every message (same ids on each try)."""
        while True:
            with self.waiting():
                try:
                    publisher = self._connected()
                    with publisher.batch():
                        for body, key, message_id in messages:
                            publisher.to_events(body, key, message_id)
                    return
                except (*amqp.connection_errors(self._conn), OSError, TimeoutError) as exc:
                    self.log.warning("publish failed, trying again: %s", exc or type(exc).__name__)
                    self._disconnect()
                    time.sleep(RETRY_DELAY)

    def _connected(self) -> amqp.Publisher:
        """The publisher, connecting first (waiting for the broker, with backoff)."""
        if self._publisher is not None:
            return self._publisher

        def unreachable(exc: Exception, interval: float) -> None:
            self.log.warning("broker unreachable (%s): next try in %.0f s", exc, interval)

        self._conn.ensure_connection(
            errback=unreachable, interval_start=1, interval_step=2, interval_max=30
        )
        entry_declarer(self.amqp_cfg)(self._conn.default_channel)
        self._publisher = amqp.Publisher(self._conn, self.amqp_cfg)
        return self._publisher

    def _disconnect(self) -> None:
        """Drop the connection (without a handshake: the broker may be gone or blocking)."""
        self._conn.collect()
        self._conn, self._publisher = amqp.connection(self.amqp_cfg), None


def connector_class(kind: str) -> type[Connector]:
    """The one :class:`Connector` of module ``canopsis.connectors.<kind>`` (a dotted
    ``kind`` is a module path of its own)."""
    module_name = kind if "." in kind else f"canopsis.connectors.{kind}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise config.ConfigError(f"unknown connector {kind!r}: no module {module_name}") from None
    found = [
        cls
        for _n, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Connector) and cls.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise config.ConfigError(f"{module_name}: expected one Connector, found {len(found)}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    """``canopsis-connector KIND [NAME]``: run a connector until SIGTERM."""
    parser = argparse.ArgumentParser(prog="canopsis-connector", description=main.__doc__)
    parser.add_argument("kind", metavar="KIND", help="the connector (canopsis.connectors.KIND)")
    parser.add_argument("name", metavar="NAME", nargs="?", help="its conf (default: KIND)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    name = args.name or args.kind.rpartition(".")[2]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger(f"canopsis.connectors.{name}")
    try:
        cls = connector_class(args.kind)
        connector = cls(name, load_conf(name, cls.spec), config.load("amqp"))
    except config.ConfigError as exc:
        log.error("%s", exc)
        return 2
    return connector.run()
