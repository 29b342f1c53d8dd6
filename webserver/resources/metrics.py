"""``GET /metrics`` (viewer): canopsis's own metrics in the Prometheus text format 0.0.4.

- ``canopsis_alarms{state}`` and ``canopsis_alarms_by_status{status}``: the
  open alarms by state (0..3) and status (0..4);
- ``canopsis_alarm_problems``: the open alarms neither OK, cancelled nor in a
  pbehavior (what needs someone), and ``canopsis_alarms_in_pbehavior``;
- ``canopsis_dead_letters``: the refused events waiting in the dead-letter store;
- ``canopsis_engine_events_per_second``, ``canopsis_engine_errors`` and
  ``canopsis_queue_depth`` with labels ``engine`` and ``host``: the engines'
  last self-report within the last 10 minutes
  (:func:`canopsis.store.engines.last_reports`);
- ``canopsis_engine_stalled`` with labels ``engine``, ``host`` and ``worker``:
  1 when the engine process makes no progress (its batches keep failing, or
  messages wait while nothing is acknowledged, or it stopped reporting), else
  0; and ``canopsis_engine_batch_failures``, its batches failed in a row. From
  the reports the engines write around the pipeline (:mod:`canopsis.runtime.enginehealth`),
  so a stalled engine shows even when its own check is stuck behind it.
"""

import time

import falcon

from canopsis.domain.values import is_number
from canopsis.runtime import deadletters, enginehealth
from canopsis.store import alarmcounts, alarms
from canopsis.store.engines import last_reports
from canopsis.webserver.api import Api, Resource
from canopsis.webserver.http import require

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENGINE_METRICS = (
    ("canopsis_engine_events_per_second", "events_per_second", "Events handled per second."),
    ("canopsis_engine_errors", "errors", "Errors since the engine's previous report."),
    ("canopsis_queue_depth", "queue_depth", "Messages waiting in the engine's queue."),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value) -> str:
    if not is_number(value):
        return "NaN"
    return repr(float(value)) if isinstance(value, float) else str(value)


def _family(name: str, help_text: str, samples: list[tuple[dict, object]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
    return lines


def exposition(db) -> str:
    counts = alarmcounts.counts(db, alarms.OPEN, {})
    lines = _family(
        "canopsis_alarms",
        "Open alarms by state.",
        [({"state": s}, n) for s, n in counts["by_state"].items()],
    )
    lines += _family(
        "canopsis_alarms_by_status",
        "Open alarms by status.",
        [({"status": s}, n) for s, n in counts["by_status"].items()],
    )
    lines += _family(
        "canopsis_alarm_problems",
        "Open alarms neither OK, cancelled nor in a pbehavior.",
        [({}, counts["problems"])],
    )
    lines += _family(
        "canopsis_alarms_in_pbehavior",
        "Open alarms whose entity is in a pbehavior (maintenance, pause, inactive).",
        [({}, counts["in_pbehavior"])],
    )
    lines += _family(
        "canopsis_dead_letters",
        "Refused events in the dead-letter store.",
        [({}, deadletters.count(db))],
    )
    reports = last_reports(db)
    for name, metric, help_text in ENGINE_METRICS:
        samples = [
            ({"engine": engine, "host": report["host"]}, report["metrics"][metric])
            for engine, found in sorted(reports.items())
            for report in found
            if metric in report["metrics"]
        ]
        lines += _family(name, help_text, samples)
    health = enginehealth.reports(db)
    stalled = enginehealth.problems(health, time.time())
    labelled = [
        ({"engine": doc["engine"], "host": doc["host"], "worker": _worker(doc)}, doc)
        for doc in health
    ]
    lines += _family(
        "canopsis_engine_stalled",
        "1 when the engine makes no progress (see /api/v2/healthcheck for why).",
        [(labels, int(doc["_id"] in stalled)) for labels, doc in labelled],
    )
    lines += _family(
        "canopsis_engine_batch_failures",
        "Batches the engine failed to write in a row.",
        [(labels, doc["failures"]) for labels, doc in labelled],
    )
    return "\n".join(lines) + "\n"


def _worker(doc: dict) -> str:
    return "-" if doc.get("worker") is None else str(doc["worker"])


class Metrics(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, "viewer")
        resp.content_type = CONTENT_TYPE
        resp.text = exposition(self.api.db)


def routes(api: Api) -> list[tuple[str, object]]:
    return [("/metrics", Metrics(api))]


OPENAPI = {
    "/metrics": {
        "get": {
            "summary": "canopsis's metrics in the Prometheus text format 0.0.4 (viewer)",
            "operationId": "getMetrics",
            "responses": {
                "200": {
                    "description": "Prometheus exposition",
                    "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                },
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
            },
        }
    },
}
