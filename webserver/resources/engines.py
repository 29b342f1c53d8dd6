"""``/api/v2/engines``: the supervisord programs and what the engines report about themselves.

- ``GET /api/v2/engines`` (viewer): ``chain``, the engines every event goes through in
  order (``chain`` of ``etc/engines.conf``; empty when that file cannot be read), and
  ``items``: every supervisord process (``name``,
  ``group``, ``state``, ``pid``, ``uptime`` in seconds, ``description``) and,
  for each engine program (a name starting with ``engine-``), ``runs``: the engines it
  runs fused, in the order of its command line, ``engines``:
  the last self-report of each engine it runs, grouped by engine name, one
  entry per host (``host``, ``entity_id``, ``metrics``: the last value of each
  metric seen within the last :data:`~canopsis.store.engines.WINDOW` seconds), and
  ``health``: what each of its engine processes last reported about its progress
  (:mod:`canopsis.runtime.enginehealth`), by report id: ``state`` (0, or 3 when
  stalled), ``output`` (why), ``failures`` (batches failed in a row),
  ``queue_depth`` and ``updated`` (epoch seconds). The engines a program
  runs come from its ``canopsis-engine`` command line, else from its name.
- ``POST /api/v2/engines/{program}/{action}`` (admin): ``start``, ``stop`` or
  ``restart`` a program (its name, ``group:name``, or a group); answers the
  processes' new state. An unknown program is 404.

supervisord is reached with :mod:`canopsis.ops.supervisor` on its unix socket in the
prefix (``var/run/supervisor.sock``, read at each request, or the ``socket`` a resource is
given); when it does not answer the request is 503 (:func:`canopsis.webserver.errors.install`).
"""

import re
import shlex
import xmlrpc.client

import falcon

from canopsis.domain.schemas import object_schema
from canopsis.ops import supervisor
from canopsis.ops.config import ConfigError, load_chain
from canopsis.runtime import enginehealth
from canopsis.store.engines import last_reports
from canopsis.webserver.api import Api
from canopsis.webserver.errors import ApiError
from canopsis.webserver.http import require
from canopsis.webserver.openapi import errors, json_response

ACTIONS = ("start", "stop", "restart")
#: what ``health`` answers of each engine report
HEALTH_FIELDS = ("engine", "host", "worker", "state", "output", "failures", "queue_depth")
#: supervisord fault codes (supervisor.xmlrpc.Faults)
BAD_NAME, NOT_RUNNING, ALREADY_STARTED = 10, 70, 60


def describe(process: supervisor.Process) -> dict:
    return {
        "name": process.name,
        "group": process.group,
        "state": process.state,
        "pid": process.pid,
        "uptime": process.uptime,
        "description": process.description,
    }


def engine_names(program: str, command: str | None) -> list[str]:
    """The engines a program runs: the arguments of ``canopsis-engine``, else its name."""
    if command:
        try:
            words = shlex.split(command)
        except ValueError:
            words = []
        if words and words[0].endswith("canopsis-engine"):
            names, skip = [], False
            for word in words[1:]:
                if skip:
                    skip = False
                elif word.startswith("-"):
                    skip = word == "--worker"
                else:
                    names.append(word)
            if names:
                return names
    base = re.sub(r"-\d+$", "", program)
    return [base.removeprefix("engine-")]


def declared_chain() -> list[str]:
    """The chain of ``etc/engines.conf``, or none when it cannot be read (the programs
    are still worth listing)."""
    try:
        return load_chain()
    except ConfigError:
        return []


class Engines:
    def __init__(self, api: Api, socket: str | None = None) -> None:
        self.api = api
        self.socket = socket

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        processes = supervisor.processes(self.socket)
        try:
            config = {
                info["name"]: info.get("command")
                for info in supervisor.call("getAllConfigInfo", socket=self.socket)
            }
        except xmlrpc.client.Fault:
            config = {}
        reports = last_reports(self.api.db)
        health = enginehealth.reports(self.api.db)
        items = []
        for process in processes:
            item = describe(process)
            if process.name.startswith("engine-"):
                names = engine_names(process.name, config.get(process.name))
                item["runs"] = names
                item["engines"] = {name: reports.get(name, []) for name in names}
                item["health"] = {
                    doc["_id"]: {
                        **{key: doc[key] for key in HEALTH_FIELDS},
                        "updated": doc["updated"].timestamp(),
                    }
                    for doc in health
                    if doc["engine"] in names
                }
            items.append(item)
        resp.media = {"chain": declared_chain(), "items": items}


