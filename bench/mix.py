"""The event mix of the pipeline benchmark, and what canopsis must write for it.

:class:`Mix` generates, from a seed, the events 20 connectors send about
10,000 entities (1,000 components of 10 resources): 80 % ``check`` events of
which about 10 % change the entity's state, 15 % ``perf`` events of 3 metrics,
5 % operator actions on open alarms. Before the measured stream,
:meth:`Mix.seed_events` opens an alarm on a share of the entities, and the
actions only ever target those, so that every action meets an open alarm
whatever the order the workers apply them in. The actions used (ack, comment,
declareticket, assocticket, snooze for an hour) change the counts of steps the
same way in any order.

Every check's ``output`` carries the event's sequence number, so that a
reader of an alarm knows which check it reflects (the latency probes). A
``perf`` event's timestamp is one second after the previous one of its entity,
so that no two points of a metric fall in the same second (a point is stored at
its whole second: two in one second would be one).

:func:`expected` replays a published stream through canopsis' own pure rules
(:func:`canopsis.domain.event.normalize`, :func:`canopsis.domain.alarm.apply_event`, the
event store's rule) and gives the counts MongoDB must hold afterwards.
"""

import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from canopsis.domain import alarm, event

CONNECTOR_TYPES = ("nagios", "icinga", "zabbix", "centreon")
ACTIONS = ("ack", "comment", "declareticket", "assocticket", "snooze")
METRICS = ("cpu", "mem", "load")
SNOOZE_SECONDS = 3600
#: a perf event's timestamps start this long before the run (always in the past)
PERF_PAST_SECONDS = 3000


@dataclass(frozen=True)
class Shape:
    components: int = 1000
    resources: int = 10
    connectors: int = 20
    check: float = 0.80
    change: float = 0.10
    perf: float = 0.15
    #: share of the entities given an open alarm before the measured stream
    seeded: float = 0.2

    @property
    def entities(self) -> int:
        return self.components * self.resources


class Mix:
    """A reproducible stream of events; ``tag`` makes the outputs of one run its own."""

    def __init__(self, shape: Shape = Shape(), seed: int = 1, tag: str = "bench") -> None:
        self.shape = shape
        self.rng = random.Random(seed)
        self.tag = tag
        self.seq = 0
        self.states = [0] * shape.entities
        self.perf_seconds = [0] * shape.entities
        self.perf_base = int(time.time()) - PERF_PAST_SECONDS
        step = max(1, round(1 / shape.seeded)) if shape.seeded else 0
        self.seeded = list(range(0, shape.entities, step)) if step else []

    def identity(self, index: int) -> dict:
        """The connector and entity fields of entity ``index``."""
        shape = self.shape
        component = index // shape.resources
        number = component % shape.connectors
        kind = CONNECTOR_TYPES[number % len(CONNECTOR_TYPES)]
        return {
            "connector": kind,
            "connector_name": f"{kind}-{number}",
            "source_type": "resource",
            "component": f"host-{component:04d}",
            "resource": f"svc-{index % shape.resources}",
        }

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def check(self, index: int, state: int) -> dict:
        self.states[index] = state
        seq = self._next_seq()
        return {
            **self.identity(index),
            "event_type": "check",
            "state": state,
            "output": f"{self.tag} {seq}",
        }

    def seed_events(self) -> list[dict]:
        """A major check on every seeded entity: each opens an alarm."""
        return [self.check(index, 2) for index in self.seeded]

    def next(self) -> dict:
        """The next event of the stream."""
        rng, shape = self.rng, self.shape
        roll = rng.random()
        if roll < shape.check:
            index = rng.randrange(shape.entities)
            state = self.states[index]
            if rng.random() < shape.change:
                state = rng.choice([s for s in range(4) if s != state])
            return self.check(index, state)
        if roll < shape.check + shape.perf or not self.seeded:
            return self.perf(rng.randrange(shape.entities))
        return self.action(rng.choice(self.seeded), rng.choice(ACTIONS))

    def perf(self, index: int) -> dict:
        self._next_seq()
        self.perf_seconds[index] += 1
        return {
            **self.identity(index),
            "event_type": "perf",
            "timestamp": self.perf_base + self.perf_seconds[index],
            "perf_data_array": [
                {"metric": name, "value": round(self.rng.uniform(0, 100), 2), "unit": "%"}
                for name in METRICS
            ],
        }

    def action(self, index: int, kind: str) -> dict:
        seq = self._next_seq()
        ev = {
            **self.identity(index),
            "event_type": kind,
            "author": "bench",
            "output": f"{self.tag} action {seq}",
        }
        if kind == "snooze":
            ev["duration"] = SNOOZE_SECONDS
        elif kind in ("declareticket", "assocticket"):
            ev["ticket"] = f"T-{seq}"
        return ev


def output_seq(output: str | None, tag: str) -> int | None:
    """The sequence number a check's output carries (None: not one of run ``tag``)."""
    if not output or not output.startswith(tag + " "):
        return None
    try:
        return int(output[len(tag) + 1 :])
    except ValueError:
        return None


@dataclass(frozen=True)
class Expected:
    """What MongoDB must hold after a stream (the benchmark's own entities only)."""

    events: int
    by_type: dict[str, int]
    connectors: int
    components: int
    resources: int
    alarms: int
    steps: int
    alarm_events: int
    events_log: int
    points: int

    def as_dict(self) -> dict:
        return asdict(self)


def expected(stream: Iterable[tuple[dict, float]], cfg: alarm.AlarmConfig) -> Expected:
    """The counts canopsis must write for ``(event, publish time)`` pairs in publish order."""
    alarms: dict[str, dict | None] = {}
    last_stored: dict[str, int] = {}
    by_type: Counter[str] = Counter()
    connectors, components, resources = set(), set(), set()
    events_log = points = 0
    for number, (raw, published) in enumerate(stream):
        ev, problems = event.normalize(raw, published)
        if problems:
            raise ValueError(f"the mix made an invalid event {raw}: {problems}")
        kind = ev["event_type"]
        by_type[kind] += 1
        eid = ev["entity_id"]
        connectors.add((ev["connector"], ev["connector_name"]))
        components.add(ev["component"])
        resources.add(eid)
        points += len(ev.get("perf_data_array") or [])
        if kind == "check":
            if last_stored.get(eid) != ev["state"]:
                last_stored[eid] = ev["state"]
                events_log += 1
        elif kind != "perf":
            events_log += 1
        outcome = alarm.apply_event(alarms.get(eid), ev, published, cfg, f"k{number}")
        if outcome.changed:
            alarms[eid] = outcome.alarm
    opened = [a for a in alarms.values() if a is not None]
    return Expected(
        events=sum(by_type.values()),
        by_type=dict(sorted(by_type.items())),
        connectors=len(connectors),
        components=len(components),
        resources=len(resources),
        alarms=len(opened),
        steps=sum(len(a["steps"]) + a["dropped_steps"] for a in opened),
        alarm_events=sum(a["events_count"] for a in opened),
        events_log=events_log,
        points=points,
    )
