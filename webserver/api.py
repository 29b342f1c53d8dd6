"""What the resources share: the configuration, the database, the broker."""

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

from configobj import ConfigObj
from pymongo.database import Database

from canopsis.domain import auth, ingestkeys
from canopsis.ops import paths
from canopsis.runtime import amqp, storage, topology
from canopsis.webserver.errors import ApiError, Unavailable

log = logging.getLogger("canopsis.webserver")
#: how long a key's principal is kept (see :class:`KeyPrincipals`)
KEY_PRINCIPAL_S = 1.0


class EventSender:
    """Publishes events to ``canopsis.events``, confirmed by the broker (a request's together).

    One connection per process, opened at the first use and again after a
    failure. Each request first checks it with :meth:`canopsis.runtime.amqp.Publisher.probe`:
    a connection found dead (e.g. closed by the broker for heartbeats nothing
    answered while the process was idle) is replaced, once, before anything is
    published. A broker that cannot be reached, or that refuses publishes (a
    resource alarm, named in the message), is a 503 for the request within
    :data:`canopsis.runtime.amqp.SENDER_TIMEOUT` seconds or so.
    """

    def __init__(self, cfg: ConfigObj) -> None:
        self.cfg = cfg
        self.lock = threading.Lock()
        self.conn = None
        self.publisher: amqp.Publisher | None = None

    def send(self, messages: list[tuple[str, str, str]]) -> None:
        """Publish ``(body, routing_key, message_id)`` triples; a 503 when the broker fails."""
        with self.lock:
            try:
                publisher = self._ready()
                with publisher.batch():
                    for body, key, message_id in messages:
                        publisher.to_events(body, key, message_id)
            except amqp.Blocked as exc:
                raise ApiError(503, f"{exc}; retry later") from exc
            except Exception as exc:
                self._close()
                log.warning("broker: %s", exc)
                raise Unavailable("the broker") from exc

    def state(self) -> str:
        """``up`` when the broker takes publishes, ``blocked`` when it refuses them (a
        resource alarm), ``down`` when it cannot be reached."""
        with self.lock:
            try:
                self._ready()
                return "up"
            except amqp.Blocked:
                return "blocked"
            except Exception as exc:
                self._close()
                log.warning("broker: %s", exc)
                return "down"

    def _ready(self) -> amqp.Publisher:
        """The publisher, its connection checked (Blocked when the broker refuses publishes)."""
        if self.publisher is not None:
            try:
                self.publisher.probe()
                return self.publisher
            except amqp.Blocked:
                raise
            except Exception as exc:
                log.info("broker connection lost (%s): opening another", exc)
                self._close()
        conn = amqp.connection(self.cfg)
        try:
            conn.ensure_connection(max_retries=1, interval_start=0.5)
            topology.entry_declarer(self.cfg)(conn.default_channel)
            publisher = amqp.Publisher(conn, self.cfg, waits=False)
        except Exception:
            conn.collect()
            raise
        self.conn, self.publisher = conn, publisher
        publisher.probe()
        return publisher

    def _close(self) -> None:
        """Drop the connection (the socket only: after a failure the broker may answer nothing)."""
        if self.conn is not None:
            self.conn.collect()
        self.conn = self.publisher = None


class KeyPrincipals:
    """Who the API keys checked within the last :data:`KEY_PRINCIPAL_S` seconds act as, so
    that a client sending many requests costs the database one check a second, not two
    queries a request. A key revoked, or whose creator was disabled, deleted or demoted,
    by another process (a CLI, another web process) is refused within that time; by this
    one, at once (:meth:`Api.keys_changed`)."""

    def __init__(self, seconds: float = KEY_PRINCIPAL_S, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        #: sha256 of the key -> (until when, monotonic; its principal)
        self.kept: dict[bytes, tuple[float, auth.Principal]] = {}

    def get(self, db: Database, key: str) -> auth.Principal | None:
        """:func:`canopsis.domain.auth.key_principal`, kept a while when it is someone."""
        digest, now = hashlib.sha256(key.encode()).digest(), time.monotonic()
        until, who = self.kept.get(digest, (now, None))
        if until > now:
            return who
        who = auth.key_principal(db, key)
        if who is not None:
            if len(self.kept) >= self.size:
                self.kept.clear()
            self.kept[digest] = (now + self.seconds, who)
        return who

    def clear(self) -> None:
        self.kept.clear()


@dataclass
class Api:
    """Handed to every resource."""

    cfg: ConfigObj
    db: Database
    sender: EventSender
    prepared: bool = field(default=False)
    key_principals: KeyPrincipals = field(default_factory=KeyPrincipals)

    def prepare(self) -> None:
        """Once per process, at the first request: indexes, the install's first admin, the
        ingest service's key file."""
        if self.prepared:
            return
        storage.ensure_indexes(self.db)
        auth.ensure_indexes(self.db)
        initial = paths.etc("initial-admin.json")
        try:
            if auth.ensure_initial_admin(self.db, initial):
                log.info("created the first admin from %s", initial)
        except (OSError, ValueError, KeyError) as exc:
            log.error("first admin not created: %s: %s", initial, exc)
        self.keys_changed()
        self.prepared = True

    def keys_changed(self) -> None:
        """After a change of keys or users: forget the :class:`KeyPrincipals` and rewrite the
        ingest key file (:mod:`canopsis.domain.ingestkeys`)."""
        self.key_principals.clear()
        ingestkeys.sync(self.db)


class Resource:
    """A REST resource: what it answers, it reads and writes through ``api``."""

    def __init__(self, api: Api) -> None:
        self.api = api
