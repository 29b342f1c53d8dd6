"""Bad input in every operation that reads a body or query parameters (from the OpenAPI
document): a 4xx in the one error shape naming the field, and the server keeps serving."""

import importlib
import json
import re
from urllib.parse import quote

import pytest

from canopsis.domain import auth
from canopsis.runtime import deadletters
from canopsis.store.heartbeats import DEFINITIONS
from canopsis.store.pbehaviors import COLLECTION as PBEHAVIORS
from canopsis.webserver import openapi
from canopsis.webserver.app import ALWAYS, WEBSERVICES
from tests.conftest import ApiClient, error

pytestmark = pytest.mark.integration

DOC = openapi.document(
    importlib.import_module(f"canopsis.webserver.resources.{name}")
    for name in (*ALWAYS, *WEBSERVICES.values())
)
OPERATIONS = [
    (method, path, {**item, **op}, item.get("parameters", []) + op.get("parameters", []))
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if method in ("get", "post", "put", "delete")
]
WITH_BODY = [(method, path) for method, path, op, _params in OPERATIONS if "requestBody" in op]
QUERIES = [
    (method, path, [p for p in params if p["in"] == "query"])
    for method, path, _op, params in OPERATIONS
    if any(p["in"] == "query" for p in params)
]
#: query parameters whose schema refuses some text, with such a text
TYPED = [
    (method, path, param["name"])
    for method, path, params in QUERIES
    for param in params
    if param["schema"].get("type") in ("integer", "number", "boolean")
    or {"enum", "pattern"} & set(param["schema"])
]
REQUIRED = {
    (method, path): {p["name"]: "x" for p in params if p.get("required")}
    for method, path, params in QUERIES
}
PAGED = [path for method, path, params in QUERIES if "page" in {p["name"] for p in params}]
PBEHAVIOR = {
    "_id": "p1",
    "name": "backup",
    "type": "maintenance",
    "filter": {"component": "db-1"},
    "start": 1_774_062_000,
    "end": 1_774_065_600,
    "rrule": "FREQ=WEEKLY;BYDAY=SA",
    "tz": "Europe/Paris",
}
#: one wrong-typed field in an otherwise valid body, for every operation taking a body
WRONG_TYPES = {
    ("post", "/api/v2/event"): ({"state": "2"}, "0.state"),
    ("post", "/api/v2/deadletters/{letter_id}/replay"): ({"state": "2"}, "state"),
    ("post", "/api/v2/auth/login"): ({"name": 1, "password": "x"}, "name"),
    ("post", "/api/v2/apikeys"): ({"role": "viewer", "description": 5}, "description"),
    ("post", "/api/v2/users"): ({"name": "u2", "password": ["x"], "role": "viewer"}, "password"),
    ("put", "/api/v2/users/{name}"): ({"role": True}, "role"),
    ("put", "/api/v2/entities/{entity_id}"): ({"enabled": "no"}, "enabled"),
    ("post", "/api/v2/eventfilter/rules"): ({"_id": "r2", "priority": "1"}, "priority"),
    ("put", "/api/v2/eventfilter/rules/{rule_id}"): ({"priority": "1"}, "priority"),
    ("post", "/api/v2/eventfilter/try"): ({"event": {"state": "2"}}, "event.state"),
    ("post", "/api/v2/heartbeats"): ({"_id": "h2", "interval": "60"}, "interval"),
    ("put", "/api/v2/heartbeats/{heartbeat_id}"): ({"interval": [60]}, "interval"),
    ("post", "/api/v2/pbehaviors"): ({**PBEHAVIOR, "_id": "p2", "start": "soon"}, "start"),
    ("put", "/api/v2/pbehaviors/{pbehavior_id}"): ({**PBEHAVIOR, "start": "soon"}, "start"),
    ("post", "/api/v2/alarms/{alarm_id}/{action}"): ({"duration": "600"}, "duration"),
    **{
        ("post", f"/api/v2/alarms/{action}"): ({"ids": "a"}, "ids")
        for action in ("ack", "ackremove", "cancel", "uncancel", "comment", "declareticket")
    },
    ("post", "/api/v2/alarms/snooze"): ({"ids": ["a"], "duration": "1"}, "duration"),
    ("post", "/api/v2/alarms/assocticket"): ({"ids": ["a"], "ticket": 7}, "ticket"),
    ("post", "/api/v2/alarms/changestate"): ({"ids": ["a"], "state": "3"}, "state"),
}
RULE = {"_id": "r1", "match": {}, "actions": [], "priority": 1}
ALARM = {
    "_id": "cpu/web-1:k0",
    "entity_id": "cpu/web-1",
    "connector": "nagios",
    "connector_name": "n1",
    "component": "web-1",
    "resource": "cpu",
    "resolved": None,
}
HEARTBEAT = {"_id": "h1", "match": {"connector_name": "h1"}, "interval": 60}


