"""The OpenAPI document: valid, faithful to the routes served, and checked by schemathesis."""

import importlib
import re
import time

import kombu
import pytest
import schemathesis
from configobj import ConfigObj
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import checks
from schemathesis.core import NOT_SET

from canopsis.domain import alarm, event
from canopsis.domain.match import FieldError
from canopsis.ops import config
from canopsis.runtime import deadletters, topology
from canopsis.webserver import http, openapi
from canopsis.webserver.api import Api
from tests.conftest import REPO, ApiClient
from tests.helpers import check_event

pytestmark = pytest.mark.integration

METHODS = ("get", "post", "put", "patch", "delete")
#: falcon routes taking the rest of the path -> the OpenAPI paths of each method
PATH_ROUTES = {
    ("/api/v2/alarms/{rest:path}", "get"): {
        "/api/v2/alarms/counts",
        "/api/v2/alarms/{alarm_id}",
        "/api/v2/alarms/{alarm_id}/history",
    },
    ("/api/v2/alarms/{rest:path}", "post"): {
        "/api/v2/alarms/{alarm_id}/{action}",
        *(f"/api/v2/alarms/{action}" for action in event.ACTION_TYPES),
    },
}
#: the resource modules whose routes the app serves and the document must describe
REQUIRED_MODULES = (
    "meta",
    "auth",
    "events",
    "apikeys",
    "users",
    "engines",
    "metrics",
    "entities",
    "perfdata",
    "eventfilter",
    "deadletters",
    "alarms",
    "heartbeats",
    "pbehaviors",
)


def served(app) -> dict[tuple[str, str], object]:
    """(falcon template, method) -> resource, for every responder the app routes to, but
    the console's page (``/`` and ``/console``: not the API)."""
    found = {}
    nodes = list(app._router._roots)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children or ())
        if node.resource is None or type(node.resource).__module__.endswith(".console"):
            continue
        for method in METHODS:
            if hasattr(node.resource, f"on_{method}"):
                found[(node.uri_template, method)] = node.resource
    return found


