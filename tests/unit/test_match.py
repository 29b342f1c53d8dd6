import pytest

from canopsis.domain.match import FieldError, PatternError, compile_pattern
from tests.helpers import DISK_CHECK

EVENT = {
    **DISK_CHECK,
    "tags": ["prod", "web"],
    "infos": {"rack": {"row": 4}},
    "perf_data_array": [{"metric": "used", "value": 95.0}, {"metric": "free", "value": 5}],
}


def matches(spec: object, doc: dict = EVENT) -> bool:
    return compile_pattern(spec).matches(doc)


def errors(spec: object) -> list[FieldError]:
    with pytest.raises(PatternError) as info:
        compile_pattern(spec)
    return info.value.errors


def test_empty_pattern_matches_every_document():
    assert matches({})
    assert matches({}, {})


def test_equality_on_standard_and_extra_fields():
    assert matches({"component": "web1", "site": "paris"})
    assert not matches({"component": "web2"})
    assert not matches({"site": "lyon"})
    assert not matches({"datacenter": "paris"})


def test_equality_keeps_types_apart():
    assert matches({"state": 2.0})
    assert not matches({"state": "2"})
    assert not matches({"flag": 1}, {"flag": True})
    assert matches({"flag": True}, {"flag": True})
    assert not matches({"flag": True}, {"flag": 1})


def test_equality_with_a_list_field_means_contains():
    assert matches({"tags": "prod"})
    assert matches({"tags": {"$eq": "web"}})
    assert not matches({"tags": "dev"})
    assert matches({"codes": 3}, {"codes": [1, 3]})


def test_null_matches_missing_and_null_fields():
    assert matches({"ticket": None})
    assert matches({"ticket": None}, {"ticket": None})
    assert not matches({"component": None})


def test_ne_matches_missing_fields_and_lists_without_the_value():
    assert matches({"component": {"$ne": "web2"}})
    assert not matches({"component": {"$ne": "web1"}})
    assert matches({"ticket": {"$ne": "T1"}})
    assert not matches({"tags": {"$ne": "prod"}})


def test_in_and_nin():
    assert matches({"connector": {"$in": ["icinga", "nagios"]}})
    assert not matches({"connector": {"$in": ["icinga", "zabbix"]}})
    assert matches({"tags": {"$in": ["dev", "web"]}})
    assert matches({"state": {"$in": [2, 3]}})
    assert not matches({"state": {"$in": ["2", True]}})
    assert matches({"ticket": {"$in": [None, "T1"]}})
    assert not matches({"state": {"$in": []}})
    assert matches({"connector": {"$nin": ["icinga", "zabbix"]}})
    assert not matches({"tags": {"$nin": ["web"]}})


def test_numeric_comparisons():
    assert matches({"state": {"$gte": 2}})
    assert matches({"state": {"$gt": 1, "$lt": 3}})
    assert not matches({"state": {"$gt": 2}})
    assert matches({"state": {"$lte": 2.5}})
    assert matches({"load": {"$gt": 0.5}}, {"load": 0.75})


def test_only_numbers_compare_as_numbers():
    assert not matches({"count": {"$gt": 3}}, {"count": "5"})
    assert not matches({"count": {"$gte": 0}}, {"count": True})
    assert not matches({"count": {"$lt": 3}})
    assert matches({"counts": {"$gt": 3}}, {"counts": ["9", 1, 5]})


def test_regex_with_case_insensitive_option():
    assert matches({"resource": {"$regex": "^disk", "$options": "i"}})
    assert not matches({"resource": {"$regex": "^disk"}})
    assert matches({"output": {"$regex": "CRITICAL"}})
    assert matches({"tags": {"$regex": "^pr"}})
    assert not matches({"state": {"$regex": "2"}})


def test_exists():
    assert matches({"site": {"$exists": True}})
    assert matches({"ticket": {"$exists": False}})
    assert matches({"ticket": {"$exists": True}}, {"ticket": None})
    assert not matches({"site": {"$exists": False}})


def test_not():
    assert matches({"resource": {"$not": {"$regex": "^cpu"}}})
    assert not matches({"state": {"$not": {"$gte": 2}}})
    assert matches({"ticket": {"$not": {"$eq": "T1"}}})


def test_dotted_paths():
    assert matches({"infos.rack.row": 4})
    assert matches({"infos.rack.row": {"$gte": 3}})
    assert not matches({"infos.rack.column": {"$exists": True}})
    assert matches({"infos.rack.column": None})
    assert matches({"component.name": None})  # a path through a string finds nothing
    assert matches({"perf_data_array.metric": "free"})
    assert matches({"perf_data_array.value": {"$gt": 90}})
    assert matches({"perf_data_array.1.metric": "free"})
    assert not matches({"perf_data_array.0.metric": "free"})
    assert not matches({"perf_data_array.metric": "cpu"})