@pytest.fixture(scope="module")
def site(mongo_client, mongo_server):
    """The application on a database of this module, something at every path parameter so
    that bad input is what each answer is about (bad input changes nothing: one database)."""
    mongo_client.drop_database(mongo_server.database)
    api = ApiClient(mongo_client[mongo_server.database])
    api.db.alarms.insert_one(dict(ALARM))
    api.db.entities.insert_one({"_id": "cpu/web-1", "type": "resource", "enabled": True})
    api.db.eventfilter_rules.insert_one(dict(RULE))
    api.db[DEFINITIONS].insert_one(dict(HEARTBEAT))
    api.db[PBEHAVIORS].insert_one(dict(PBEHAVIOR))
    auth.create_user(api.db, "someone", "a long password", "viewer")
    api.db[deadletters.COLLECTION].insert_one(deadletters.letter("d1", "{}", [], "k", "cleaner", 0))
    values = {
        "alarm_id": quote(ALARM["_id"], safe=""),
        "action": "snooze",
        "rule_id": RULE["_id"],
        "heartbeat_id": HEARTBEAT["_id"],
        "pbehavior_id": PBEHAVIOR["_id"],
        "entity_id": quote("cpu/web-1", safe=""),
        "name": "someone",
        "letter_id": "d1",
    }
    yield api, api.as_role("admin"), values
    mongo_client.drop_database(mongo_server.database)


def call(site, method: str, path: str, params: dict | None = None, **kwargs):
    """The operation on the seeded documents, its required query parameters given."""
    api, admin, values = site
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    params = {**REQUIRED.get((method, path), {}), **(params or {})}
    resp = api.simulate_request(method.upper(), url, headers=admin, params=params, **kwargs)
    assert resp.status_code < 500, (method, path, resp.text)
    return resp


def still_serving(site) -> None:
    api, admin, _values = site
    assert api.simulate_get("/api/v2/auth/me", headers=admin).status_code == 200


def test_every_operation_with_a_body_has_a_wrong_type_case():
    assert sorted(WRONG_TYPES) == sorted(WITH_BODY)


#: objects nested 5,000 deep: over the parser's recursion limit, far over canopsis' 64 levels
NESTED = b'{"a":' * 5000 + b"1" + b"}" * 5000


@pytest.mark.parametrize(
    "body", [b'{"name": ', b"{'a': 1}", b"[1, 2", b'{"a": NaN}', b'"\\ud800"', b"\xff\xfe"]
)
@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_a_body_that_is_not_json_is_400_naming_the_body(site, method, path, body):
    resp = call(site, method, path, body=body, content_type="application/json")
    assert resp.status_code == 400 and "body" in error(resp)["fields"], resp.text
    still_serving(site)


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_a_deeply_nested_body_is_400_naming_the_limit(site, method, path):
    resp = call(site, method, path, body=NESTED, content_type="application/json")
    assert resp.status_code == 400, resp.text
    assert error(resp)["message"] == "the body is nested deeper than 64 levels"
    assert "body" in error(resp)["fields"]
    still_serving(site)


@pytest.mark.parametrize(
    ("output", "refused"),
    [
        ([[[]]] * 1000, False),
        (json.loads("[" * 63 + "]" * 63), False),
        (json.loads("[" * 64 + "]" * 64), True),
        ("[{" * 100, False),
    ],
)
def test_the_nesting_limit_counts_levels_of_arrays_and_objects_not_brackets_in_text(
    site, output, refused
):
    """The body ``{"output": ...}`` is one level; 64 in all pass, 65 do not."""
    resp = call(site, "post", "/api/v2/auth/login", json={"output": output})
    assert resp.status_code == 400, resp.text
    nested = error(resp)["message"] == "the body is nested deeper than 64 levels"
    assert nested == refused, resp.text


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_a_body_that_is_not_an_object_is_400(site, method, path):
    resp = call(site, method, path, json=42)
    assert resp.status_code == 400, resp.text
    assert error(resp)["fields"], "the answer names what is wrong"