class Action:
    def __init__(self, api: Api, socket: str | None = None) -> None:
        self.api = api
        self.socket = socket

    def on_post(self, req: falcon.Request, resp: falcon.Response, program: str, action: str):
        require(req, "admin")
        if action not in ACTIONS:
            raise ApiError(
                404, f"no action {action}; expected one of {', '.join(ACTIONS)}", {"action": action}
            )
        known = supervisor.processes(self.socket)
        chosen = [p for p in known if program in (p.name, p.fullname) or (program == p.group)]
        if not chosen:
            raise ApiError(404, f"no supervisord program {program}", {"program": "unknown"})
        if action in ("stop", "restart"):
            for process in chosen:
                self._run("stopProcess", process, (NOT_RUNNING,))
        if action in ("start", "restart"):
            for process in chosen:
                self._run("startProcess", process, (ALREADY_STARTED,))
        names = {p.fullname for p in chosen}
        now = [describe(p) for p in supervisor.processes(self.socket) if p.fullname in names]
        resp.media = {"program": program, "action": action, "processes": now}

    def _run(self, method: str, process: supervisor.Process, harmless: tuple[int, ...]) -> None:
        try:
            supervisor.call(method, process.fullname, True, socket=self.socket)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode in harmless:
                return
            if fault.faultCode == BAD_NAME:
                raise ApiError(404, f"no supervisord program {process.fullname}") from None
            raise ApiError(
                409,
                f"supervisord could not {method.removesuffix('Process')} "
                f"{process.fullname}: {fault.faultString}",
            ) from None


def routes(api: Api) -> list[tuple[str, object]]:
    return [
        ("/api/v2/engines", Engines(api)),
        ("/api/v2/engines/{program}/{action}", Action(api)),
    ]


_PROCESS = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "group": {"type": "string"},
        "state": {"type": "string"},
        "pid": {"type": "integer"},
        "uptime": {"type": "integer", "description": "seconds"},
        "description": {"type": "string"},
        "runs": {
            "type": "array",
            "items": {"type": "string"},
            "description": "engine program only: the engines it runs fused, in order",
        },
        "engines": {
            "type": "object",
            "description": "engine program only: engine name -> last self-report per host",
            "additionalProperties": {
                "type": "array",
                "items": object_schema(
                    {
                        "host": {"type": "string"},
                        "entity_id": {"type": "string"},
                        "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
                    },
                    more=True,
                ),
            },
        },
        "health": {
            "type": "object",
            "description": "engine program only: report id -> the engine process's last report",
            "additionalProperties": object_schema(
                {
                    "engine": {"type": "string"},
                    "host": {"type": "string"},
                    "worker": {"type": ["integer", "null"]},
                    "state": {"type": "integer", "enum": [0, 3]},
                    "output": {"type": "string"},
                    "failures": {"type": "integer"},
                    "queue_depth": {"type": "integer"},
                    "updated": {"type": "number", "description": "epoch seconds"},
                },
                more=True,
            ),
        },
    },
    "required": ["name", "group", "state", "pid", "uptime", "description"],
    "additionalProperties": True,
}


OPENAPI = {
    "/api/v2/engines": {
        "get": {
            "summary": "The supervisord programs and the engines' last self-reports (viewer)",
            "operationId": "listEngines",
            "responses": {
                "200": json_response(
                    "Every supervisord process",
                    {
                        "type": "object",
                        "properties": {
                            "chain": {
                                "type": "array",
                                "items": {"type": "string"},
                                "description": "the engines every event goes through, in order",
                            },
                            "items": {"type": "array", "items": _PROCESS},
                        },
                        "required": ["chain", "items"],
                    },
                ),
                **errors(401, 403, 503),
            },
        }
    },
    "/api/v2/engines/{program}/{action}": {
        "parameters": [
            {"name": "program", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "action",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": list(ACTIONS)},
            },
        ],
        "post": {
            "summary": "Start, stop or restart a supervisord program (admin)",
            "operationId": "controlEngine",
            "responses": {
                "200": json_response(
                    "The processes' new state",
                    {
                        "type": "object",
                        "properties": {
                            "program": {"type": "string"},
                            "action": {"type": "string"},
                            "processes": {"type": "array", "items": _PROCESS},
                        },
                        "additionalProperties": True,
                    },
                ),
                **errors(401, 403, 404, 409, 503),
            },
        },
    },
}
