"""The heartbeats webservice (in process, on the embedded MongoDB)."""

import time

import pytest

from tests.conftest import author_of, error

pytestmark = pytest.mark.integration

HEARTBEATS = "/api/v2/heartbeats"


def definition(heartbeat_id: str, interval: float = 60, **more) -> dict:
    return {
        "_id": heartbeat_id,
        "match": {"connector_name": heartbeat_id},
        "interval": interval,
        **more,
    }


def test_heartbeats_are_created_listed_read_replaced_and_deleted(api):
    admin, viewer = api.as_role("admin"), api.as_role("viewer")
    before = time.time()
    for made in (definition("b"), definition("c"), definition("a", name="alpha")):
        resp = api.simulate_post(HEARTBEATS, json=made, headers=admin)
        assert resp.status_code == 201, resp.text
        assert resp.json["author"] == author_of(admin)
        assert before <= resp.json["created"] == resp.json["updated"] <= time.time()
    listed = api.simulate_get(HEARTBEATS, headers=viewer)
    assert listed.status_code == 200
    assert [h["_id"] for h in listed.json["items"]] == ["a", "b", "c"]
    assert listed.json["total"] == 3
    one = api.simulate_get(f"{HEARTBEATS}/a", headers=viewer)
    assert one.status_code == 200 and one.json["name"] == "alpha"
    created = one.json["created"]

    replaced = api.simulate_put(f"{HEARTBEATS}/a", json={"match": {}, "interval": 5}, headers=admin)
    assert replaced.status_code == 200, replaced.text
    stored = api.db.heartbeats.find_one({"_id": "a"})
    assert stored["interval"] == 5 and stored["match"] == {} and "name" not in stored
    assert stored["created"] == created and stored["updated"] >= created
    assert replaced.json == stored
    same_id = api.simulate_put(f"{HEARTBEATS}/a", json=definition("a", 7), headers=admin)
    assert same_id.status_code == 200 and same_id.json["interval"] == 7
    other_id = api.simulate_put(f"{HEARTBEATS}/a", json=definition("z"), headers=admin)
    assert other_id.status_code == 400 and "_id" in error(other_id)["fields"]

    api.db.heartbeat_states.insert_one({"_id": "a", "last_seen": None, "late": False, "since": 1.0})
    assert api.simulate_delete(f"{HEARTBEATS}/a", headers=admin).status_code == 204
    assert api.db.heartbeat_states.find_one({"_id": "a"}) is None
    assert api.simulate_get(f"{HEARTBEATS}/a", headers=viewer).status_code == 404
    assert api.simulate_delete(f"{HEARTBEATS}/a", headers=admin).status_code == 404
    assert api.simulate_get(HEARTBEATS, headers=viewer).json["total"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"match": {}, "interval": 60}, "_id"),
        (definition("x", interval=0), "interval"),
        (definition("x", interval="soon"), "interval"),
        ({"_id": "x", "interval": 60}, "match"),
        (definition("x", color="red"), "color"),
        (definition("x", author="me"), "author"),
        (definition("x", parent="x"), "parent"),
    ],
)
def test_a_bad_definition_is_400_naming_the_field(api, body, field):
    resp = api.simulate_post(HEARTBEATS, json=body, headers=api.as_role("admin"))
    assert resp.status_code == 400, resp.text
    assert field in error(resp)["fields"]
    assert api.db.heartbeats.count_documents({}) == 0


def test_a_taken_id_is_409_and_an_unknown_one_404(api):
    admin = api.as_role("admin")
    assert api.simulate_post(HEARTBEATS, json=definition("a"), headers=admin).status_code == 201
    again = api.simulate_post(HEARTBEATS, json=definition("a", 5), headers=admin)
    assert again.status_code == 409 and error(again)["fields"] == {"_id": "taken"}
    assert api.db.heartbeats.find_one({"_id": "a"})["interval"] == 60
    for method in ("GET", "DELETE"):
        resp = api.simulate_request(method, f"{HEARTBEATS}/nope", headers=admin)
        assert resp.status_code == 404 and error(resp)["code"] == 404
    put = api.simulate_put(f"{HEARTBEATS}/nope", json=definition("nope"), headers=admin)
    assert put.status_code == 404


