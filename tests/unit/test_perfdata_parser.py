import dataclasses

import pytest

from canopsis.domain.perfdata_parser import UNITS, Metric, PerfdataError, parse_perfdata


def parsed(text: str) -> list[dict]:
    return [metric.as_dict() for metric in parse_perfdata(text)]


def m(name, value, unit=None, warn=None, crit=None, min=None, max=None) -> dict:
    return {
        "metric": name,
        "value": value,
        "unit": unit,
        "warn": warn,
        "crit": crit,
        "min": min,
        "max": max,
    }


REAL_WORLD = [
    (
        "load1=0.050;5.000;10.000;0; load5=0.030;4.000;6.000;0; load15=0.000;3.000;4.000;0;",
        [
            m("load1", 0.05, None, 5.0, 10.0, 0.0),
            m("load5", 0.03, None, 4.0, 6.0, 0.0),
            m("load15", 0.0, None, 3.0, 4.0, 0.0),
        ],
    ),
    ("/=2643MB;5948;5958;0;5968", [m("/", 2643.0, "MB", 5948.0, 5958.0, 0.0, 5968.0)]),
    (
        "/boot=68MB;88;93;0;98 /home=69357MB;253404;253409;0;253414 /var/log=818MB;970;975;0;980",
        [
            m("/boot", 68.0, "MB", 88.0, 93.0, 0.0, 98.0),
            m("/home", 69357.0, "MB", 253404.0, 253409.0, 0.0, 253414.0),
            m("/var/log", 818.0, "MB", 970.0, 975.0, 0.0, 980.0),
        ],
    ),
    (
        "rta=0.053000ms;100.000000;500.000000;0.000000 pl=0%;20;60;0",
        [m("rta", 0.053, "ms", 100.0, 500.0, 0.0), m("pl", 0.0, "%", 20.0, 60.0, 0.0)],
    ),
    (
        "time=0.001234s;;;0.000000 size=1234B;;;0",
        [m("time", 0.001234, "s", min=0.0), m("size", 1234.0, "B", min=0.0)],
    ),
    ("procs=123;250;400;0;", [m("procs", 123.0, None, 250.0, 400.0, 0.0)]),
    ("users=2;20;50;0", [m("users", 2.0, None, 20.0, 50.0, 0.0)]),
    ("swap=2047MB;0;0;0;2047", [m("swap", 2047.0, "MB", 0.0, 0.0, 0.0, 2047.0)]),
    ("time=0.004123s;;;0.000000", [m("time", 0.004123, "s", min=0.0)]),
    ("offset=-0.000123s;60.000000;120.000000;", [m("offset", -0.000123, "s", 60.0, 120.0)]),
    (
        "Connections=31c;;; Open_files=16;;; Queries_per_second_avg=2.5;;;",
        [m("Connections", 31.0, "c"), m("Open_files", 16.0), m("Queries_per_second_avg", 2.5)],
    ),
    (
        "'C:\\ Used Space'=10.5GB;47.99;53.99;0;59.99 'C:\\ Used %'=17%;80;90;0;100",
        [
            m("C:\\ Used Space", 10.5, "GB", 47.99, 53.99, 0.0, 59.99),
            m("C:\\ Used %", 17.0, "%", 80.0, 90.0, 0.0, 100.0),
        ],
    ),
    (
        "'total 5m'=3%;80;90 'total 1m'=5%;80;90",
        [m("total 5m", 3.0, "%", 80.0, 90.0), m("total 1m", 5.0, "%", 80.0, 90.0)],
    ),
    (
        "'used'=1073741824B;6442450944;7247757312;0;8053063680",
        [m("used", 1073741824.0, "B", 6442450944.0, 7247757312.0, 0.0, 8053063680.0)],
    ),
    (
        "check_multi::check_multi::plugins=2 time=0.09 "
        "load::check_load::load1=0.02;5;10;0; disk::check_disk::/=1GB;;;0;20",
        [
            m("check_multi::check_multi::plugins", 2.0),
            m("time", 0.09),
            m("load::check_load::load1", 0.02, None, 5.0, 10.0, 0.0),
            m("disk::check_disk::/", 1.0, "GB", min=0.0, max=20.0),
        ],
    ),
    (
        "'ping4::rta'=0.07ms;100;200;0 'ping4::pl'=0%;5;15;0;100",
        [
            m("ping4::rta", 0.07, "ms", 100.0, 200.0, 0.0),
            m("ping4::pl", 0.0, "%", 5.0, 15.0, 0.0, 100.0),
        ],
    ),
    ("inodes=42%;@80:90;@90:100;0;100", [m("inodes", 42.0, "%", "@80:90", "@90:100", 0.0, 100.0)]),
    ("temp=38,5;~:40;~:45", [m("temp", 38.5, None, "~:40", "~:45")]),
    ("uptime=12345678us", [m("uptime", 12345678.0, "us")]),
    (
        "backup=2TB;;;0;4 mem=512KB",
        [m("backup", 2.0, "TB", min=0.0, max=4.0), m("mem", 512.0, "KB")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), REAL_WORLD)
def test_real_world_plugin_output(text, expected):
    assert parsed(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_perfdata_has_no_metric(text):
    assert parse_perfdata(text) == []


def test_metric_is_a_frozen_dataclass_with_none_for_missing_fields():
    metric = parse_perfdata("a=1")[0]
    assert metric == Metric(name="a", value=1.0)
    assert (metric.unit, metric.warn, metric.crit, metric.min, metric.max) == (None,) * 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        metric.value = 2.0


def test_as_dict_has_the_perf_data_array_keys():
    assert list(parse_perfdata("a=1")[0].as_dict()) == [
        "metric",
        "value",
        "unit",
        "warn",
        "crit",
        "min",
        "max",
    ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("'disk usage'=1", "disk usage"),
        ("'a=b'=1", "a=b"),
        ("'it''s'=1", "it's"),
        ("''''=1", "'"),
        ("'a;b'=1", "a;b"),
        ("'C:\\ Label: Serial 1234'=1", "C:\\ Label: Serial 1234"),
        ("'x  y'=1", "x  y"),
        ("'é ü'=1", "é ü"),
        ("a:b/c-d_e.f=1", "a:b/c-d_e.f"),
    ],
)
def test_labels(text, label):
    assert parse_perfdata(text)[0].name == label


@pytest.mark.parametrize("unit", UNITS)
def test_every_guideline_unit_is_kept_as_given(unit):
    assert parse_perfdata(f"a=1{unit}")[0].unit == unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("42", 42.0),
        ("-3", -3.0),
        ("+3", 3.0),
        ("0.5", 0.5),
        ("0,5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1.5E-3", 0.0015),
        ("-2,5e+2", -250.0),
    ],
)
def test_numbers(value, expected):
    assert parse_perfdata(f"a={value}")[0].value == pytest.approx(expected)


