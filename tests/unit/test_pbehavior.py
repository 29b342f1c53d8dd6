from datetime import UTC, datetime

import pytest

from canopsis.domain import pbehavior
from canopsis.domain.match import FieldError

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def make(**fields: object) -> dict:
    doc = {
        "_id": "pb1",
        "name": "backup",
        "type": "maintenance",
        "reason": "weekly backup",
        "author": "root",
        "filter": {"component": "db1"},
        "start": utc(2026, 6, 1, 0),
        "end": utc(2026, 6, 1, 2),
    }
    doc.update(fields)
    assert pbehavior.validate(doc) == []
    return doc


# Saturday 21 March 2026, 04:00 in Paris (CET, UTC+1), one hour every week.
WEEKLY = {
    "start": utc(2026, 3, 21, 3),
    "end": utc(2026, 3, 21, 4),
    "rrule": "FREQ=WEEKLY;BYDAY=SA",
    "tz": "Europe/Paris",
}


def errors(**fields: object) -> list[str]:
    doc = {**make(), **fields}
    return [str(e) for e in pbehavior.validate({k: v for k, v in doc.items() if v is not ...})]


def test_single_window():
    doc = make()
    assert pbehavior.periods(doc, utc(2026, 5, 1, 0), utc(2026, 7, 1, 0)) == [
        (utc(2026, 6, 1, 0), utc(2026, 6, 1, 2))
    ]
    assert pbehavior.periods(doc, utc(2026, 6, 2, 0), utc(2026, 7, 1, 0)) == []
    assert pbehavior.periods(doc, utc(2026, 5, 1, 0), utc(2026, 6, 1, 0)) == []


def test_window_clipping():
    doc = make()
    assert pbehavior.periods(doc, utc(2026, 6, 1, 1), utc(2026, 6, 1, 5)) == [
        (utc(2026, 6, 1, 1), utc(2026, 6, 1, 2))
    ]
    assert pbehavior.periods(doc, utc(2026, 5, 31, 23), utc(2026, 6, 1, 1)) == [
        (utc(2026, 6, 1, 0), utc(2026, 6, 1, 1))
    ]
    weekly = make(**WEEKLY)
    window = (utc(2026, 3, 21, 3) + 1800, utc(2026, 3, 28, 3) + 600)
    assert pbehavior.periods(weekly, *window) == [
        (utc(2026, 3, 21, 3) + 1800, utc(2026, 3, 21, 4)),
        (utc(2026, 3, 28, 3), utc(2026, 3, 28, 3) + 600),
    ]


def test_open_ended():
    doc = make(end=None)
    start = utc(2026, 6, 1, 0)
    assert pbehavior.periods(doc, start - DAY, start + 1000 * DAY) == [(start, start + 1000 * DAY)]
    assert pbehavior.active(doc, start + 1000 * DAY)
    assert not pbehavior.active(doc, start - 1)
    assert pbehavior.next_change(doc, start - DAY) == start
    assert pbehavior.next_change(doc, start) is None


def test_weekly_rule_keeps_local_time_across_both_dst_changes_of_2026():
    doc = make(**WEEKLY)
    spring = pbehavior.periods(doc, utc(2026, 3, 20, 0), utc(2026, 4, 5, 0))
    assert spring == [
        (utc(2026, 3, 21, 3), utc(2026, 3, 21, 4)),  # 04:00 CET
        (utc(2026, 3, 28, 3), utc(2026, 3, 28, 4)),  # 04:00 CET, the eve of the change
        (utc(2026, 4, 4, 2), utc(2026, 4, 4, 3)),  # 04:00 CEST: one hour earlier in UTC
    ]
    autumn = pbehavior.periods(doc, utc(2026, 10, 20, 0), utc(2026, 11, 1, 0))
    assert autumn == [
        (utc(2026, 10, 24, 2), utc(2026, 10, 24, 3)),  # 04:00 CEST
        (utc(2026, 10, 31, 3), utc(2026, 10, 31, 4)),  # 04:00 CET: one hour later in UTC
    ]
    hours = [datetime.fromtimestamp(begin, UTC).hour for begin, _ in spring + autumn]
    assert hours == [3, 3, 2, 2, 3]