@pytest.mark.parametrize(("method", "path"), sorted(WRONG_TYPES))
def test_a_field_of_the_wrong_type_is_400_naming_it(site, method, path):
    body, field = WRONG_TYPES[(method, path)]
    if path in ("/api/v2/event", "/api/v2/deadletters/{letter_id}/replay"):
        body = {**seed_event(), **body}
    resp = call(site, method, path, json=body)
    assert resp.status_code == 400, resp.text
    assert field in error(resp)["fields"], resp.text


def seed_event() -> dict:
    return {
        "connector": "nagios",
        "connector_name": "n1",
        "event_type": "check",
        "source_type": "component",
        "component": "web-1",
    }


@pytest.mark.parametrize(("method", "path", "name"), TYPED)
def test_a_query_parameter_of_the_wrong_type_is_400_naming_it(site, method, path, name):
    resp = call(site, method, path, params={name: "x~"})
    assert resp.status_code == 400, resp.text
    assert name in error(resp)["fields"]


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _params in QUERIES])
def test_an_unknown_filter_is_400_naming_it(site, method, path):
    resp = call(site, method, path, params={"colour": "red"})
    assert resp.status_code == 400
    assert error(resp)["fields"]["colour"] == "unknown parameter"


@pytest.mark.parametrize("path", PAGED)
def test_a_page_beyond_the_end_is_400_naming_the_page(site, path):
    first = call(site, "get", path, params={"limit": 1})
    assert first.status_code == 200, first.text
    last = max(first.json["total"], 1)
    assert call(site, "get", path, params={"limit": 1, "page": last}).status_code == 200
    resp = call(site, "get", path, params={"limit": 1, "page": last + 1})
    assert resp.status_code == 400
    assert error(resp)["fields"] == {"page": f"beyond the last page, {last}"}


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_a_10_mb_body_is_413_and_the_server_keeps_serving(site, method, path):
    body = b'{"output": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    resp = call(site, method, path, body=body, content_type="application/json")
    assert resp.status_code == 413
    assert "larger than" in error(resp)["message"]
    still_serving(site)


#: the operations whose answers may carry a secret or personal data: never cached
NO_STORE = {
    ("post", "/api/v2/apikeys"),
    ("post", "/api/v2/auth/login"),
    ("get", "/api/v2/auth/me"),
    ("get", "/api/v2/users"),
    ("post", "/api/v2/users"),
    ("put", "/api/v2/users/{name}"),
}


@pytest.mark.parametrize(
    ("method", "path"),
    sorted(
        {(m, p) for m, p, _params in QUERIES if m == "get"}
        | {("get", "/api/v2/auth/me"), ("get", "/api/v2/users")}
        | set(WITH_BODY)
    ),
)
def test_every_answer_says_nosniff_and_those_with_secrets_say_no_store(site, method, path):
    """The lists and ``me`` as they are, the others with a body of the wrong type (a 415 that
    changes nothing)."""
    if method == "get":
        resp = call(site, method, path)
    else:
        resp = call(site, method, path, body=b"x", content_type="text/plain")
        assert resp.status_code == 415, resp.text
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    if (method, path) in NO_STORE:
        assert resp.headers.get("Cache-Control") == "no-store"
    else:  # a list is asked again each time (with its ETag); a refused request is not kept
        kept = method == "get" and resp.status_code == 200
        assert resp.headers.get("Cache-Control") == ("no-cache" if kept else None)


def test_an_unknown_route_says_nosniff(site):
    resp = call(site, "get", "/api/v2/nosuch")
    assert resp.status_code == 404 and resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("method", "path"), WITH_BODY)
def test_a_chunked_body_is_411_asking_for_a_length(site, method, path):
    resp = call(
        site,
        method,
        path,
        body=b'{"output": "x"}',
        content_type="application/json",
        extras={"HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert resp.status_code == 411, resp.text
    assert error(resp)["message"] == "send the body with a Content-Length header, not chunked"
