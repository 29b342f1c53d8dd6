"""The engine contract: what every engine is, what it may call, and its configuration.

An engine is one module ``canopsis.engines.<name>`` with one :class:`Engine`
subclass: ``work(event)`` returns the event(s) to pass on (a dict, a list of
dicts, a :class:`Routed` or None), ``beat(now)`` runs every ``beat_interval``
seconds, and ``flush()`` writes what the events worked since the last flush
caused (``bulk_write``). Besides its own writes an engine sends two things,
through the :class:`Outbox` that what runs it gives it (:meth:`Engine.attach`,
before ``setup``): new events to ``canopsis.events`` (:meth:`Engine.emit`, from
``beat``) and events it cannot take, to the dead letters with the reasons
(:meth:`Engine.refuse`).

Its settings are ``etc/engines/<name>.conf`` (spec
``canopsis/specs/engine.spec``): ``beat_interval``, ``numprocs``,
``batch_size``, ``batch_ms``, an ``[options]`` section checked against the
class's :attr:`Engine.options_spec`, and a ``[perf]`` section: the thresholds
of the engine's own check (:class:`Thresholds`). Its place in the chain is
declared once, for every engine, in ``etc/engines.conf``
(:func:`canopsis.ops.config.load_chain`).

:mod:`canopsis.runtime.chain` runs the engines of one process on a batch, in
memory; :mod:`canopsis.runtime.runner` feeds it from the broker.
"""

import importlib
import inspect
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from configobj import ConfigObj, flatten_errors, get_extra_values
from configobj.validate import Validator
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    OperationFailure,
    WriteConcernError,
)

from canopsis.domain.event import FieldError
from canopsis.ops import config, paths
from canopsis.runtime import enginehealth

log = logging.getLogger("canopsis.engine")


class Retry(Exception):
    """Raised by ``flush`` when a write met a concurrent change: the batch is worked again."""


class EngineFailure(Exception):
    """``error`` raised by ``engine``'s ``prepare`` or ``flush`` (the chain names the engine)."""

    def __init__(self, engine: str, error: BaseException) -> None:
        super().__init__(f"engine {engine}: {type(error).__name__}: {short_error(error)}")
        self.engine = engine
        self.error = error


#: MongoDB error codes a later try can get past: network, elections, shutdowns, time limits,
#: write conflicts (the codes MongoDB itself labels retryable), and a state of the server an
#: administrator puts right (no permission, no disk space), which must stall, not dead-letter
TRANSIENT_CODES = frozenset(
    {
        "HostUnreachable": 6,
        "HostNotFound": 7,
        "Unauthorized": 13,
        "LockTimeout": 24,
        "MaxTimeMSExpired": 50,
        "WriteConcernFailed": 64,
        "NetworkTimeout": 89,
        "ShutdownInProgress": 91,
        "WriteConflict": 112,
        "PrimarySteppedDown": 189,
        "ExceededTimeLimit": 262,
        "SocketException": 9001,
        "NotWritablePrimary": 10107,
        "InterruptedAtShutdown": 11600,
        "Interrupted": 11601,
        "InterruptedDueToReplStateChange": 11602,
        "NotPrimaryNoSecondaryOk": 13435,
        "NotPrimaryOrSecondary": 13436,
        "OutOfDiskSpace": 14031,
    }.values()
)


def transient(error: BaseException) -> bool:
    """Whether trying the same writes again can succeed: the database unreachable, a primary
    changing, a write concern not met, a write conflict. A document too large, a validation,
    a duplicate key or an engine's bug fails the same way every time."""
    if isinstance(error, ConnectionFailure | WriteConcernError):
        return True
    if isinstance(error, BulkWriteError):
        details = error.details or {}
        if details.get("writeConcernErrors"):
            return True
        errors = details.get("writeErrors") or []
        return bool(errors) and all(e.get("code") in TRANSIENT_CODES for e in errors)
    if isinstance(error, OperationFailure):
        return (
            error.code in TRANSIENT_CODES
            or error.has_error_label("TransientTransactionError")
            or error.has_error_label("RetryableWriteError")
        )
    return False


