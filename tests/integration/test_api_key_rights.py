"""An API key acts with the lesser of its own role and its creator's current one, stops when its
creator is disabled or deleted, and authors what it does as itself (in process, on the real
broker and database; the steps are written by the running engine chain)."""

import pytest

from canopsis.domain import ingestkeys
from tests.conftest import ApiClient, error, make_key
from tests.integration.test_api_event_author import published
from tests.integration.test_pipeline import (  # noqa: F401 (db, pipeline, site: fixtures)
    db,
    event,
    pipeline,
    send,
    site,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def keys_api(services, mongo_db):
    """The REST application publishing to the real broker, its entry queue emptied."""
    published(services)
    yield ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    published(services)


def key_of(doc_and_key: tuple[dict, str]) -> dict[str, str]:
    return {"Authorization": f"Key {doc_and_key[1]}"}


def listed(api, key_id: str) -> dict:
    items = api.simulate_get("/api/v2/apikeys", headers=api.as_role("admin")).json["items"]
    [found] = [item for item in items if item["_id"] == key_id]
    return found


def check(component: str) -> dict:
    return event(component, state=2, connector="it", connector_name="keys")


def test_a_key_of_a_demoted_admin_does_operator_things_but_no_longer_admin_things(
    services, keys_api
):
    api = keys_api
    made = make_key(api.db, "admin", "nagios", creator="boss")
    key = key_of(made)
    assert api.simulate_get("/api/v2/users", headers=key).status_code == 200
    demoted = api.simulate_put(
        "/api/v2/users/boss", json={"role": "operator"}, headers=api.as_role("admin")
    )
    assert demoted.status_code == 200, demoted.text
    refused = api.simulate_get("/api/v2/users", headers=key)
    assert refused.status_code == 403
    assert error(refused)["message"] == "this needs the admin role; boss has operator"
    sent = api.simulate_post("/api/v2/event", json=check("keys-demoted"), headers=key)
    assert sent.status_code == 202, sent.text
    assert [e["component"] for e in wait_for(lambda: published(services))] == ["keys-demoted"]
    assert api.simulate_get("/api/v2/auth/me", headers=key).json["role"] == "operator"
    shown = listed(api, made[0]["_id"])
    assert shown["role"] == "admin" and shown["effective_role"] == "operator"
    assert shown["effective_reason"] == "its creator boss has the operator role"
    assert ingestkeys.usable_keys(api.db)[made[0]["_id"]]["role"] == "operator"


def test_a_key_of_a_disabled_user_is_401_saying_so(api):
    made = make_key(api.db, "operator", "zabbix", creator="carl")
    key_id = made[0]["_id"]
    assert api.simulate_get("/api/v2/auth/me", headers=key_of(made)).status_code == 200
    disabled = api.simulate_put(
        "/api/v2/users/carl", json={"disabled": True}, headers=api.as_role("admin")
    )
    assert disabled.status_code == 200 and disabled.json["disabled"] is True
    refused = api.simulate_get("/api/v2/alarms", headers=key_of(made))
    assert refused.status_code == 401
    assert error(refused)["message"] == (
        f"API key {key_id} no longer works: its creator carl is disabled"
    )
    shown = listed(api, key_id)
    assert shown["effective_role"] is None
    assert shown["effective_reason"] == "its creator carl is disabled"
    assert key_id not in ingestkeys.usable_keys(api.db)
    login = api.simulate_post(
        "/api/v2/auth/login", json={"name": "carl", "password": "carl-password"}
    )
    assert login.status_code == 403 and error(login)["message"] == "the account carl is disabled"
    enabled = api.simulate_put(
        "/api/v2/users/carl", json={"disabled": False}, headers=api.as_role("admin")
    )
    assert enabled.status_code == 200 and enabled.json["disabled"] is False
    assert api.simulate_get("/api/v2/alarms", headers=key_of(made)).status_code == 200


def test_a_key_of_a_deleted_user_is_401_even_when_the_name_is_taken_again(api):
    made = make_key(api.db, "operator", "zabbix", creator="dora")
    key_id = made[0]["_id"]
    admin = api.as_role("admin")
    assert api.simulate_delete("/api/v2/users/dora", headers=admin).status_code == 204
    refused = api.simulate_get("/api/v2/alarms", headers=key_of(made))
    assert refused.status_code == 401
    assert error(refused)["message"] == (
        f"API key {key_id} no longer works: its creator dora was deleted"
    )
    assert listed(api, key_id)["effective_reason"] == "its creator dora was deleted"
    assert key_id not in ingestkeys.usable_keys(api.db)
    again = {"name": "dora", "password": "another-dora-1", "role": "admin"}
    assert api.simulate_post("/api/v2/users", json=again, headers=admin).status_code == 201
    assert api.simulate_get("/api/v2/alarms", headers=key_of(made)).status_code == 401


class TestActionsMadeWithKeys:
    def test_are_authored_by_the_key_and_two_keys_are_told_apart(
        self,
        pipeline,  # noqa: F811
        site,  # noqa: F811
        db,  # noqa: F811
    ):
        api = ApiClient(db, site.prefix / "etc" / "amqp.conf")
        nagios = make_key(db, "operator", "nagios", creator="ops")
        zabbix = make_key(db, "operator", "zabbix", creator="ops")
        send(site.amqp_url, check("keys-acked"))
        alarm = wait_for(lambda: db.alarms.find_one({"component": "keys-acked"}), what="alarm")
        path = f"/api/v2/alarms/{alarm['_id']}"
        acked = api.simulate_post(f"{path}/ack", json={"output": "on it"}, headers=key_of(nagios))
        assert acked.status_code == 202, acked.text
        commented = api.simulate_post(
            f"{path}/comment", json={"output": "seen too"}, headers=key_of(zabbix)
        )
        assert commented.status_code == 202, commented.text

        def commented_alarm() -> dict | None:
            doc = api.simulate_get(path, headers=key_of(nagios)).json
            return doc if doc["steps"][-1]["_t"] == "comment" else None

        done = wait_for(commented_alarm, what="the comment step")
        authors = {step["_t"]: step["a"] for step in done["steps"]}
        assert authors["ack"] == f"key:{nagios[0]['_id']}/nagios"
        assert authors["comment"] == f"key:{zabbix[0]['_id']}/zabbix"
        assert done["ack"]["a"] == f"key:{nagios[0]['_id']}/nagios"
        me = api.simulate_get("/api/v2/auth/me", headers=key_of(zabbix)).json
        assert me["author"] == f"key:{zabbix[0]['_id']}/zabbix" and me["name"] == "ops"