def documented(doc: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def openapi_paths(template: str, method: str) -> set[str]:
    if (template, method) in PATH_ROUTES:
        return PATH_ROUTES[(template, method)]
    return {re.sub(r"\{(\w+):\w+\}", r"{\1}", template)}


@pytest.fixture
def doc(api):
    resp = api.simulate_get(openapi.PATH, headers=api.as_role("viewer"))
    assert resp.status_code == 200, resp.text
    return resp.json


def test_the_document_is_valid_openapi_3_1(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] == "canopsis"
    assert set(doc["components"]["securitySchemes"]) == {"ApiKey", "AuthKey", "Session"}


def test_the_document_is_served_without_credentials(api):
    """Documentation viewers and client generators read it without a key (it holds no data)."""
    resp = api.simulate_get(openapi.PATH)
    assert resp.status_code == 200
    assert resp.json["paths"][openapi.PATH]["get"]["security"] == []
    assert "/api/v2/alarms" in resp.json["paths"]


def test_every_route_is_documented_and_every_operation_served(api, doc):
    routes = served(api.client.app)
    expected = {
        (path, method): resource
        for (template, method), resource in routes.items()
        for path in openapi_paths(template, method)
    }
    listed = documented(doc)
    undocumented = sorted(set(expected) - listed)
    modules = sorted({type(expected[key]).__module__.rsplit(".", 1)[-1] for key in undocumented})
    assert not undocumented, f"routes without OPENAPI (modules {modules}): {undocumented}"
    assert not sorted(listed - set(expected)), "documented operations the app does not serve"
    for (path, method), resource in expected.items():
        public = not getattr(resource, "auth_required", True)
        assert (doc["paths"][path][method].get("security") == []) == public, (path, method)


def test_no_operation_but_the_public_ones_answers_without_credentials(api, doc):
    for path, method in sorted(documented(doc)):
        operation = doc["paths"][path][method]
        url = re.sub(r"\{[^}]+\}", "x", path)
        resp = api.simulate_request(method.upper(), url)
        if operation.get("security") == []:
            assert resp.status_code != 401, (method, path)
        else:
            assert resp.status_code == 401, (method, path, resp.status_code)
            assert resp.json["error"]["code"] == 401


def resource_module(name: str):
    return importlib.import_module(f"canopsis.webserver.resources.{name}")


def test_every_resource_module_is_served_and_described(api):
    """Each webservice module is loaded: its routes are served."""
    templates = {template for template, _method in served(api.client.app)}
    cfg = config.load("webserver", REPO / "etc" / "webserver.conf")
    modules = {
        name
        for name in REQUIRED_MODULES
        if any(
            path in templates
            for path, _resource in resource_module(name).routes(Api(cfg, api.db, None))
        )
    }
    missing = sorted(set(REQUIRED_MODULES) - modules)
    assert not missing, f"resource modules not served: {missing}"


def test_operations_have_ids_and_error_references(doc):
    without = sorted(
        key for key in documented(doc) if "operationId" not in doc["paths"][key[0]][key[1]]
    )
    assert not without, f"operations without operationId: {without}"
    ids = [doc["paths"][path][method]["operationId"] for path, method in documented(doc)]
    assert len(ids) == len(set(ids))
    for path, method in documented(doc):
        responses = doc["paths"][path][method]["responses"]
        assert any(code.startswith("2") for code in responses), (path, method)
        for code, response in responses.items():
            if (path, method, code) == ("/api/v2/healthcheck", "get", "503"):
                continue  # the health report itself, saying what is down
            if code[0] in "45":
                assert response["$ref"] == f"#/components/responses/{openapi.ERRORS[int(code)]}"


# -- schemathesis ---------------------------------------------------------------


def seed(db) -> list[str]:
    """A few alarms (one resolved), their entities, a rule and a dead letter."""
    now = time.time()
    cfg = alarm.AlarmConfig()
    ids = []
    for index, (component, resource, state) in enumerate(
        [("web-1", "cpu", 2), ("web-1", "disk", 1), ("db-1", None, 3)]
    ):
        raw = check_event(
            component,
            resource,
            connector_name="nagios-a",
            state=state,
            output="out",
            tags=["env:prod"],
        )
        ev, problems = event.normalize(raw, now - 100)
        assert not problems
        doc = alarm.apply_event(None, ev, now - 100, cfg, f"k{index}").alarm
        db.alarms.insert_one({**doc, "rev": 1})
        ids.append(doc["_id"])
        entity = f"{resource}/{component}" if resource else component
        db.entities.update_one(
            {"_id": entity},
            {"$set": {"type": "resource" if resource else "component", "enabled": True}},
            upsert=True,
        )
    db.alarms_resolved.insert_one({"_id": "old/db-9:k", "component": "db-9", "resolved": now})
    db.eventfilter_rules.insert_one({"_id": "r1", "match": {}, "actions": [], "priority": 1})
    db[deadletters.COLLECTION].insert_one(
        deadletters.letter("d1", b"{}", [FieldError("state", "missing")], "x.y", "che", now)
    )
    return ids


#: the only operations allowed a 503: supervisord is not run by these tests
SUPERVISORD = r"^/api/v2/engines"


@schemathesis.check
def no_server_error_but_supervisords_503(ctx, response, case) -> None:
    """5xx is a failure, except the documented 503 of the engines (no supervisord here):
    MongoDB and the broker are up, so no other operation may answer 503."""
    status = response.status_code
    documented = str(status) in case.operation.definition.raw.get("responses", {})
    engines = re.match(SUPERVISORD, case.operation.path)
    if status >= 500 and not (status == 503 and documented and engines):
        raise AssertionError(f"{case.operation.label}: {status} {response.text[:300]}")


def depth(value) -> int:
    """How many levels of arrays and objects ``value`` nests."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@schemathesis.check
def a_body_nested_too_deep_is_400(ctx, response, case) -> None:
    """A body nested deeper than the limit is a 400 naming the limit, on every operation."""
    if depth(case.body) > http.MAX_DEPTH:
        message = response.json()["error"]["message"] if response.status_code == 400 else ""
        if message != f"the body is nested deeper than {http.MAX_DEPTH} levels":
            raise AssertionError(f"{case.operation.label}: {response.status_code} {response.text}")


CHECKS = [
    no_server_error_but_supervisords_503,
    a_body_nested_too_deep_is_400,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = 40


@pytest.fixture
def publishing(services, mongo_db, tmp_path):
    """The application publishing to the real broker, on an exchange no engine consumes."""
    amqp_conf = ConfigObj(str(services.prefix / "etc" / "amqp.conf"), interpolation=False)
    amqp_conf.filename = str(tmp_path / "amqp.conf")
    amqp_conf["exchange"] = "schemathesis.events"
    amqp_conf.write()
    with kombu.Connection(services.amqp_url) as conn:
        exchange = topology.events_exchange(amqp_conf)(conn.default_channel)
        exchange.declare()
        yield ApiClient(mongo_db, tmp_path / "amqp.conf")
        exchange.delete()


def aim(case, alarm_id: str | None) -> None:
    """Point a generated case at a seeded alarm: its path's alarm_id, or one of a bulk's ids."""
    if alarm_id is None:
        return
    if "alarm_id" in (case.path_parameters or {}):
        case.path_parameters["alarm_id"] = alarm_id
    if isinstance(case.body, dict) and isinstance(case.body.get("ids"), list):
        case.body["ids"] = [alarm_id, *case.body["ids"]]


def nest(case, levels: int | None) -> None:
    """Wrap a case's body in ``levels`` objects, when the operation takes one."""
    if levels is None or case.body is NOT_SET:
        return
    body = case.body
    for _ in range(levels):
        body = {"a": body}
    case.body = body


#: bodies left as generated, or nested just past the limit, far past it, and as deep as
#: Python's JSON encoder goes
NESTING = st.sampled_from([None, None, None, None, 1, http.MAX_DEPTH, 200, 900])


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(publishing):
    """Positive cases of every operation, those that publish included (to the real broker);
    a case naming an alarm names a seeded one half the time, so actions get past the 404;
    a body is wrapped in more objects at times, so some go past the nesting limit.

    schemathesis' pytest loader from a fixture fails under pytest 9, so each
    operation's strategy runs here under hypothesis; failures are collected.
    """
    alarm_ids = seed(publishing.db)
    admin = publishing.as_role("admin")
    app = publishing.client.app
    schema = schemathesis.openapi.from_wsgi(openapi.PATH, app, headers=admin)
    failures, ran = [], set()
    for result in schema.get_all_operations():
        operation = result.ok()
        ran.add((operation.path, operation.method.lower()))

        @given(
            case=operation.as_strategy(),
            alarm_id=st.none() | st.sampled_from(alarm_ids),
            levels=NESTING,
        )
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case, alarm_id, levels):
            aim(case, alarm_id)
            nest(case, levels)
            case.call_and_validate(headers=admin, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's, not the first
            failures.append(f"{operation.label}: {exc}")
    doc = publishing.simulate_get(openapi.PATH, headers=admin).json
    assert ran == documented(doc) - {(openapi.PATH, "get")}  # schemathesis skips its own document
    assert not failures, "\n\n".join(failures)
