"""The eventfilter and deadletters webservices (in process, on the embedded MongoDB)."""

import json
import time

import kombu
import pytest
from conftest import ApiClient, author_of, error

from canopsis.domain.event import FieldError
from canopsis.runtime import deadletters

pytestmark = pytest.mark.integration

RULES = "/api/v2/eventfilter/rules"


def rule(rule_id: str, priority: int = 0, **more) -> dict:
    return {
        "_id": rule_id,
        "priority": priority,
        "match": {"resource": {"$regex": "^disk"}},
        "actions": [{"type": "set", "field": "site", "value": "paris"}],
        **more,
    }


def test_rules_are_created_listed_read_replaced_and_deleted(api):
    admin, viewer = api.as_role("admin"), api.as_role("viewer")
    before = time.time()
    for made in (rule("b", 5), rule("z", 0), rule("a", 5)):
        resp = api.simulate_post(RULES, json=made, headers=admin)
        assert resp.status_code == 201, resp.text
        assert resp.json["author"] == author_of(admin)
        assert before <= resp.json["created"] == resp.json["updated"] <= time.time()
    listed = api.simulate_get(RULES, headers=viewer)
    assert [r["_id"] for r in listed.json["items"]] == ["z", "a", "b"]
    one = api.simulate_get(f"{RULES}/a", headers=viewer)
    assert one.status_code == 200 and one.json["match"] == {"resource": {"$regex": "^disk"}}
    created = one.json["created"]

    api.db.eventfilter_rules.update_one({"_id": "a"}, {"$set": {"hits": 7, "last_hit": 123.0}})
    replaced = api.simulate_put(
        f"{RULES}/a",
        json={"match": {}, "actions": [{"type": "drop"}], "priority": -1},
        headers=admin,
    )
    assert replaced.status_code == 200, replaced.text
    stored = api.db.eventfilter_rules.find_one({"_id": "a"})
    assert stored["actions"] == [{"type": "drop"}] and stored["match"] == {}
    assert stored["hits"] == 7 and stored["last_hit"] == 123.0 and stored["created"] == created
    assert stored["updated"] >= created and stored["author"] == author_of(admin)
    assert replaced.json == stored
    same_id = api.simulate_put(f"{RULES}/a", json=rule("a", 3), headers=admin)
    assert same_id.status_code == 200 and same_id.json["priority"] == 3
    assert [r["_id"] for r in api.simulate_get(RULES, headers=viewer).json["items"]] == [
        "z",
        "a",
        "b",
    ]

    assert api.simulate_delete(f"{RULES}/a", headers=admin).status_code == 204
    assert api.simulate_get(f"{RULES}/a", headers=viewer).status_code == 404
    assert api.simulate_delete(f"{RULES}/a", headers=admin).status_code == 404
    assert api.simulate_get(RULES, headers=viewer).json["total"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"match": {}, "actions": []}, "_id"),
        (rule("x", priority="high"), "priority"),
        (rule("x", brake=True), "brake"),
        ({"_id": "x", "actions": []}, "match"),
        (rule("x", actions=[{"type": "explode"}]), "actions.0.type"),
        (rule("x", actions=[{"type": "remove", "field": "component"}]), "actions.0.field"),
        (rule("x", hits=100), "hits"),
        (rule("", priority=0), "_id"),
        ([rule("x")], "body"),
    ],
)
def test_a_bad_rule_is_400_naming_the_field(api, body, field):
    resp = api.simulate_post(RULES, json=body, headers=api.as_role("admin"))
    assert resp.status_code == 400, resp.text
    assert field in error(resp)["fields"]
    assert api.db.eventfilter_rules.count_documents({}) == 0


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"(disk)\1", r"invalid escape sequence: \1"),
        ("disk(?!1)", "invalid perl operator: (?!"),
    ],
)
def test_a_pattern_re2_cannot_run_is_400_naming_the_field_and_the_reason(api, regex, reason):
    """Backreferences and lookaround need backtracking: refused, so no rule can stall a worker."""
    body = rule("re", match={"$or": [{"output": {"$regex": regex, "$options": "i"}}]})
    resp = api.simulate_post(RULES, json=body, headers=api.as_role("admin"))
    assert resp.status_code == 400, resp.text
    assert error(resp)["fields"] == {
        "match.$or.0.output.$regex": f"bad regular expression (RE2 syntax): {reason}"
    }
    assert api.db.eventfilter_rules.find_one({"_id": "re"}) is None