def test_unknown_value_is_none():
    assert parsed("a=U;10;20;0;100") == [m("a", None, None, 10.0, 20.0, 0.0, 100.0)]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("10", 10.0),
        ("-1", -1.0),
        ("0,5", 0.5),
        ("10:", "10:"),
        ("~:10", "~:10"),
        ("10:20", "10:20"),
        ("@10:20", "@10:20"),
        ("@10", "@10"),
        ("-10:-5", "-10:-5"),
        ("~:", "~:"),
        ("10:10", "10:10"),
        ("0,5:1,5", "0,5:1,5"),
    ],
)
def test_thresholds_are_a_float_when_plain_or_the_raw_range(field, expected):
    metric = parse_perfdata(f"a=1;{field};{field}")[0]
    assert metric.warn == expected
    assert metric.crit == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1", m("a", 1.0)),
        ("a=1;", m("a", 1.0)),
        ("a=1;;;;", m("a", 1.0)),
        ("a=1;;;;;", m("a", 1.0)),
        ("a=1;;5", m("a", 1.0, crit=5.0)),
        ("a=1;;;;9", m("a", 1.0, max=9.0)),
        ("a=1;2;3;4;5;", m("a", 1.0, None, 2.0, 3.0, 4.0, 5.0)),
    ],
)
def test_empty_fields_and_trailing_semicolons(text, expected):
    assert parsed(text) == [expected]


