"""Authentication and the error shape of the REST API (in process, on the embedded MongoDB)."""

import time

import pytest

from canopsis.domain import auth
from canopsis.ops import config
from canopsis.webserver.api import KEY_PRINCIPAL_S
from tests.conftest import REPO, error, make_key

pytestmark = pytest.mark.integration


def test_version_and_healthcheck_answer_without_credentials(api):
    assert api.simulate_get("/api/v2/version").json["name"] == "canopsis"
    assert api.simulate_get("/api/v2/healthcheck").json["database"] == "up"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/auth/me"),
        ("POST", "/api/v2/auth/logout"),
        ("POST", "/api/v2/event"),
        ("GET", "/api/v2/apikeys"),
        ("DELETE", "/api/v2/apikeys/abc"),
    ],
)
def test_every_other_route_needs_credentials(api, method, path):
    resp = api.simulate_request(method, path)
    assert resp.status_code == 401
    assert error(resp)["message"].startswith("authentication required")


def test_login_sets_a_session_cookie_that_identifies_the_user(api):
    auth.create_user(api.db, "alice", "correct horse", "operator")
    resp = api.simulate_post(
        "/api/v2/auth/login", json={"name": "alice", "password": "correct horse"}
    )
    assert resp.status_code == 200 and resp.json == {"name": "alice", "role": "operator"}
    cookie = resp.cookies["canopsis_session"]
    assert cookie.http_only
    headers = {"Cookie": f"canopsis_session={cookie.value}"}
    me = api.simulate_get("/api/v2/auth/me", headers=headers)
    assert me.json == {"name": "alice", "role": "operator", "via": "session", "author": "alice"}
    assert api.simulate_post("/api/v2/auth/logout", headers=headers).status_code == 204
    assert api.simulate_get("/api/v2/auth/me", headers=headers).status_code == 401


def test_passwords_are_stored_hashed(api):
    auth.create_user(api.db, "bob", "s3cret-pass", "viewer")
    stored = api.db.users.find_one({"_id": "bob"})["password"]
    assert "s3cret-pass" not in stored and stored.startswith("$argon2id$")


def test_a_wrong_password_is_401_and_repeated_failures_are_slowed_down(api):
    auth.create_user(api.db, "carol", "right-password", "viewer")
    wrong = {"name": "carol", "password": "wrong"}
    for _ in range(5):
        resp = api.simulate_post("/api/v2/auth/login", json=wrong)
        assert resp.status_code == 401 and error(resp)["message"] == "wrong name or password"
    blocked = api.simulate_post(
        "/api/v2/auth/login", json={"name": "carol", "password": "right-password"}
    )
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 300


LIMITS = config.load("webserver", REPO / "etc" / "webserver.conf")["auth"]
PER_PAIR = LIMITS["max_failed_logins"]


def login(api, name: str, password: str, address: str = "10.0.0.1"):
    return api.simulate_post(
        "/api/v2/auth/login", json={"name": name, "password": password}, remote_addr=address
    )


