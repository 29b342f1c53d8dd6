"""What one sender can make canopsis store is bounded: outputs, steps, tags, dead letters."""

import json

import bson
import pytest

from canopsis.domain import alarm, alarmsteps, event
from canopsis.domain.event import FieldError, normalize, truncate
from canopsis.engines.cleaner import Cleaner
from canopsis.runtime import amqp, deadletters
from canopsis.runtime.chain import Chain
from canopsis.runtime.engine import EngineConf
from tests.unit.test_engine import good as check

NOW = 1_700_000_000.0
MB3 = 3_000_000
#: MongoDB's document limit
BSON_LIMIT = 16 * 1024 * 1024


def test_truncate_keeps_short_text_and_says_the_cut_of_a_long_one():
    assert truncate("short", 1024) == "short"
    cut = truncate("x" * MB3, 65536)
    assert len(cut.encode()) <= 65536
    assert cut.endswith("… [truncated: 3000000 bytes]")
    assert cut.startswith("x" * 60000)


def test_truncate_cuts_on_a_character_boundary():
    text = "é" * 40_000  # two bytes each
    for limit in (1024, 1025, 1026, 1027):
        cut = truncate(text, limit)
        assert len(cut.encode()) <= limit
        assert set(cut.split("…")[0]) == {"é"}


def test_normalize_cuts_output_and_long_output():
    ev, errors = normalize(check(output="o" * MB3, long_output="l" * 100_000), NOW)
    assert errors == []
    assert len(ev["output"].encode()) <= event.MAX_OUTPUT_BYTES
    assert ev["output"].endswith("[truncated: 3000000 bytes]")
    assert ev["long_output"].endswith("[truncated: 100000 bytes]")
    again, _ = normalize(ev, NOW)
    assert again["output"] == ev["output"]


def test_the_cleaner_cuts_outputs_to_its_option():
    cleaner = Cleaner("cleaner", {"max_output_bytes": 2048}, None)
    chain = Chain([cleaner], [EngineConf("cleaner", "x", 60, 1, 100, 100, {}, "")], lambda _n: 1)
    body = json.dumps(check(output="o" * MB3)).encode()
    [fwd] = chain.process([amqp.Delivery(body, "rk", "m1")])
    assert len(fwd.event["output"].encode()) <= 2048
    assert fwd.event["output"].endswith("… [truncated: 3000000 bytes]")


def test_a_tag_longer_than_the_limit_is_refused_with_the_reason():
    errors = event.validate(check(tags=["ok", "t" * 2000]), NOW)
    assert errors == [FieldError("tags[1]", "must be at most 1024 bytes (a label, not a text)")]


def test_no_sequence_of_events_grows_an_alarm_past_the_document_limit():
    cfg = alarm.AlarmConfig(hard_limit=1000)
    big = "o" * MB3
    current = None
    n = 0

    def apply(**fields):
        nonlocal current, n
        n += 1
        ev, errors = normalize(check(**fields), NOW)
        assert errors == []
        current = alarm.apply_event(current, ev, NOW + n, cfg, f"k{n}").alarm

    for i in range(8):  # the sequence of the issue: 8 checks of 3 MB on one entity
        apply(state=1 + i % 3, output=big, long_output=big)
    for i in range(1500):  # then every step kind an event can add, with the longest texts
        kind = ("comment", "ack", "declareticket", "ackremove")[i % 4]
        apply(
            event_type=kind,
            output=big,
            author="a" * 10_000,
            ticket="T" * 100_000,
            tags=[f"tag{i}-{'x' * 1000}"],
        )
        apply(state=1 + i % 3, output=big, tags=[f"tag{i}"])
    size = len(bson.encode(current))
    assert size < BSON_LIMIT // 4, size
    assert len(current["steps"]) <= alarmsteps.MAX_STEPS + 1
    assert current["dropped_steps"] > 0
    assert len(current["tags"]) == alarmsteps.MAX_TAGS
    assert all(len(s["m"].encode()) <= alarmsteps.MAX_STEP_TEXT for s in current["steps"])
    assert all(len(s["a"].encode()) <= alarmsteps.MAX_AUTHOR for s in current["steps"])


def test_operator_steps_are_kept_until_the_most_steps_then_counted():
    cfg = alarm.AlarmConfig()
    ev, _ = normalize(check(), NOW)
    current = alarm.apply_event(None, ev, NOW, cfg, "open").alarm
    comment, _ = normalize(check(event_type="comment", output="hello"), NOW)
    for i in range(alarmsteps.MAX_STEPS + 10):
        current = alarm.apply_event(current, comment, NOW + i, cfg, f"c{i}").alarm
    kinds = [s["_t"] for s in current["steps"]]
    assert len(kinds) == alarmsteps.MAX_STEPS + 1
    assert kinds[-1] == "hardlimit"
    expected = f"{alarmsteps.MAX_STEPS} steps reached: further steps are counted"
    assert current["steps"][-1]["m"] == expected
    assert current["dropped_steps"] == 2 + 10


def test_a_dead_letter_of_a_huge_body_stays_storable_and_is_not_replayed():
    body = json.dumps(check(extra="x" * (20 * 1024 * 1024))).encode()
    reasons = [FieldError(f"f{i}", "r" * 5000) for i in range(300)]
    doc = deadletters.letter("id1", body, reasons, "rk", "alerts", NOW)
    assert len(bson.encode(doc)) < BSON_LIMIT
    assert doc["body_truncated"] == len(body)
    assert doc["body"].endswith(f"… [truncated: {len(body)} bytes]")
    assert len(doc["reasons"]) == deadletters.MAX_REASONS + 1
    assert doc["reasons"][-1]["reason"] == "and 200 more reasons"

    class Db(dict):
        def __getitem__(self, _name):
            return self

        def find_one(self, _query):
            return doc

    with pytest.raises(deadletters.Unreplayable, match="cannot be replayed"):
        deadletters.replay(Db(), "id1", lambda _body, _key: None)


def test_a_dead_letter_of_a_3_mb_body_is_kept_whole():
    body = json.dumps(check(output="o" * MB3))
    doc = deadletters.letter("id1", body, [FieldError("", "why")], "rk", "alerts", NOW)
    assert doc["body"] == body and "body_truncated" not in doc
