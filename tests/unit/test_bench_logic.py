"""The pure parts of bench/: percentiles, the event mix and its expected counts, the storm."""

import math
import time

import pytest

from bench import pipeline, rest, storm
from bench.mix import Mix, Shape, expected, output_seq
from bench.stats import percentile, summary
from canopsis.domain import alarm, event


def test_percentile_is_the_nearest_rank():
    samples = list(range(1, 101))
    assert percentile(samples, 50) == 50
    assert percentile(samples, 95) == 95
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_summary_names_each_point():
    assert summary([1, 2, 3, 4], (50, 95)) == {
        "count": 4,
        "p50": 2,
        "p95": 4,
        "max": 4,
        "mean": 2.5,
    }


def test_the_mix_has_the_shares_and_only_valid_events():
    mix = Mix(seed=3, tag="t")
    events = mix.seed_events() + [mix.next() for _ in range(20_000)]
    kinds = [e["event_type"] for e in events[len(mix.seeded) :]]
    assert kinds.count("check") / len(kinds) == pytest.approx(0.80, abs=0.02)
    assert kinds.count("perf") / len(kinds) == pytest.approx(0.15, abs=0.02)
    assert all(not event.validate(e, 1e10) for e in events)
    entities = {event.entity_id(e) for e in events}
    assert len(entities) <= 10_000
    assert len({(e["connector"], e["connector_name"]) for e in events}) == 20
    perf = [e for e in events if e["event_type"] == "perf"]
    assert all(len(e["perf_data_array"]) == 3 for e in perf)
    seconds = [(event.entity_id(e), e["timestamp"]) for e in perf]
    assert len(set(seconds)) == len(seconds)


def test_actions_only_target_seeded_alarms():
    mix = Mix(Shape(seeded=0.1), seed=4, tag="t")
    seeded = {event.entity_id(e) for e in mix.seed_events()}
    actions = [e for e in (mix.next() for _ in range(5_000)) if e["event_type"] != "check"]
    assert {event.entity_id(e) for e in actions if e["event_type"] != "perf"} <= seeded


def test_about_a_tenth_of_checks_change_state():
    mix = Mix(seed=5, tag="t")
    changes = checks = 0
    for _ in range(20_000):
        before = list(mix.states)
        ev = mix.next()
        if ev["event_type"] == "check":
            checks += 1
            index = ev["component"], ev["resource"]
            number = int(index[0][5:]) * 10 + int(index[1][4:])
            changes += before[number] != ev["state"]
    assert changes / checks == pytest.approx(0.10, abs=0.01)


def test_the_output_carries_the_sequence_number():
    mix = Mix(tag="run7")
    ev = mix.check(0, 2)
    assert output_seq(ev["output"], "run7") == mix.seq
    assert output_seq(ev["output"], "run8") is None
    assert output_seq(None, "run7") is None


def test_expected_counts_of_a_small_stream():
    mix = Mix(Shape(components=2, resources=2, connectors=2), tag="t")
    a, b = mix.check(0, 2), mix.check(0, 2)
    ack = mix.action(0, "ack")
    c = mix.check(1, 0)
    p = mix.perf(1)
    now = time.time()
    stream = [(e, now + i) for i, e in enumerate([a, b, ack, c, p])]
    want = expected(stream, alarm.AlarmConfig())
    assert want.events == 5
    assert want.alarms == 1
    assert want.alarm_events == 2
    assert want.events_log == 3  # first check of each entity, and the ack
    assert want.points == 3
    assert (want.connectors, want.components, want.resources) == (1, 1, 2)
    assert want.steps >= 3  # state, status, ack


def test_statement_time_is_the_growth_of_top_in_the_database_most_first():
    def ns(**times):
        zero = {op: {"time": 0, "count": 0} for op in pipeline.TOP_OPERATIONS}
        return zero | {op: {"time": t, "count": 1} for op, t in times.items()}

    before = {"note": "all times in microseconds", "cps.alarms": ns(update=1000)}
    after = {
        "note": "all times in microseconds",
        "cps.alarms": ns(update=5000, queries=2000),
        "cps.entities": ns(update=9000),
        "other.alarms": ns(update=99000),
    }
    assert pipeline.statement_time(before, after, "cps") == {
        "entities.update": 9.0,
        "alarms.update": 4.0,
        "alarms.queries": 2.0,
    }
    assert pipeline.statement_time(before, after, "cps", "count") == {
        "alarms.queries": 1,
        "entities.update": 1,
    }


def test_the_late_rate_is_what_left_the_queues_over_the_last_third():
    samples = [
        {"t": 1.0, "published": 0, "backlog": 0},
        {"t": 5.0, "published": 2000, "backlog": 900},  # before the last third
        {"t": 8.0, "published": 3000, "backlog": 1000},
        {"t": 10.0, "published": 3800, "backlog": 600},
        {"t": 12.0, "published": 4000, "backlog": 0},  # after publishing stopped
    ]
    assert pipeline.late_rate(samples, offset=1.0, seconds=9.0) == (3200 - 2000) / 2.0
    assert pipeline.late_rate(samples[:3], offset=1.0, seconds=9.0) is None


def test_storm_alarms_are_all_updated_within_the_last_minute():
    now = time.time()
    docs = rest.make_alarms(Mix(tag="t"), 0, 2000, now, spread_s=60)
    assert all(now - 60 <= doc["last_update_date"] <= now for doc in docs)
    assert {doc["state"]["val"] for doc in docs} == {1, 2, 3}
    assert 0.2 < sum(doc["ack"] is not None for doc in docs) / len(docs) < 0.4
    assert len({doc["connector_name"] for doc in docs}) == 20


def test_storm_events_are_checks_about_the_stored_alarms_most_keeping_their_state():
    docs = rest.make_alarms(Mix(tag="t"), 0, 500, time.time(), spread_s=60)
    fields = storm.FIELDS
    targets = [{**{f: d[f] for f in fields}, "state": d["state"]["val"]} for d in docs]
    stored = {tuple(t[f] for f in fields): t["state"] for t in targets}
    events = storm.Storm(targets, seed=2)
    changes = 0
    for _ in range(5000):
        ev = events.next()
        identity = tuple(ev[f] for f in fields)
        assert identity in stored and ev["event_type"] == "check" and ev["state"] in (1, 2, 3)
        assert not event.validate(ev, 1e10)
        changes += stored[identity] != ev["state"]
        stored[identity] = ev["state"]
    assert changes / 5000 == pytest.approx(1 / storm.CHANGE, abs=0.02)
