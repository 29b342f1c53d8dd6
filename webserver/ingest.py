"""The emergency ingest API: events reach RabbitMQ while MongoDB or the webserver is down.

A second, tiny falcon application served by its own gunicorn (supervisord
program ``ingest``, ``canopsis.webserver.ingest:create_app()``), configured
by ``etc/ingest.conf``. It needs only the broker:

- ``POST /event``: one event or a list, validated and published exactly as
  ``POST /api/v2/event`` does (:func:`canopsis.webserver.resources.events.submit`),
  with the same answers: 202 ``{"accepted", "refused"}``, 400 with ``fields``.
- ``GET /health`` (no key): ``{"status", "broker"}``: 200 ``ok``/``up`` when the
  broker takes publishes, 200 ``degraded``/``blocked`` while it refuses them (a
  disk or memory alarm: ``POST /event`` answers 503 naming it), 503
  ``down``/``down`` when it cannot be reached.

Keys are the API keys of canopsis (``Authorization: Key <key>`` or
``X-Canopsis-Authkey``), with the operator or admin role, checked against the
key file the webserver keeps (:mod:`canopsis.domain.ingestkeys`), never against
MongoDB: nothing here opens a database connection. A key acts with the role
the file gives it (the lesser of its own and its creator's), and an action is
authored by the key that sent it, as through the REST API
(``key:<key id>/<description>``, :func:`canopsis.domain.auth.key_author`), whatever
its ``author`` says. Errors
have the REST API's one shape (:mod:`canopsis.webserver.errors`).
"""

from pathlib import Path

import falcon
from configobj import ConfigObj

from canopsis.domain import auth, ingestkeys
from canopsis.ops import config
from canopsis.webserver.api import EventSender
from canopsis.webserver.errors import ApiError
from canopsis.webserver.http import new_app, read_json
from canopsis.webserver.middleware import BodyLimit, SecurityHeaders, credentials
from canopsis.webserver.resources.events import submit

ROLES = ("operator", "admin")
#: the service's status for each state of the broker (:meth:`EventSender.state`)
STATUS = {"up": "ok", "blocked": "degraded", "down": "down"}


class KeyCheck:
    """A key from the key file for every route but ``/health``."""

    def __init__(self, keys_path: Path | None) -> None:
        self.keys_path = keys_path

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        if resource is None or not getattr(resource, "auth_required", True):
            return
        found = credentials(req)
        if found is None or found[0] != "key":
            raise ApiError(401, "authentication required: send an API key")
        entry = ingestkeys.check(ingestkeys.read(self.keys_path), found[1])
        if entry is None:
            raise ApiError(401, "invalid, expired or revoked credentials")
        if entry.get("role") not in ROLES:
            raise ApiError(403, f"this needs the operator role; the key has {entry.get('role')}")
        # a file written before keys had an author in it: the key's id alone
        key_id = found[1].partition(".")[0]
        req.context.author = entry.get("author") or auth.key_author({"_id": key_id})


class Event:
    def __init__(self, sender: EventSender) -> None:
        self.sender = sender

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_202
        resp.media = submit(read_json(req), self.sender, req.context.author)


class Health:
    auth_required = False

    def __init__(self, sender: EventSender) -> None:
        self.sender = sender

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        broker = self.sender.state()
        resp.status = falcon.HTTP_503 if broker == "down" else falcon.HTTP_200
        resp.media = {"status": STATUS[broker], "broker": broker}


def create_app(
    cfg: ConfigObj | None = None,
    sender: EventSender | None = None,
    keys_path: Path | None = None,
) -> falcon.App:
    """The application for ``etc/ingest.conf`` (the arguments replace what tests provide)."""
    cfg = cfg if cfg is not None else config.load("ingest")
    sender = sender if sender is not None else EventSender(config.load("amqp"))
    app = new_app(
        [SecurityHeaders(), BodyLimit(cfg["server"]["max_body_bytes"]), KeyCheck(keys_path)]
    )
    app.add_route("/event", Event(sender))
    app.add_route("/health", Health(sender))
    return app
