"""Conditional GETs: every JSON answer of a GET has an ETag, and a client that sends it back
with If-None-Match while nothing changed gets a 304 without a body (a polling console costs
a few bytes per unchanged list)."""

import pytest

pytestmark = pytest.mark.integration


def test_an_unchanged_list_is_304_and_a_changed_one_a_new_200(api):
    headers = api.as_role("viewer")
    api.db.alarms.insert_one({"_id": "a1", "entity_id": "e1", "resolved": None, "component": "c"})
    first = api.simulate_get("/api/v2/alarms", headers=headers)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    tag = first.headers["ETag"]
    again = api.simulate_get("/api/v2/alarms", headers={**headers, "If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    api.db.alarms.update_one({"_id": "a1"}, {"$set": {"component": "changed"}})
    changed = api.simulate_get("/api/v2/alarms", headers={**headers, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert changed.json["items"][0]["component"] == "changed"


def test_an_error_has_no_etag(api):
    resp = api.simulate_get("/api/v2/alarms", headers={"If-None-Match": "*"})
    assert resp.status_code == 401 and "ETag" not in resp.headers
