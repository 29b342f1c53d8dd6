from datetime import datetime

import pytest

from canopsis.domain import metrics
from canopsis.domain.metrics import ensure_indexes, fetch, gather, list_metrics, write_points

pytestmark = pytest.mark.integration

H = 1_795_428_000  # an hour's start
ENTITY = "cpu/vm"


def entry(value, name="percent-user", **meta) -> dict:
    return {"metric": name, "value": value} | meta


def described(unit=None, min=None, max=None, warn=None, crit=None) -> dict:
    return {"unit": unit, "min": min, "max": max, "warn": warn, "crit": crit}


def write(db, *points, entity=ENTITY) -> None:
    write_points(db, [(entity, entry(value), t) for t, value in points])


@pytest.fixture
def db(mongo_db):
    ensure_indexes(mongo_db)
    return mongo_db


def buckets(db) -> list[tuple[datetime, dict]]:
    found = db.perfdata.find({}, {"_id": 0, "bucket": 1, "points": 1})
    return sorted((doc["bucket"], doc["points"]) for doc in found)


def test_points_land_in_hour_buckets_at_their_second(db):
    write(db, (H, 1.0), (H + 10.7, 2.0), (H + 3599, 3.0), (H + 3600, 4.0))
    assert buckets(db) == [
        (datetime(2026, 11, 23, 10, 0), {"0": 1.0, "10": 2.0, "3599": 3.0}),
        (datetime(2026, 11, 23, 11, 0), {"0": 4.0}),
    ]


def test_a_batch_makes_one_write_per_bucket_and_per_metric():
    points = [(ENTITY, entry(float(i)), H + 10 * i) for i in range(360)]
    points += [(ENTITY, entry(1.0, "percent-idle"), H), (ENTITY, entry(2.0), H + 3600)]
    batch = gather(points)
    assert (len(batch.buckets), len(batch.newest)) == (3, 2)


def test_a_point_written_twice_is_stored_once(db):
    write(db, (H + 20, 5.0))
    write(db, (H + 20, 5.0))
    assert buckets(db) == [(datetime(2026, 11, 23, 10, 0), {"20": 5.0})]
    write(db, (H + 20, 6.0))
    assert fetch(db, ENTITY, "percent-user", H, H + 60, max_points=60)["points"] == [[H + 20, 6.0]]


def test_the_newest_point_describes_the_metric(db):
    write_points(
        db,
        [
            (ENTITY, entry(5.0, **described("%", 0.0, 100.0, 80.0, 90.0)), H + 10),
            (ENTITY, entry(4.0, **described("%", 0.0, 100.0, 70.0, 90.0)), H),
            (ENTITY, entry(1.0, "percent-idle", unit="%"), H),
        ],
    )
    assert list_metrics(db, ENTITY) == [
        {"metric": "percent-idle", **described("%"), "last_seen": H},
        {"metric": "percent-user", **described("%", 0.0, 100.0, 80.0, 90.0), "last_seen": H + 10},
    ]
    write_points(db, [(ENTITY, entry(6.0, unit="%", warn="~:85"), H + 20)])
    assert fetch(db, ENTITY, "percent-user", H, H + 60)["meta"] == described("%", warn="~:85")
    write(db, (H, 4.0))
    assert list_metrics(db, ENTITY)[1]["last_seen"] == H + 20
    assert list_metrics(db, "other") == []


def test_an_unknown_value_stores_no_point_but_describes_the_metric(db):
    write_points(db, [(ENTITY, entry(None, unit="B"), H)])
    assert buckets(db) == []
    assert [m["metric"] for m in list_metrics(db, ENTITY)] == ["percent-user"]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("mean", [[H, 2.5], [H + 20, 5.0]]),
        ("min", [[H, 1.0], [H + 20, 2.0]]),
        ("max", [[H, 4.0], [H + 20, 8.0]]),
        ("sum", [[H, 5.0], [H + 20, 10.0]]),
        ("first", [[H, 1.0], [H + 20, 2.0]]),
        ("last", [[H, 4.0], [H + 20, 8.0]]),
        ("delta", [[H, 3.0], [H + 20, 6.0]]),
    ],
)
def test_each_interval_is_aggregated(db, aggregation, expected):
    write(db, (H + 30, 8.0), (H + 10, 4.0), (H, 1.0), (H + 20, 2.0))
    result = fetch(db, ENTITY, "percent-user", H, H + 40, aggregation, max_points=2)
    assert (result["step"], result["points"]) == (20, expected)