def test_exdate_skips_one_occurrence():
    doc = make(**WEEKLY, exdates=[utc(2026, 3, 28, 3)])
    assert pbehavior.periods(doc, utc(2026, 3, 20, 0), utc(2026, 4, 5, 0)) == [
        (utc(2026, 3, 21, 3), utc(2026, 3, 21, 4)),
        (utc(2026, 4, 4, 2), utc(2026, 4, 4, 3)),
    ]
    assert not pbehavior.active(doc, utc(2026, 3, 28, 3) + 60)
    assert pbehavior.next_change(doc, utc(2026, 3, 22, 0)) == utc(2026, 4, 4, 2)


def test_first_occurrence_is_start_even_off_rule():
    # 1 June 2026 is a Monday; the rule gives Saturdays after it.
    doc = make(rrule="FREQ=WEEKLY;BYDAY=SA")
    assert pbehavior.periods(doc, utc(2026, 6, 1, 0), utc(2026, 6, 7, 0)) == [
        (utc(2026, 6, 1, 0), utc(2026, 6, 1, 2)),
        (utc(2026, 6, 6, 0), utc(2026, 6, 6, 2)),
    ]


def test_overlapping_occurrences_are_merged():
    doc = make(end=utc(2026, 6, 1, 0) + 2 * DAY, rrule="FREQ=DAILY;COUNT=3")
    assert pbehavior.periods(doc, utc(2026, 5, 1, 0), utc(2026, 7, 1, 0)) == [
        (utc(2026, 6, 1, 0), utc(2026, 6, 5, 0))
    ]


def test_secondly_rule_work_is_bounded():
    doc = make(end=utc(2026, 6, 1, 0) + 0.5, rrule="FREQ=SECONDLY")
    found = pbehavior.periods(doc, utc(2026, 6, 1, 0), utc(2027, 6, 1, 0))
    assert len(found) == pbehavior.MAX_OCCURRENCES
    assert found[-1][0] == utc(2026, 6, 1, 0) + pbehavior.MAX_OCCURRENCES - 1


def test_disabled_has_no_period():
    doc = make(enabled=False)
    assert pbehavior.periods(doc, utc(2026, 5, 1, 0), utc(2026, 7, 1, 0)) == []
    assert not pbehavior.active(doc, utc(2026, 6, 1, 1))
    assert pbehavior.next_change(doc, utc(2026, 5, 31, 0)) is None


def test_active_at_edges():
    doc = make()
    start, end = utc(2026, 6, 1, 0), utc(2026, 6, 1, 2)
    assert not pbehavior.active(doc, start - 0.001)
    assert pbehavior.active(doc, start)
    assert pbehavior.active(doc, end - 0.001)
    assert not pbehavior.active(doc, end)


def test_next_change_at_edges():
    doc = make()
    start, end = utc(2026, 6, 1, 0), utc(2026, 6, 1, 2)
    assert pbehavior.next_change(doc, start - HOUR) == start
    assert pbehavior.next_change(doc, start) == end
    assert pbehavior.next_change(doc, end - 1) == end
    assert pbehavior.next_change(doc, end) is None
    assert pbehavior.next_change(doc, start - pbehavior.HORIZON - 1) is None


def test_next_change_of_a_rule():
    doc = make(**WEEKLY)
    assert pbehavior.next_change(doc, utc(2026, 3, 21, 4)) == utc(2026, 3, 28, 3)
    assert pbehavior.next_change(doc, utc(2026, 3, 28, 3)) == utc(2026, 3, 28, 4)
    assert pbehavior.next_change(doc, utc(2026, 3, 29, 0)) == utc(2026, 4, 4, 2)


def test_matches_uses_the_filter():
    doc = make(filter={"component": "db1", "infos.site": {"$in": ["paris", "lyon"]}})
    assert pbehavior.matches(doc, {"component": "db1", "infos": {"site": "lyon"}})
    assert not pbehavior.matches(doc, {"component": "db1", "infos": {"site": "nice"}})
    assert not pbehavior.matches(doc, {"component": "db2", "infos": {"site": "lyon"}})


