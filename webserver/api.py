"""What the resources share: the configuration, the database, the broker."""

import logging
import threading
from dataclasses import dataclass, field

from canopsis.webserver.errors import Unavailable
from configobj import ConfigObj
from pymongo.database import Database

from canopsis import amqp, auth, engine, ingestkeys, paths, storage

log = logging.getLogger("canopsis.webserver")


class EventSender:
    """Publishes events to ``canopsis.events``, confirmed by the broker (a request's together).

    One connection per process, opened at the first use and again after a
    failure; a broker that cannot be reached is a 503 for the request.
    """

    def __init__(self, cfg: ConfigObj) -> None:
        self.cfg = cfg
        self.lock = threading.Lock()
        self.conn = None
        self.publisher: amqp.Publisher | None = None

    def send(self, messages: list[tuple[str, str, str]]) -> None:
        """Publish ``(body, routing_key, message_id)`` triples; Unavailable on a broker failure."""
        with self.lock:
            try:
                if self.publisher is None:
                    self._open()
                with self.publisher.batch():
                    for body, key, message_id in messages:
                        self.publisher.to_events(body, key, message_id)
            except Exception as exc:
                self._close()
                log.warning("broker: %s", exc)
                raise Unavailable("the broker") from exc

    def ping(self) -> bool:
        """True when the broker answers (the events exchange exists), else False."""
        with self.lock:
            try:
                if self.publisher is None:
                    self._open()
                channel = self.conn.default_channel
                channel.exchange_declare(exchange=self.cfg["exchange"], type="topic", passive=True)
                return True
            except Exception as exc:
                self._close()
                log.warning("broker: %s", exc)
                return False

    def _open(self) -> None:
        conn = amqp.connection(self.cfg)
        conn.ensure_connection(max_retries=1, interval_start=0.5)
        engine.entry_declarer(self.cfg)(conn.default_channel)
        self.conn, self.publisher = conn, amqp.Publisher(conn, self.cfg)

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.release()
            except Exception as exc:  # already broken: nothing more to release
                log.debug("closing the broker connection: %s", exc)
        self.conn = self.publisher = None


@dataclass
class Api:
    """Handed to every resource."""

    cfg: ConfigObj
    db: Database
    sender: EventSender
    prepared: bool = field(default=False)

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
        self.sync_ingest_keys()
        self.prepared = True

    def sync_ingest_keys(self) -> None:
        """Rewrite the ingest service's key file (:mod:`canopsis.ingestkeys`); errors are logged."""
        ingestkeys.sync(self.db)
