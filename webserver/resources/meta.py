"""``/api/v2/version`` and ``/api/v2/healthcheck``: the two routes open without credentials.

The healthcheck answers::

    {"status": "ok" | "degraded" | "down", "database": "up" | "down",
     "broker": "up" | "blocked" | "down", "engines": {program: supervisord state}}

- ``database``: a ``ping`` to MongoDB.
- ``broker``: whether the broker takes a publish now, checked on the
  webserver's own broker connection (:meth:`EventSender.state`): ``blocked``
  while it refuses publishes (a disk or memory alarm: events cannot be sent,
  the rest of the API is served), ``down`` when it cannot be reached.
- ``engines``: the state of each supervisord program whose name starts with
  ``engine-``; they count as up when all are ``RUNNING`` or none is known.
  When supervisord does not answer, ``engines`` is ``{}`` and
  ``"supervisord": "down"`` is added, but that alone does not make the check
  fail: the API and its data are still served (the webserver may run outside
  supervisord, in development or behind another process manager), and a
  load balancer should not take it out of service for it.
- ``stalled``: present when an engine runs but makes no progress, ``{report id
  "<engine>/<host>/<worker>": why}``, from the reports every engine process
  writes about itself (:mod:`canopsis.runtime.enginehealth`): batches failing again
  and again, messages waiting while nothing is acknowledged, or no report
  for two minutes.

200 with ``"status": "ok"`` when the database and the broker are up and no
known engine is in another state than ``RUNNING``; 200 with ``"status":
"degraded"`` when besides an engine is stalled (the API serves, the pipeline
does not move) or the broker is blocked (it refuses publishes: events cannot be
sent); 503 with ``"status": "down"`` otherwise.
"""

import logging
import time
import xmlrpc.client
from typing import Any

import falcon

from canopsis import __version__
from canopsis.ops import supervisor
from canopsis.runtime import enginehealth
from canopsis.webserver.api import Api

log = logging.getLogger("canopsis.webserver")


class Version:
    auth_required = False

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"name": "canopsis", "version": __version__}


class Healthcheck:
    auth_required = False

    def __init__(self, api: Api, socket: str | None = None) -> None:
        self.api = api
        self.socket = socket

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body: dict[str, Any] = {
            "status": "ok",
            "database": self._database(),
            "broker": self.api.sender.state(),
            "engines": {},
        }
        try:
            processes = supervisor.processes(self.socket)
            body["engines"] = {
                p.fullname: p.state for p in processes if p.name.startswith("engine-")
            }
        except (supervisor.SupervisorError, xmlrpc.client.Fault) as exc:
            log.warning("supervisord: %s", exc)
            body["supervisord"] = "down"
        engines_up = all(state == "RUNNING" for state in body["engines"].values())
        if body["database"] == "up":
            stalled = self._stalled()
            if stalled:
                body["stalled"] = stalled
                body["status"] = "degraded"
        if body["database"] != "up" or body["broker"] == "down" or not engines_up:
            body["status"] = "down"
            resp.status = falcon.HTTP_503
        elif body["broker"] == "blocked":
            body["status"] = "degraded"
        resp.media = body

    def _stalled(self) -> dict[str, str]:
        try:
            return enginehealth.problems(enginehealth.reports(self.api.db), time.time())
        except Exception as exc:
            log.warning("healthcheck: engine reports: %s", str(exc).splitlines()[0][:160])
            return {}

    def _database(self) -> str:
        try:
            self.api.db.command("ping")
            return "up"
        except Exception as exc:
            log.warning("healthcheck: database: %s", str(exc).splitlines()[0][:160])
            return "down"


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/api/v2/version", Version()), ("/api/v2/healthcheck", Healthcheck(api))]


_HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
        "database": {"type": "string", "enum": ["up", "down"]},
        "broker": {"type": "string", "enum": ["up", "blocked", "down"]},
        "engines": {"type": "object", "additionalProperties": {"type": "string"}},
        "supervisord": {"type": "string", "enum": ["down"]},
        "stalled": {
            "type": "object",
            "description": "engine report id (engine/host/worker) -> why it makes no progress",
            "additionalProperties": {"type": "string"},
        },
    },
    "required": ["status", "database", "broker", "engines"],
    "additionalProperties": True,
}

OPENAPI = {
    "/api/v2/version": {
        "get": {
            "summary": "The name and version of canopsis (no credentials needed)",
            "operationId": "getVersion",
            "security": [],
            "responses": {
                "200": {
                    "description": "The version",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                },
                                "required": ["name", "version"],
                                "additionalProperties": True,
                            }
                        }
                    },
                }
            },
        }
    },
    "/api/v2/healthcheck": {
        "get": {
            "summary": "Whether the database, the broker and the engines are up (no credentials)",
            "operationId": "getHealthcheck",
            "security": [],
            "responses": {
                "200": {
                    "description": "Everything is up (ok), or degraded: an engine is "
                    "stalled, or the broker refuses publishes (broker blocked: events cannot "
                    "be sent)",
                    "content": {"application/json": {"schema": _HEALTH}},
                },
                "503": {
                    "description": "Something is down; the body says what",
                    "content": {"application/json": {"schema": _HEALTH}},
                },
            },
        }
    },
}