def test_logical_operators():
    assert matches({"$or": [{"component": "db1"}, {"state": 2}]})
    assert not matches({"$or": [{"component": "db1"}, {"state": 3}]})
    assert matches({"$and": [{"tags": "prod"}, {"tags": "web"}]})
    assert not matches({"$and": [{"tags": "prod"}, {"tags": "dev"}]})
    assert matches({"$nor": [{"component": "db1"}, {"state": 3}]})
    assert matches({"component": "web1", "$or": [{"site": "lyon"}, {"$and": [{"state": 2}]}]})


def test_pattern_is_its_own_mongodb_filter_and_is_kept_from_later_changes():
    spec = {"component": "web1", "state": {"$in": [2, 3]}}
    pattern = compile_pattern(spec)
    spec["state"]["$in"].append(0)
    assert pattern.to_mongo() == {"component": "web1", "state": {"$in": [2, 3]}}
    assert not pattern.matches({"component": "web1", "state": 0})


def test_bad_regex_is_reported_with_its_field():
    [error] = errors({"resource": {"$regex": "disk(", "$options": "i"}})
    assert error.field == "match.resource.$regex"
    assert error.reason == "bad regular expression (RE2 syntax): missing ): disk("


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"(a)\1", r"invalid escape sequence: \1"),
        ("disk(?=1)", "invalid perl operator: (?="),
        ("disk(?!1)", "invalid perl operator: (?!"),
        ("(?<=disk)1", "invalid perl operator: (?<="),
        ("a{1001}", "invalid repetition size: {1001}"),
    ],
)
def test_what_re2_cannot_run_is_refused_with_its_reason(regex, reason):
    [error] = errors({"output": {"$regex": regex}})
    assert error == ("match.output.$regex", f"bad regular expression (RE2 syntax): {reason}")


def test_the_x_option_is_refused_by_name():
    [error] = errors({"output": {"$regex": "a b", "$options": "x"}})
    assert error == (
        "match.output.$options",
        "option 'x' is not supported (RE2 has no extended syntax)",
    )


def test_a_catastrophic_pattern_runs_in_linear_time():
    """(a+)+$ backtracks for ever with Python's re on 'aaa...!'; RE2 answers at once."""
    pattern = compile_pattern({"output": {"$regex": "(a+)+$"}})
    assert not pattern.matches({"output": "a" * 100_000 + "!"})
    assert pattern.matches({"output": "a" * 100_000})


def test_a_regex_reads_any_text_an_event_can_hold():
    pattern = compile_pattern({"output": {"$regex": "^é.+up$"}})
    assert pattern.matches({"output": "été\ud800 up"})  # a lone surrogate, as JSON allows
    assert not pattern.matches({"output": "ete up"})


def test_options_m_and_s_keep_their_meaning():
    text = {"output": "first\nsecond"}
    assert compile_pattern({"output": {"$regex": "^second", "$options": "m"}}).matches(text)
    assert not compile_pattern({"output": {"$regex": "^second"}}).matches(text)
    assert compile_pattern({"output": {"$regex": "first.second", "$options": "s"}}).matches(text)
    assert not compile_pattern({"output": {"$regex": "first.second"}}).matches(text)
    assert compile_pattern({"output": {"$regex": "^FIRST.SECOND", "$options": "si"}}).matches(text)


def test_every_problem_is_reported_with_its_path():
    found = errors(
        {
            "state": {"$gt": "3", "$between": [1, 2]},
            "connector": {"$in": "nagios"},
            "resource": {"$regex": "^a", "$options": "iq"},
            "$where": "this.state > 1",
            "$or": [{"component": {"$exists": "yes"}}, "web1"],
            "output": {"$options": "i"},
        }
    )
    assert [str(e) for e in found] == [
        "match.state.$gt: expected a number",
        "match.state.$between: unknown operator",
        "match.connector.$in: expected a list",
        "match.resource.$options: unknown option 'q' (expected i, m or s)",
        "match.$where: unknown operator (expected a field, $and, $or or $nor)",
        "match.$or.0.component.$exists: expected true or false",
        "match.$or.1: expected an object",
        "match.output.$options: $options without $regex",
    ]


def test_values_outside_the_supported_subset_are_refused():
    assert [str(e) for e in errors({"infos": {"rack": 1}})] == [
        "match.infos: expected a string, number, boolean or null"
    ]
    assert [e.field for e in errors({"tags": ["a", "b"]})] == ["match.tags"]
    assert [e.field for e in errors({"state": {"$in": [1, [2]]}})] == ["match.state.$in.1"]
    assert [e.field for e in errors({"state": {"$gte": True}})] == ["match.state.$gte"]
    assert [e.field for e in errors({"state": {"$lt": float("nan")}})] == ["match.state.$lt"]
    assert [e.field for e in errors({"state": {"$not": 2}})] == ["match.state.$not"]
    assert [e.field for e in errors({"$and": []})] == ["match.$and"]
    assert [e.field for e in errors({"a..b": 1, "a.$b": 1})] == ["match.a..b", "match.a.$b"]
    assert [str(e) for e in errors([{"state": 2}])] == ["match: expected an object"]


def test_error_paths_start_with_the_given_path():
    with pytest.raises(PatternError, match=r"^filter\.state\.\$gt: expected a number$"):
        compile_pattern({"state": {"$gt": "x"}}, path="filter")