def test_max_points_is_respected(db):
    write(db, *[(H + 10 * i, 1.0) for i in range(360)])
    result = fetch(db, ENTITY, "percent-user", H, H + 3600, "sum", max_points=7)
    assert result["step"] == 515
    assert [t for t, _ in result["points"]] == [H + 515 * i for i in range(7)]
    assert sum(value for _, value in result["points"]) == 360
    raw = fetch(db, ENTITY, "percent-user", H, H + 3600, max_points=3600)["points"]
    assert raw == [[H + 10 * i, 1.0] for i in range(360)]


def test_the_window_includes_start_and_excludes_end(db):
    write(db, (H - 1, 0.0), (H, 1.0), (H + 10, 2.0), (H + 20, 3.0))
    result = fetch(db, ENTITY, "percent-user", H, H + 20, max_points=20)
    assert result["points"] == [[H, 1.0], [H + 10, 2.0]]


def test_a_window_across_two_buckets(db):
    write(db, (H + 3590, 1.0), (H + 3605, 2.0), (H + 7200, 9.0))
    result = fetch(db, ENTITY, "percent-user", H + 3500, H + 3700, "delta", max_points=1)
    assert result["points"] == [[H + 3500, 1.0]]
    result = fetch(db, ENTITY, "percent-user", H + 3500, H + 3700, max_points=200)
    assert result["points"] == [[H + 3590, 1.0], [H + 3605, 2.0]]


def test_an_empty_window(db):
    write(db, (H, 1.0))
    result = fetch(db, ENTITY, "percent-user", H + 60, H + 120)
    assert result["points"] == []
    assert result["meta"] is not None
    unknown = fetch(db, ENTITY, "nope", H, H + 60)
    assert (unknown["points"], unknown["meta"]) == ([], None)


def test_metrics_of_other_entities_do_not_mix(db):
    write(db, (H, 1.0))
    write(db, (H, 2.0), entity="cpu/db")
    assert fetch(db, "cpu/db", "percent-user", H, H + 1)["points"] == [[H, 2.0]]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"aggregation": "median"}, "aggregation: unknown 'median', expected one of: mean,"),
        ({"end": H - 1}, f"end: must be after start ({H}), got {H - 1}"),
        ({"end": H}, f"end: must be after start ({H}), got {H}"),
        ({"max_points": 0}, "max_points: must be an integer of at least 1, got 0"),
        ({"max_points": 2.5}, "max_points: must be an integer of at least 1, got 2.5"),
        ({"start": "yesterday"}, "start: must be a number of seconds since the epoch"),
    ],
)
def test_invalid_fetch_parameters_are_named(db, arguments, message):
    parameters = {"start": H, "end": H + 60} | arguments
    with pytest.raises(ValueError) as raised:
        fetch(db, ENTITY, "percent-user", **parameters)
    assert str(raised.value).startswith(message)


def test_queries_go_through_the_bucket_index(db):
    write(db, (H, 1.0))
    query = {
        "entity_id": ENTITY,
        "metric": "percent-user",
        "bucket": {"$gte": datetime(2026, 1, 1)},
    }
    plan = str(db.perfdata.find(query).explain()["queryPlanner"]["winningPlan"])
    assert "entity_id_1_metric_1_bucket_1" in plan


def test_retention_is_a_ttl_that_can_be_changed(db):
    ttl = db.perfdata.index_information()["bucket_ttl"]["expireAfterSeconds"]
    assert ttl == metrics.DEFAULT_RETENTION_DAYS * 86400 + metrics.BUCKET_SECONDS
    ensure_indexes(db, retention_days=7)
    assert db.perfdata.index_information()["bucket_ttl"]["expireAfterSeconds"] == 7 * 86400 + 3600
    assert db.metrics.index_information()["last_seen_ttl"]["expireAfterSeconds"] == 7 * 86400
    with pytest.raises(ValueError, match="retention_days: must be at least 1, got 0"):
        ensure_indexes(db, retention_days=0)