def test_a_viewer_reads_but_does_not_write(api):
    admin, viewer = api.as_role("admin"), api.as_role("viewer")
    assert api.simulate_post(HEARTBEATS, json=definition("a"), headers=admin).status_code == 201
    assert api.simulate_post(HEARTBEATS, json=definition("b"), headers=viewer).status_code == 403
    put = api.simulate_put(f"{HEARTBEATS}/a", json=definition("a", 5), headers=viewer)
    assert put.status_code == 403
    assert api.simulate_delete(f"{HEARTBEATS}/a", headers=viewer).status_code == 403
    assert api.db.heartbeats.find_one({"_id": "a"})["interval"] == 60
    assert api.simulate_get(f"{HEARTBEATS}/a", headers=viewer).status_code == 200
    assert api.simulate_get(f"{HEARTBEATS}/status", headers=viewer).status_code == 200


def test_status_tells_last_seen_late_and_silence(api):
    admin = api.as_role("admin")
    for made in (definition("seen", 30), definition("never", name="never seen"), definition("new")):
        assert api.simulate_post(HEARTBEATS, json=made, headers=admin).status_code == 201
    now = time.time()
    api.db.heartbeat_states.insert_many(
        [
            {"_id": "seen", "last_seen": now - 100, "late": True, "since": now - 1000},
            {"_id": "never", "late": False, "since": now - 10},
        ]
    )
    resp = api.simulate_get(f"{HEARTBEATS}/status", headers=api.as_role("viewer"))
    assert resp.status_code == 200, resp.text
    items = {item["_id"]: item for item in resp.json["items"]}
    assert [item["_id"] for item in resp.json["items"]] == ["never", "new", "seen"]
    assert resp.json["total"] == 3
    seen = items["seen"]
    assert seen["name"] == "seen" and seen["interval"] == 30 and seen["late"] is True
    assert seen["last_seen"] == pytest.approx(now - 100)
    assert 100 <= seen["silent_for"] < 110
    never = items["never"]
    assert never["name"] == "never seen" and never["last_seen"] is None
    assert never["late"] is False and 10 <= never["silent_for"] < 20
    assert items["new"] == {
        "_id": "new",
        "name": "new",
        "interval": 60,
        "last_seen": None,
        "late": False,
        "silent_for": None,
    }


def test_a_definition_breaking_the_tree_is_400_naming_its_field(api):
    admin = api.as_role("admin")
    assert (
        api.simulate_post(HEARTBEATS, json=definition("relay", 60), headers=admin).status_code
        == 201
    )
    leaf = definition("leaf", 30, parent="relay")
    assert api.simulate_post(HEARTBEATS, json=leaf, headers=admin).status_code == 201

    slow = api.simulate_post(HEARTBEATS, json=definition("slow", 90, parent="relay"), headers=admin)
    assert slow.status_code == 400
    assert (
        "must be greater than the interval of its child 'slow'" in error(slow)["fields"]["parent"]
    )
    orphan = api.simulate_post(HEARTBEATS, json=definition("x", 5, parent="nosuch"), headers=admin)
    assert error(orphan)["fields"] == {"parent": "unknown heartbeat 'nosuch'"}
    # the parent's own change is refused where it breaks the rule for a child
    shrunk = api.simulate_put(f"{HEARTBEATS}/relay", json=definition("relay", 20), headers=admin)
    assert shrunk.status_code == 400 and "'leaf'" in error(shrunk)["fields"]["interval"]
    loop = api.simulate_put(
        f"{HEARTBEATS}/relay", json=definition("relay", 60, parent="leaf"), headers=admin
    )
    assert loop.status_code == 400 and "parent" in error(loop)["fields"]
    assert api.db.heartbeats.find_one({"_id": "relay"})["interval"] == 60
    assert api.db.heartbeats.count_documents({"_id": {"$in": ["slow", "x"]}}) == 0
    fine = api.simulate_put(f"{HEARTBEATS}/relay", json=definition("relay", 45), headers=admin)
    assert fine.status_code == 200, fine.text