@dataclass(frozen=True)
class Thresholds:
    """When an engine's own check is a warning (1) or critical (2): the ``[perf]`` section of
    its conf; 0 turns a threshold off."""

    warn_ms_per_event: float = 0.0
    crit_ms_per_event: float = 0.0
    warn_queue: int = 0
    crit_queue: int = 0

    def assess(self, engine: str, ms_per_event: float, depth: int | None) -> tuple[int, str]:
        """``(state, output)`` of ``engine`` taking ``ms_per_event`` with ``depth`` messages
        waiting (None: not its queue)."""
        measures = [
            (
                ms_per_event,
                f"{ms_per_event:,.1f}" if ms_per_event >= 0.1 else f"{ms_per_event:.2g}",
                " ms per event",
                self.warn_ms_per_event,
                self.crit_ms_per_event,
            )
        ]
        if depth is not None:
            measures.append((depth, f"queue {depth:,}", "", self.warn_queue, self.crit_queue))
        state, parts = enginehealth.STATE_OK, []
        for value, shown, unit, warn, crit in measures:
            if crit and value > crit:
                level, said = 2, f" (critical above {crit:,g})"
            elif warn and value > warn:
                level, said = 1, f" (warning above {warn:,g})"
            else:
                level, said = enginehealth.STATE_OK, ""
            state = max(state, level)
            parts.append(f"{shown}{unit}{said}")
        if state == enginehealth.STATE_OK:
            return state, "ok"
        return state, f"{engine}: " + ", ".join(parts)


@dataclass(frozen=True)
class EngineConf:
    """An engine's settings; ``next``: the engine after it in the chain ('' for none), set by
    :func:`canopsis.runtime.chain.build_chain` from the chain's declaration."""

    name: str
    next: str
    beat_interval: float
    numprocs: int
    batch_size: int
    batch_ms: int
    options: dict[str, Any]
    path: str
    perf: Thresholds = Thresholds()


def conf_path(name: str):
    return paths.etc("engines", f"{name}.conf")


def load_conf(name: str) -> EngineConf:
    """``etc/engines/<name>.conf``, checked against ``engine.spec`` (``next`` left '').

    A ``next`` kept from an older version (the place in the chain was then written in
    each engine's file) still loads; it is not used, and said so.
    """
    path = conf_path(name)
    cfg = config.load("engine", path)
    if cfg["next"].strip():
        log.warning(
            "%s: next = %r is not used: the chain is declared in %s",
            path,
            cfg["next"].strip(),
            paths.etc("engines.conf"),
        )
    perf = cfg["perf"]
    for measure in ("ms_per_event", "queue"):
        warn, crit = perf[f"warn_{measure}"], perf[f"crit_{measure}"]
        if warn and crit and crit < warn:
            raise config.ConfigError(
                f"{path}: perf.crit_{measure} = {crit}: expected 0 (off) or at least "
                f"perf.warn_{measure} ({warn})"
            )
    return EngineConf(
        name=name,
        next="",
        beat_interval=cfg["beat_interval"],
        numprocs=cfg["numprocs"],
        batch_size=cfg["batch_size"],
        batch_ms=cfg["batch_ms"],
        options=dict(cfg["options"]),
        path=str(path),
        perf=Thresholds(**perf),
    )


def check_options(path: str, options: dict[str, Any], spec: str) -> dict[str, Any]:
    """``options`` converted and checked against an engine's spec lines; ConfigError if not."""
    cfg = ConfigObj(options, configspec=spec.splitlines(), interpolation=False)
    result = cfg.validate(Validator(), preserve_errors=True)
    problems = []
    for _sections, key, error in flatten_errors(cfg, result):
        if error is False:
            problems.append(f"options.{key}: missing")
        else:
            problems.append(f"options.{key} = {options.get(key)!r}: {error}")
    problems += [f"options.{key}: unknown key" for _s, key in get_extra_values(cfg)]
    if problems:
        raise config.ConfigError(f"{path}: " + "; ".join(problems))
    return dict(cfg)


@dataclass(frozen=True)
class Routed:
    """Returned by ``work`` to send an event to ``engine`` instead of the next one."""

    engine: str
    event: dict


#: ``refuse(engine, body, reasons, routing_key)``: see :class:`Outbox`
Refuse = Callable[[str, bytes | str, list[FieldError], str | None], None]


