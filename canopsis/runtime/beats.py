"""Between batches: each engine's beat, under its lease, and its check about itself.

Each engine publishes every beat a ``check`` event about itself to
``canopsis.events`` (connector ``canopsis``, connector_name ``engines``,
component the host, resource ``engine-<name>``) with the perf data
``events_per_second``, ``mean_processing_ms``, ``errors`` (exceptions, refused
events and failed batches) and, for the engine that reads the queue,
``queue_depth``. Its ``state`` is 3 and its ``output`` says why while the
engine is stalled; else 1 or 2 when the time per event or the queue depth
crosses the warning or critical threshold of the ``[perf]`` section of its
conf, the output saying which (``alerts: 12.3 ms per event (warning above
10), queue 5,400 (critical above 5,000)``); else 0 and ``ok``. A check, so a
slow or stalled engine becomes an alarm on its entity like any other.

An engine run as several processes does its ``beat()`` once per interval, not
once per process: before each beat, a process takes or renews the engine's
lease (:mod:`canopsis.runtime.lease`, for ``2 * beat_interval``) and only the holder
runs ``beat()``; every process still publishes its own check. A holder
that dies is replaced within two intervals; one stopped by SIGTERM releases
the lease, so another process takes it at its next beat. Taking and losing a
lease are logged.
"""

import logging
import os
import time
from collections.abc import Callable

from pymongo.database import Database
from pymongo.errors import PyMongoError

from canopsis.runtime import enginehealth
from canopsis.runtime.chain import Chain, Stats
from canopsis.runtime.engine import Engine, EngineConf, short_error
from canopsis.runtime.lease import Lease, holder_id

log = logging.getLogger("canopsis.engine")


class Beats:
    """The beats of a chain's engines in one process, each once per ``beat_interval``."""

    def __init__(self, chain: Chain, db: Database, host: str, worker: int | None) -> None:
        self.chain = chain
        self.host = host
        now = time.monotonic()
        self.next_beat = {c.name: now + c.beat_interval for c in chain.confs}
        #: this process in the leases (:mod:`canopsis.runtime.lease`)
        self.holder = holder_id(host, os.getpid(), worker)
        self.leases = {
            c.name: Lease(db, c.name, self.holder, 2 * c.beat_interval) for c in chain.confs
        }
        #: the engines whose beat lease this process holds
        self.leading: set[str] = set()

    def run(
        self,
        now: float,
        health: tuple[int, str],
        depth: Callable[[], int],
        send: Callable[[dict], None],
    ) -> None:
        """The beats due at ``now``; ``health``: the chain's (see
        :func:`canopsis.runtime.enginehealth.assess`), ``depth()``: the messages waiting for
        the first engine, ``send``: publishes a check."""
        for engine, conf in zip(self.chain.engines, self.chain.confs, strict=True):
            if now < self.next_beat[engine.name]:
                continue
            self.next_beat[engine.name] = now + conf.beat_interval
            stats = self.chain.stats[engine.name]
            if self.lead(engine.name):
                try:
                    engine.beat(time.time())
                except Exception:
                    log.exception("%s: beat failed", engine.name)
                    stats.errors += 1
            waiting = depth() if engine is self.chain.engines[0] else None
            send(self._check(engine, conf, stats, now, health, waiting))

    def _check(
        self,
        engine: Engine,
        conf: EngineConf,
        stats: Stats,
        now: float,
        health: tuple[int, str],
        depth: int | None,
    ) -> dict:
        """The check of ``engine`` about itself; its stats and counters start again."""
        state, output = health
        if state == enginehealth.STATE_OK:
            state, output = conf.perf.assess(engine.name, stats.ms_per_event, depth)
        check = perf_event(
            engine.name,
            stats,
            time.time(),
            now - stats.since,
            self.host,
            depth,
            engine.counters,
            state,
            output,
        )
        stats.reset(now)
        engine.counters.clear()
        return check

    def lead(self, name: str) -> bool:
        """Take or renew the beat lease of engine ``name``: True when this process holds it."""
        try:
            held = self.leases[name].acquire(time.time())
        except PyMongoError as exc:
            log.warning("beat lease of %s not renewed (MongoDB: %s)", name, short_error(exc))
            held = False
        if held and name not in self.leading:
            log.info("beat lease of %s taken", name)
            self.leading.add(name)
        elif not held and name in self.leading:
            log.info("beat lease of %s lost", name)
            self.leading.discard(name)
        return held

    def release(self) -> None:
        """Give up the beat leases held, so another process takes them at once."""
        for name in sorted(self.leading):
            try:
                self.leases[name].release()
            except PyMongoError as exc:
                log.warning("beat lease of %s not released (MongoDB: %s)", name, short_error(exc))
            else:
                log.info("beat lease of %s released", name)
        self.leading.clear()


def perf_event(
    engine: str,
    stats: Stats,
    now: float,
    elapsed: float,
    host: str,
    depth: int | None,
    counters: dict[str, int] | None = None,
    state: int = enginehealth.STATE_OK,
    output: str = "ok",
) -> dict:
    """The self-monitoring check of ``engine`` with its perf data (``counters``: the engine's
    own); ``state`` and ``output`` say how it goes (stalled: :mod:`canopsis.runtime.enginehealth`,
    slow: :class:`~canopsis.runtime.engine.Thresholds`)."""
    metrics = [
        {
            "metric": "events_per_second",
            "value": stats.events / elapsed if elapsed > 0 else 0.0,
            "unit": "1/s",
        },
        {
            "metric": "mean_processing_ms",
            "value": stats.ms_per_event,
            "unit": "ms",
        },
        {"metric": "errors", "value": stats.errors, "unit": None},
    ]
    if depth is not None:
        metrics.append({"metric": "queue_depth", "value": depth, "unit": None})
    for name, value in sorted((counters or {}).items()):
        metrics.append({"metric": name, "value": value, "unit": None})
    return {
        "connector": "canopsis",
        "connector_name": "engines",
        "event_type": "check",
        "source_type": "resource",
        "component": host,
        "resource": f"engine-{engine}",
        "state": state,
        "output": output,
        "timestamp": now,
        "perf_data_array": metrics,
    }
