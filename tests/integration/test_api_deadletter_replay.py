"""A dead letter replayed with a corrected body becomes an alarm through the running engine
chain, and the letter stays readable as it was refused, with the replay beside it."""

import json

import pytest

from tests.conftest import ApiClient, author_of
from tests.integration.test_pipeline import (  # noqa: F401 (db, pipeline, site: fixtures)
    db,
    event,
    pipeline,
    send,
    site,
    wait_for,
)

pytestmark = pytest.mark.integration


class TestReplayWithACorrectedBody:
    def test_turns_a_refused_event_into_an_alarm_and_keeps_the_original(
        self,
        pipeline,  # noqa: F811
        site,  # noqa: F811
        db,  # noqa: F811
    ):
        api = ApiClient(db, site.prefix / "etc" / "amqp.conf")
        refused = event("replay-fixed", connector_name="replay")
        del refused["state"]
        send(site.amqp_url, refused)
        letter = wait_for(
            lambda: db.dead_letters.find_one({"body": {"$regex": "replay-fixed"}}),
            what="the dead letter",
        )
        assert db.alarms.find_one({"component": "replay-fixed"}) is None
        admin = api.as_role("admin")
        fixed = {**refused, "state": 2, "output": "fixed by hand"}
        resp = api.simulate_post(
            f"/api/v2/deadletters/{letter['_id']}/replay", json=fixed, headers=admin
        )
        assert resp.status_code == 202, resp.text
        alarm = wait_for(
            lambda: db.alarms.find_one({"component": "replay-fixed"}), what="the alarm"
        )
        assert alarm["state"]["val"] == 2 and alarm["output"] == "fixed by hand"
        shown = api.simulate_get(
            f"/api/v2/deadletters/{letter['_id']}", headers=api.as_role("viewer")
        )
        assert shown.status_code == 200
        assert json.loads(shown.json["body"]) == refused
        assert [r["field"] for r in shown.json["reasons"]] == ["state"]
        [replay] = shown.json["replays"]
        assert replay["by"] == author_of(admin)
        assert json.loads(replay["body"])["state"] == 2