def test_whitespace_between_and_around_metrics():
    assert parsed("  a=1    b=2\t c=3  ") == [m("a", 1.0), m("b", 2.0), m("c", 3.0)]


def test_duplicate_labels_are_kept():
    assert parsed("a=1 a=2") == [m("a", 1.0), m("a", 2.0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "metric 1 at character 1: label 'hello' is not followed by '=' but by the end"),
        ("a=1 b", "metric 2 at character 5: label 'b' is not followed by '='"),
        (
            "disk usage=1",
            "metric 1 at character 1: label 'disk' is not followed by '=' but by ' ' "
            "(a label holding spaces must be quoted)",
        ),
        ("=1", "metric 1 at character 1: empty label"),
        ("''=1", "metric 1 at character 1: empty label"),
        ("a=1 'unterminated=2", "metric 2 at character 5: unterminated quote in the label"),
        ("'a'b=1", "metric 1 at character 1: label 'a' is not followed by '=' but by 'b'"),
        ("it's=1", 'metric 1 at character 1: label "it\'s" holds a quote but is not quoted'),
        ("a=", "metric 1 'a' at character 1: empty value"),
        ("a=;1;2", "metric 1 'a' at character 1: empty value"),
        ("a= 1", "metric 1 'a' at character 1: empty value"),
        ("a=abc", "metric 1 'a' at character 1: value 'abc' is not a number"),
        ("a=1.2.3", "metric 1 'a' at character 1: value '1.2.3' is not a number"),
        ("a=1,234.5", "metric 1 'a' at character 1: value '1,234.5' is not a number"),
        ("a=inf", "metric 1 'a' at character 1: value 'inf' is not a number"),
        ("a=nan", "metric 1 'a' at character 1: value 'nan' is not a number"),
        ("a=MB", "metric 1 'a' at character 1: value 'MB' is not a number"),
        ("a=1 b=10xx", "metric 2 'b' at character 5: unknown unit 'xx', expected one of: s, ms"),
        ("a=1kB", "metric 1 'a' at character 1: unknown unit 'kB'"),
        ("a=1KiB", "metric 1 'a' at character 1: unknown unit 'KiB'"),
        ("a=1 min", "metric 2 at character 5: label 'min' is not followed by '='"),
        ("a=1;2;3;4;5;6", "metric 1 'a' at character 1: too many fields in '1;2;3;4;5;6': 6"),
        ("a=1;x", "metric 1 'a' at character 1: warn 'x' is neither a number nor a threshold"),
        ("a=1;;5MB", "metric 1 'a' at character 1: crit '5MB' is neither a number nor a"),
        ("a=1;:10", "metric 1 'a' at character 1: warn ':10' is neither a number nor a"),
        ("a=1;@", "metric 1 'a' at character 1: warn '@' is neither a number nor a"),
        ("a=1;10:20:30", "metric 1 'a' at character 1: warn '10:20:30' is neither a number"),
        ("a=1;20:10", "metric 1 'a' at character 1: warn range '20:10' starts after it ends"),
        ("a=1;;@5:1", "metric 1 'a' at character 1: crit range '@5:1' starts after it ends"),
        ("a=1;@-5", "metric 1 'a' at character 1: warn range '@-5' starts after it ends"),
        ("a=1;;;x", "metric 1 'a' at character 1: min 'x' is not a number"),
        ("a=1;;;0;100%", "metric 1 'a' at character 1: max '100%' is not a number"),
        ("a=1;;;0;~", "metric 1 'a' at character 1: max '~' is not a number"),
        ("a=U%", "metric 1 'a' at character 1: value 'U%' is not a number"),
        ("'my disk'=1Q", "metric 1 'my disk' at character 1: unknown unit 'Q'"),
    ],
)
def test_garbage_is_refused_with_the_metric_and_the_reason(text, message):
    with pytest.raises(PerfdataError) as caught:
        parse_perfdata(text)
    assert str(caught.value).startswith(message)


def test_perfdata_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_perfdata("garbage")