@dataclass(frozen=True)
class Outbox:
    """What an engine sends besides its own writes, given by what runs it (:meth:`Engine.attach`).

    ``emit(event)`` publishes a new event to ``canopsis.events`` at once, confirmed by the
    broker (the runner gives it); ``refuse(engine, body, reasons, routing_key)`` adds a
    dead letter to the batch in progress, written with the batch's other writes (the chain
    gives it). None: what runs the engine does not offer it. ``place`` names the process.
    """

    emit: Callable[[dict], None] | None = None
    refuse: Refuse | None = None
    #: where the engine runs, the same across its restarts (``<host>/<worker or ->``); empty
    #: when what runs it does not say
    place: str = ""


class Engine:
    """Base of every engine. Subclasses override :meth:`work` and, if needed, the others."""

    #: configobj spec lines of the ``[options]`` section
    options_spec: ClassVar[str] = ""
    #: True: :meth:`work` receives the :class:`~canopsis.runtime.amqp.Delivery` (raw body)
    raw: ClassVar[bool] = False

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        self.name = name
        self.options = options
        self.db = db
        #: what the engine counts itself (dropped, ignored, ...), published each beat then reset
        self.counters: Counter[str] = Counter()
        #: what the engine may send (see :meth:`attach`)
        self.outbox = Outbox()

    def attach(self, outbox: Outbox) -> None:
        """Take ``outbox`` for :meth:`emit` and :meth:`refuse`: called by what runs the engine
        (the chain, then the runner), before :meth:`setup`."""
        self.outbox = outbox

    def setup(self) -> None:
        """Create what the engine needs in MongoDB (indexes set by its options, caches).

        Run once at start, before any message, and again while MongoDB is
        unreachable (so it must be idempotent).
        """

    def prepare(self, events: list[Any]) -> None:
        """Called with everything a batch brings to this engine, before ``work`` on each.

        An engine loads here, in one query, what the batch will need.
        """

    def work(self, event: Any) -> dict | list[dict] | Routed | list[dict | Routed] | None:
        raise NotImplementedError

    def beat(self, now: float) -> None:
        """Periodic work, every ``beat_interval`` seconds, between batches."""

    def flush(self) -> None:
        """Write what the events worked since the last flush caused."""

    def discard(self) -> None:
        """Forget the pending writes of a batch that failed (it will be redelivered), and
        what the engine believes stored: writes the database answered are lost if it
        crashed before the batch was made durable."""

    def emit(self, event: dict) -> None:
        """Publish a new event to ``canopsis.events`` now (from ``beat``), confirmed by the broker.

        It enters the pipeline like any event sent to canopsis; an error raised
        here fails the beat, which runs again at the next interval.
        """
        if self.outbox.emit is None:
            raise RuntimeError(f"engine {self.name} is not attached to a runner")
        self.outbox.emit(event)

    def refuse(
        self, body: bytes | str, reasons: list[FieldError], routing_key: str | None = None
    ) -> None:
        """Send one event to the dead letters with the reasons (``routing_key``: the message's)."""
        if self.outbox.refuse is None:
            raise RuntimeError(f"engine {self.name} is not attached to a chain")
        self.outbox.refuse(self.name, body, reasons, routing_key)


def engine_class(name: str) -> type[Engine]:
    """The one :class:`Engine` subclass of ``canopsis.engines.<name>``."""
    try:
        module = importlib.import_module(f"canopsis.engines.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"canopsis.engines.{name}":
            raise
        raise config.ConfigError(
            f"unknown engine {name!r}: no module canopsis.engines.{name}"
        ) from None
    found = [
        cls
        for _n, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Engine) and cls is not Engine and cls.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise config.ConfigError(
            f"canopsis.engines.{name}: expected one Engine subclass, found {len(found)}"
        )
    return found[0]


def short_error(exc: BaseException, size: int = 160) -> str:
    """The start of an error's message (pymongo's carry a whole topology description; a
    bulk write's, its write errors)."""
    if isinstance(exc, BulkWriteError) and exc.details and exc.details.get("writeErrors"):
        found = {(e.get("errmsg"), e.get("code")) for e in exc.details["writeErrors"]}
        text = "; ".join(f"{message} (code {code})" for message, code in sorted(found, key=str))
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= size else text[: size - 3] + "..."