def test_the_error_the_engine_writes_is_shown_and_cannot_be_sent(api):
    api.db.eventfilter_rules.insert_one({**rule("old"), "error": "match: why it is skipped"})
    shown = api.simulate_get(f"{RULES}/old", headers=api.as_role("viewer"))
    assert shown.json["error"] == "match: why it is skipped"
    sent = api.simulate_post(RULES, json=rule("new", error="x"), headers=api.as_role("admin"))
    assert sent.status_code == 400
    assert error(sent)["fields"] == {"error": "set by canopsis, not by a client"}


def test_a_body_that_is_not_json_is_400(api):
    resp = api.simulate_post(
        RULES,
        body="{not json",
        headers={**api.as_role("admin"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and "body" in error(resp)["fields"]


def test_a_duplicate_rule_is_409(api):
    admin = api.as_role("admin")
    assert api.simulate_post(RULES, json=rule("dup"), headers=admin).status_code == 201
    again = api.simulate_post(RULES, json=rule("dup", 9), headers=admin)
    assert again.status_code == 409
    assert "_id" in error(again)["fields"]
    assert api.db.eventfilter_rules.find_one({"_id": "dup"})["priority"] == 0


def test_a_replacement_is_checked_and_needs_an_existing_rule(api):
    admin = api.as_role("admin")
    api.simulate_post(RULES, json=rule("r"), headers=admin)
    other_id = api.simulate_put(f"{RULES}/r", json=rule("s"), headers=admin)
    assert other_id.status_code == 400 and "_id" in error(other_id)["fields"]
    bad = api.simulate_put(f"{RULES}/r", json=rule("r", enabled="yes"), headers=admin)
    assert bad.status_code == 400 and "enabled" in error(bad)["fields"]
    unknown = api.simulate_put(f"{RULES}/nope", json=rule("nope"), headers=admin)
    assert unknown.status_code == 404
    assert api.db.eventfilter_rules.find_one({"_id": "nope"}) is None
    assert api.db.eventfilter_rules.find_one({"_id": "r"})["priority"] == 0


def test_only_an_admin_writes_rules(api):
    api.db.eventfilter_rules.insert_one(rule("kept"))
    for role in ("viewer", "operator"):
        headers = api.as_role(role)
        assert api.simulate_post(RULES, json=rule("new"), headers=headers).status_code == 403
        assert (
            api.simulate_put(f"{RULES}/kept", json=rule("kept"), headers=headers).status_code == 403
        )
        assert api.simulate_delete(f"{RULES}/kept", headers=headers).status_code == 403
        assert api.simulate_get(f"{RULES}/kept", headers=headers).status_code == 200
    assert api.db.eventfilter_rules.count_documents({}) == 1
    assert api.simulate_get(RULES).status_code == 401


LETTERS = "/api/v2/deadletters"


def insert_letters(db, count: int, start: float = 1_700_000_000.0) -> list[str]:
    ids = []
    for i in range(count):
        letter_id = f"{i:032x}"
        doc = deadletters.letter(
            letter_id,
            json.dumps({"n": i}),
            [FieldError("state", "is required for a check event")],
            f"nagios.paris.check.resource.srv{i}.disk",
            "cleaner",
            start + i * 60,
        )
        db[deadletters.COLLECTION].insert_one(doc)
        ids.append(letter_id)
    return ids


def test_dead_letters_are_listed_newest_first_paged_and_read(api):
    viewer = api.as_role("viewer")
    ids = insert_letters(api.db, 5)
    first = api.simulate_get(LETTERS, params={"limit": 2}, headers=viewer)
    assert first.status_code == 200, first.text
    assert first.json["total"] == 5 and first.json["limit"] == 2
    assert [d["_id"] for d in first.json["items"]] == [ids[4], ids[3]]
    last = api.simulate_get(LETTERS, params={"limit": 2, "page": 3}, headers=viewer)
    assert [d["_id"] for d in last.json["items"]] == [ids[0]]
    one = api.simulate_get(f"{LETTERS}/{ids[2]}", headers=viewer)
    assert one.status_code == 200
    assert one.json["body"] == '{"n": 2}' and one.json["time"] == 1_700_000_120
    assert one.json["reasons"] == [{"field": "state", "reason": "is required for a check event"}]
    assert api.simulate_get(f"{LETTERS}/nope", headers=viewer).status_code == 404
    bad = api.simulate_get(LETTERS, params={"page": "-1"}, headers=viewer)
    assert bad.status_code == 400 and "page" in error(bad)["fields"]


def test_dead_letters_are_purged_before_a_time_or_all(api):
    admin = api.as_role("admin")
    insert_letters(api.db, 5)
    bad = api.simulate_delete(LETTERS, params={"before": "soon"}, headers=admin)
    assert bad.status_code == 400 and "before" in error(bad)["fields"]
    huge = api.simulate_delete(LETTERS, params={"before": "1e300"}, headers=admin)
    assert huge.status_code == 400 and "before" in error(huge)["fields"]
    denied = api.simulate_delete(LETTERS, headers=api.as_role("operator"))
    assert denied.status_code == 403
    some = api.simulate_delete(LETTERS, params={"before": 1_700_000_120}, headers=admin)
    assert some.status_code == 200 and some.json == {"deleted": 2}
    assert api.db[deadletters.COLLECTION].count_documents({}) == 3
    rest = api.simulate_delete(LETTERS, headers=admin)
    assert rest.json == {"deleted": 3}


def test_replay_needs_an_admin_and_a_known_letter(api):
    ids = insert_letters(api.db, 1)
    viewer = api.simulate_post(f"{LETTERS}/{ids[0]}/replay", headers=api.as_role("operator"))
    assert viewer.status_code == 403
    unknown = api.simulate_post(f"{LETTERS}/nope/replay", headers=api.as_role("admin"))
    assert unknown.status_code == 404
    assert api.db[deadletters.COLLECTION].count_documents({}) == 1


def test_a_replayed_dead_letter_is_published_again_and_deleted(services, mongo_db):
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    letter_id = "ab" * 16
    body = b'{"connector": "nagios", "state": \xff}'  # not UTF-8: stored as base64
    key = "nagios.paris.check.resource.srv1.disk"
    doc = deadletters.letter(letter_id, body, [], key, "cleaner", time.time())
    assert doc["body_encoding"] == "base64"
    mongo_db[deadletters.COLLECTION].insert_one(doc)
    exchange = kombu.Exchange("canopsis.events", type="topic", durable=True)
    with kombu.Connection(services.amqp_url) as conn:
        queue = kombu.Queue(exchange=exchange, routing_key=key, exclusive=True, auto_delete=True)
        bound = queue(conn.default_channel)
        bound.declare()
        resp = api.simulate_post(f"{LETTERS}/{letter_id}/replay", headers=api.as_role("admin"))
        assert resp.status_code == 202, resp.text
        assert resp.json == {"replayed": letter_id, "routing_key": key, "corrected": False}
        deadline = time.monotonic() + 10
        message = None
        while message is None and time.monotonic() < deadline:
            message = bound.get(no_ack=True, accept=["application/json", "application/data"])
            if message is None:
                time.sleep(0.05)
        assert message is not None
        assert message.body == body
        assert message.delivery_info["routing_key"] == key
    assert mongo_db[deadletters.COLLECTION].find_one({"_id": letter_id}) is None


def corrected(component: str, **more) -> dict:
    return {
        "connector": "nagios",
        "connector_name": "paris",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": "disk",
        "state": 2,
        **more,
    }


def test_a_corrected_replay_needs_an_admin_and_a_valid_event(api):
    [letter_id] = insert_letters(api.db, 1)
    replay = f"{LETTERS}/{letter_id}/replay"
    denied = api.simulate_post(replay, json=corrected("srv0"), headers=api.as_role("operator"))
    assert denied.status_code == 403 and "admin role" in error(denied)["message"]
    admin = api.as_role("admin")
    invalid = {**corrected("srv0"), "state": "broken"}
    bad = api.simulate_post(replay, json=invalid, headers=admin)
    assert bad.status_code == 400, bad.text
    assert error(bad)["message"] == "the corrected event is not valid"
    assert set(error(bad)["fields"]) == {"state"}
    listed = api.simulate_post(replay, json=[corrected("srv0")], headers=admin)
    assert listed.status_code == 400 and set(error(listed)["fields"]) == {"body"}
    unknown = api.simulate_post(f"{LETTERS}/nope/replay", json=corrected("x"), headers=admin)
    assert unknown.status_code == 404
    [kept] = api.db[deadletters.COLLECTION].find()
    assert "replays" not in kept and kept["body"] == '{"n": 0}'


def test_a_corrected_replay_publishes_only_the_valid_correction_and_keeps_the_letter(
    services, mongo_db
):
    api = ApiClient(mongo_db, services.prefix / "etc" / "amqp.conf")
    [letter_id] = insert_letters(mongo_db, 1)
    admin = api.as_role("admin")
    replay = f"{LETTERS}/{letter_id}/replay"
    key = "nagios.paris.check.resource.fixed.disk"
    exchange = kombu.Exchange("canopsis.events", type="topic", durable=True)
    with kombu.Connection(services.amqp_url) as conn:
        queue = kombu.Queue(exchange=exchange, routing_key="nagios.#", exclusive=True)
        bound = queue(conn.default_channel)
        bound.declare()
        bad = api.simulate_post(replay, json=corrected("fixed", state=9), headers=admin)
        assert bad.status_code == 400 and set(error(bad)["fields"]) == {"state"}
        resp = api.simulate_post(replay, json=corrected("fixed"), headers=admin)
        assert resp.status_code == 202, resp.text
        assert resp.json == {"replayed": letter_id, "routing_key": key, "corrected": True}
        deadline = time.monotonic() + 10
        messages = []
        while time.monotonic() < deadline and not messages:
            message = bound.get(no_ack=True, accept=["application/json"])
            if message is None:
                time.sleep(0.05)
            else:
                messages.append(message)
        # the refused correction, had it been published, would have come first
        assert [json.loads(m.body)["state"] for m in messages] == [2]
        assert messages[0].delivery_info["routing_key"] == key
        assert bound.get(no_ack=True) is None
    shown = api.simulate_get(f"{LETTERS}/{letter_id}", headers=api.as_role("viewer")).json
    assert shown["body"] == '{"n": 0}' and shown["reasons"][0]["field"] == "state"
    [replayed] = shown["replays"]
    assert replayed["by"] == author_of(admin) and replayed["routing_key"] == key
    assert json.loads(replayed["body"])["state"] == 2
    assert time.time() - 60 < replayed["time"] <= time.time()
    deleted = api.simulate_delete(f"{LETTERS}/{letter_id}", headers=admin)
    assert deleted.status_code == 204
    assert api.simulate_get(f"{LETTERS}/{letter_id}", headers=admin).status_code == 404
