"""The falcon WSGI application served by gunicorn (``canopsis.webserver.app:create_app()``).

Routes are under ``/api/v2/``. The webservices of :data:`WEBSERVICES` are
served unless ``etc/webserver.conf`` switches them off in ``[webservices]``;
``meta`` (version, healthcheck) and ``auth`` are always served. Every route
needs a session or an API key except version and healthcheck
(:mod:`canopsis.webserver.middleware`); errors have one shape
(:mod:`canopsis.webserver.errors`). Every write is journaled
(:func:`canopsis.runtime.storage.journaled`): what the API answered as done survives a
crash of the database process.
"""

import importlib
from pathlib import Path

import falcon
from configobj import ConfigObj
from pymongo.database import Database

from canopsis.ops import config, paths
from canopsis.runtime import storage
from canopsis.webserver import console, openapi
from canopsis.webserver.api import Api, EventSender
from canopsis.webserver.http import new_app
from canopsis.webserver.middleware import (
    Authentication,
    BodyLimit,
    ConditionalGet,
    SecurityHeaders,
)

ALWAYS = ("meta", "auth")
#: webservice name -> module of canopsis.webserver.resources
WEBSERVICES = {
    "events": "events",
    "apikeys": "apikeys",
    "entities": "entities",
    "perfdata": "perfdata",
    "eventfilter": "eventfilter",
    "deadletters": "deadletters",
    "alarms": "alarms",
    "users": "users",
    "engines": "engines",
    "metrics": "metrics",
    "heartbeats": "heartbeats",
    "pbehaviors": "pbehaviors",
}


def private(req: falcon.Request) -> bool:
    """Whether the answer may carry a secret or personal data (a new key, a session, users)."""
    path = req.path
    return path.startswith(("/api/v2/auth/", "/api/v2/users")) or (
        req.method == "POST" and path == "/api/v2/apikeys"
    )


def check_webservices(cfg: ConfigObj) -> dict[str, bool]:
    """The ``[webservices]`` switches of ``webserver.conf``; ConfigError naming an unknown one."""
    switches = dict(cfg["webservices"])
    unknown = sorted(set(switches) - set(WEBSERVICES))
    if unknown:
        raise config.ConfigError(
            f"{paths.etc('webserver.conf')}: webservices.{unknown[0]}: unknown webservice; "
            f"known: {', '.join(sorted(WEBSERVICES))}"
        )
    return switches


def create_app(
    cfg: ConfigObj | None = None,
    db: Database | None = None,
    sender: EventSender | None = None,
    console_folder: Path | None = None,
) -> falcon.App:
    """The application for ``etc/webserver.conf`` (the arguments replace what tests provide),
    with the operator console (:mod:`canopsis.webserver.console`)."""
    cfg = cfg if cfg is not None else config.load("webserver")
    switches = check_webservices(cfg)
    db = db if db is not None else storage.journaled(storage.database())
    sender = sender if sender is not None else EventSender(config.load("amqp"))
    api = Api(cfg, db, sender)
    app = new_app(
        [
            SecurityHeaders(private, console.csp),
            ConditionalGet(),
            BodyLimit(cfg["server"]["max_body_bytes"]),
            Authentication(api),
        ]
    )
    enabled = [m for name, m in WEBSERVICES.items() if switches.get(name, True)]
    loaded = []
    for module_name in (*ALWAYS, *enabled):
        module = importlib.import_module(f"canopsis.webserver.resources.{module_name}")
        loaded.append(module)
        for path, resource in module.routes(api):
            app.add_route(path, resource)
    app.add_route(openapi.PATH, openapi.OpenApi(openapi.document(loaded)))
    console.install(app, console_folder)
    return app