def fail(api, name: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        assert login(api, name, "wrong", address).status_code == 401


def blocked(resp, what: str) -> None:
    assert resp.status_code == 429, resp.text
    wait = int(resp.headers["retry-after"])
    assert 0 < wait <= LIMITS["failed_login_window"]
    assert error(resp)["message"] == f"too many failed logins {what}; retry in {wait} s"


def test_another_accounts_login_does_not_reset_the_failures_of_an_account(api):
    auth.create_user(api.db, "root", "root-pass", "admin")
    auth.create_user(api.db, "bob", "bob-pass", "viewer")
    fail(api, "root", PER_PAIR - 1)
    assert login(api, "bob", "bob-pass").status_code == 200
    fail(api, "root", 1)
    blocked(login(api, "root", "root-pass"), "for root from 10.0.0.1")


def test_a_locked_account_locks_out_neither_the_others_nor_itself_elsewhere(api):
    auth.create_user(api.db, "root", "root-pass", "admin")
    auth.create_user(api.db, "bob", "bob-pass", "viewer")
    fail(api, "root", PER_PAIR)
    blocked(login(api, "root", "root-pass"), "for root from 10.0.0.1")
    assert login(api, "bob", "bob-pass").status_code == 200
    assert login(api, "root", "root-pass", "10.0.0.2").status_code == 200


def test_failures_from_many_addresses_lock_the_account(api):
    auth.create_user(api.db, "root", "root-pass", "admin")
    per_account = LIMITS["max_failed_logins_per_account"]
    for n in range(per_account):
        fail(api, "root", 1, f"10.0.1.{n % PER_PAIR}")
    blocked(login(api, "root", "root-pass", "10.0.2.1"), "for root")


def test_a_flood_from_one_address_is_blocked_for_every_account(api):
    auth.create_user(api.db, "bob", "bob-pass", "viewer")
    for n in range(LIMITS["max_failed_logins_per_address"]):
        fail(api, f"guess{n}", 1)
    blocked(login(api, "bob", "bob-pass"), "from 10.0.0.1")
    assert login(api, "bob", "bob-pass", "10.0.0.2").status_code == 200


def test_a_successful_login_clears_only_its_own_account(api):
    auth.create_user(api.db, "carol", "carol-pass", "viewer")
    auth.create_user(api.db, "dave", "dave-pass", "viewer")
    fail(api, "carol", PER_PAIR - 1)
    fail(api, "dave", PER_PAIR - 1)
    assert login(api, "carol", "carol-pass").status_code == 200
    fail(api, "dave", 1)
    blocked(login(api, "dave", "dave-pass"), "for dave from 10.0.0.1")
    fail(api, "carol", PER_PAIR - 1)
    assert login(api, "carol", "carol-pass").status_code == 200


def test_api_keys_are_created_listed_without_secret_and_revoked(api):
    admin = api.as_role("admin")
    made = api.simulate_post(
        "/api/v2/apikeys", json={"role": "viewer", "description": "grafana"}, headers=admin
    )
    assert made.status_code == 201
    key, key_id = made.json["key"], made.json["_id"]
    assert key.startswith(f"{key_id}.") and "hash" not in made.json
    for header in ({"Authorization": f"Key {key}"}, {"X-Canopsis-Authkey": key}):
        assert api.simulate_get("/api/v2/auth/me", headers=header).json["role"] == "viewer"
    listed = api.simulate_get("/api/v2/apikeys", headers=admin).json["items"]
    assert key_id in [k["_id"] for k in listed]
    assert all("hash" not in k and "key" not in k for k in listed)
    assert api.simulate_delete(f"/api/v2/apikeys/{key_id}", headers=admin).status_code == 200
    revoked = api.simulate_get("/api/v2/auth/me", headers={"Authorization": f"Key {key}"})
    assert revoked.status_code == 401
    assert error(revoked)["message"] == "invalid, expired or revoked credentials"


def test_a_key_revoked_by_another_process_is_refused_within_a_second(api):
    """The web process keeps a key's principal KEY_PRINCIPAL_S seconds (revoked through its
    own API, at once: the test above)."""
    doc, key = make_key(api.db, "operator", "cli")
    header = {"X-Canopsis-Authkey": key}
    assert api.simulate_get("/api/v2/auth/me", headers=header).status_code == 200
    auth.revoke_key(api.db, doc["_id"])
    time.sleep(KEY_PRINCIPAL_S)
    assert api.simulate_get("/api/v2/auth/me", headers=header).status_code == 401


def test_an_expired_or_wrong_key_is_401(api):
    _doc, key = make_key(api.db, "admin", "old")
    api.db.api_keys.update_one({}, {"$set": {"expires": auth.now()}})
    time.sleep(0.01)
    assert (
        api.simulate_get("/api/v2/auth/me", headers={"X-Canopsis-Authkey": key}).status_code == 401
    )
    forged = key.split(".")[0] + ".forged"
    assert (
        api.simulate_get("/api/v2/auth/me", headers={"X-Canopsis-Authkey": forged}).status_code
        == 401
    )


def test_a_viewer_cannot_create_keys_nor_send_events(api):
    viewer = api.as_role("viewer")
    resp = api.simulate_post("/api/v2/apikeys", json={"role": "admin"}, headers=viewer)
    assert resp.status_code == 403 and "admin role" in error(resp)["message"]
    assert api.simulate_post("/api/v2/event", json={}, headers=viewer).status_code == 403


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"{nope", "application/json", 400, "body"),
        (b"", "application/json", 400, "body"),
        (b'{"role": "viewer", "color": 1}', "application/json", 400, "color"),
        (b'{"role": "king"}', "application/json", 400, "role"),
        (b'{"role": "viewer", "expires": 1}', "application/json", 400, "expires"),
        (b"role=viewer", "application/x-www-form-urlencoded", 415, None),
    ],
)
def test_bad_bodies_get_4xx_in_the_error_shape_naming_the_field(
    api, body, content_type, status, field
):
    headers = {**api.as_role("admin"), "Content-Type": content_type}
    resp = api.simulate_post("/api/v2/apikeys", body=body, headers=headers)
    assert resp.status_code == status
    found = error(resp)
    if field:
        assert field in found["fields"]


def test_unknown_route_and_method_use_the_error_shape(api):
    assert error(api.simulate_get("/api/v2/nosuch", headers=api.as_role("viewer")))["code"] == 404
    assert error(api.simulate_put("/api/v2/version"))["code"] == 405


def test_a_body_over_the_limit_is_413(api):
    big = b"[" + b"1," * (5 * 1024 * 1024) + b"1]"
    resp = api.simulate_post(
        "/api/v2/event",
        body=big,
        headers={**api.as_role("operator"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