def test_valid_documents():
    make(**WEEKLY, exdates=[utc(2026, 3, 28, 3)], enabled=True)
    make(end=None, tz="UTC")
    make(rrule="RRULE:FREQ=DAILY;UNTIL=20261231T000000Z")


def test_not_an_object():
    assert pbehavior.validate([]) == [FieldError("", "expected an object")]


def test_missing_and_unknown_fields():
    assert errors(name=..., filter=..., color="red") == [
        "name: missing",
        "filter: missing",
        "color: unknown field",
    ]


def test_field_types():
    assert errors(name=1, reason=None, type="holiday", enabled="yes", start="now") == [
        "name: expected a string",
        "reason: expected a string",
        "type: expected one of maintenance, pause, inactive",
        "enabled: expected true or false",
        "start: expected epoch seconds from 0 to 253402300799",
    ]
    assert errors(name=" ", _id="", created="today") == [
        "_id: must not be blank",
        "name: must not be blank",
        "created: expected a number",
    ]
    assert errors(author=..., created=1.5, updated=2) == []
    when = "expected epoch seconds from 0 to 253402300799"
    assert errors(exdates=[1.5, "x"]) == [f"exdates.1: {when}"]
    assert errors(exdates=3) == ["exdates: expected a list of epoch seconds"]
    assert errors(start=-1.8e308, end=1e300, exdates=[-1]) == [
        f"start: {when}",
        f"end: {when}, or null",
        f"exdates.0: {when}",
    ]


def test_end_before_start():
    assert errors(end=utc(2026, 5, 31, 0)) == ["end: must be after start"]
    assert errors(end=utc(2026, 6, 1, 0)) == ["end: must be after start"]


def test_bad_rrule():
    assert errors(rrule="FREQ=FORTNIGHTLY") == ["rrule: invalid 'FREQ': FORTNIGHTLY"]
    assert errors(rrule="BYDAY=SA") == ["rrule: FREQ is required"]
    assert errors(rrule="FREQ=DAILY;UNTIL=20261231T000000") == [
        "rrule: RRULE UNTIL values must be specified in UTC when DTSTART is timezone-aware"
    ]
    assert errors(rrule="DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY") == [
        "rrule: expected one RRULE value (start, exdates and tz give DTSTART, EXDATE and TZID)"
    ]
    assert errors(rrule=7) == ["rrule: expected a string or null"]


def test_rrule_requires_end():
    assert errors(rrule="FREQ=DAILY", end=None) == ["end: required with rrule"]


def test_unknown_tz():
    assert errors(tz="Mars/Base") == ["tz: unknown time zone 'Mars/Base'"]
    assert errors(tz="../etc") == ["tz: unknown time zone '../etc'"]


def test_bad_filter():
    assert errors(filter={"state": {"$gt": "high"}, "$where": "x"}) == [
        "filter.state.$gt: expected a number",
        "filter.$where: unknown operator (expected a field, $and, $or or $nor)",
    ]


NEVER = "rrule: no day of the calendar fits this rule: it can never occur"


def test_a_rule_no_day_fits_is_refused():
    assert errors(rrule="FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30") == [NEVER]
    assert errors(rrule="FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31") == [NEVER]
    assert errors(rrule="FREQ=YEARLY;BYMONTH=1;BYYEARDAY=60") == [NEVER]
    assert errors(rrule="FREQ=HOURLY;INTERVAL=24;BYHOUR=3") == [
        "rrule: Invalid rrule byxxx generates an empty set."
    ]


def test_rare_rules_are_valid():
    assert errors(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO") == []
    assert errors(rrule="FREQ=MONTHLY;BYDAY=5FR;BYMONTH=2") == []
    assert errors(rrule="FREQ=YEARLY;BYWEEKNO=53") == []


def test_a_rule_its_interval_never_lands_on_occurs_at_start_only():
    tuesday = utc(2026, 6, 2, 0)
    doc = make(rrule="FREQ=DAILY;INTERVAL=7;BYDAY=MO", start=tuesday, end=tuesday + HOUR)
    assert pbehavior.periods(doc, utc(2026, 6, 1), utc(2026, 7, 1)) == [
        (utc(2026, 6, 2, 0), utc(2026, 6, 2, 1))
    ]


def test_the_pbehavior_that_applies_goes_by_type_then_id():
    docs = [
        make(_id="p", type="pause", filter={}),
        make(_id="m2", filter={}),
        make(_id="m1", filter={"component": "db1"}),
        make(_id="i", type="inactive", filter={"component": "db9"}),
    ]
    active = pbehavior.ordered(docs)
    assert [doc["_id"] for doc in active] == ["i", "m1", "m2", "p"]
    patterns = {doc["_id"]: pbehavior.pattern(doc) for doc in docs}
    assert pbehavior.applicable(active, {"component": "db1"}, patterns)["_id"] == "m1"
    assert pbehavior.applicable(active, {"component": "web"}, patterns)["_id"] == "m2"
    assert pbehavior.applicable(active, {"component": "db9"}, patterns)["_id"] == "i"
    assert pbehavior.applicable([], {"component": "db9"}, patterns) is None
    assert pbehavior.summary(docs[0]) == {
        "id": "p",
        "name": "backup",
        "type": "pause",
        "reason": "weekly backup",
        "author": "root",
    }


def test_schedule_follows_periods_with_a_controllable_clock():
    schedule = pbehavior.Schedule()
    window = make()  # 2026-06-01 00:00 to 02:00 UTC
    weekly = make(_id="pb2", **WEEKLY)
    docs = [window, weekly]

    def active_at(when: float) -> list[str]:
        return [doc["_id"] for doc in schedule.update(docs, when)]

    assert active_at(utc(2026, 5, 31, 23)) == []
    assert schedule.next_change() == utc(2026, 6, 1, 0)
    assert active_at(utc(2026, 6, 1, 0)) == ["pb1"]
    assert schedule.next_change() == utc(2026, 6, 1, 2)
    assert active_at(utc(2026, 6, 1, 2)) == []
    assert active_at(utc(2026, 6, 6, 2, 30)) == ["pb2"]  # Saturday 04:30 in Paris (CEST)
    assert schedule.next_change() == utc(2026, 6, 6, 3)
    docs[1] = {**weekly, "enabled": False}  # a changed document is recomputed at once
    assert active_at(utc(2026, 6, 6, 2, 31)) == []
    docs.pop()
    assert active_at(utc(2026, 6, 6, 2, 32)) == [] and schedule.next_change() is None


def reference(doc: dict, start: float, end: float) -> list[float]:
    """The occurrence starts within [start, end), dateutil walking from the first one."""
    zone = pbehavior._zone(doc.get("tz", "UTC"))
    rule = pbehavior._parse_rule(doc["rrule"], doc["start"], zone)
    begin, finish = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    return [o.timestamp() for o in rule.between(begin, finish, inc=True) if o.timestamp() < end]


@pytest.mark.parametrize(
    ("rule", "tz", "years"),
    [
        ("FREQ=HOURLY", "UTC", 3),
        ("FREQ=HOURLY;INTERVAL=5;BYDAY=MO,TU", "Europe/Paris", 2),
        ("FREQ=DAILY;BYHOUR=4,16;BYMINUTE=30", "Europe/Paris", 30),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU", "America/New_York", 40),
        ("FREQ=MINUTELY;INTERVAL=7;BYHOUR=2", "Europe/Paris", 0.2),
    ],
)
def test_a_rule_started_long_ago_gives_the_occurrences_of_a_walk_from_its_start(rule, tz, years):
    start = utc(2026, 3, 20, 1, 17)
    doc = make(rrule=rule, tz=tz, start=start, end=start + 60)
    since = start + years * 365 * DAY
    windows = [(since, since + 15 * DAY), (utc(2026, 10, 20), utc(2026, 11, 10))]  # DST changes
    for begin, end in windows:
        expected = reference(doc, begin - 60, end)
        found = pbehavior.periods(doc, begin, end)
        assert found, (rule, begin)
        assert [p[0] for p in found if p[0] > begin] == [t for t in expected if t > begin]
