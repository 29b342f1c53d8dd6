import json

import pytest

from canopsis.domain.collectd import CollectdFormatError, is_collectd, translate
from canopsis.domain.event import normalize

T = 1795432865.749


def item(plugin, type_, values, dsnames=("value",), dstype="gauge", **fields) -> dict:
    return {
        "values": list(values),
        "dstypes": [dstype] * len(values),
        "dsnames": list(dsnames),
        "time": T,
        "interval": 10.0,
        "host": "vm",
        "plugin": plugin,
        "plugin_instance": "",
        "type": type_,
        "type_instance": "",
    } | fields


def metrics(event: dict) -> list[tuple]:
    return [(m["metric"], m["value"], m["unit"]) for m in event["perf_data_array"]]


def test_cpu_values_of_one_time_make_one_event():
    body = [
        item("cpu", "percent", [1.00300902708124], type_instance="user"),
        item("cpu", "percent", [0.501504513540622], type_instance="system"),
        item("cpu", "percent", [98.4954864593781], type_instance="idle"),
    ]
    assert translate(body) == [
        {
            "connector": "collectd",
            "connector_name": "collectd",
            "event_type": "perf",
            "source_type": "resource",
            "component": "vm",
            "resource": "cpu",
            "timestamp": T,
            "perf_data_array": [
                {"metric": "percent-user", "value": 1.00300902708124, "unit": "%"},
                {"metric": "percent-system", "value": 0.501504513540622, "unit": "%"},
                {"metric": "percent-idle", "value": 98.4954864593781, "unit": "%"},
            ],
        }
    ]


def test_real_json_body_translates_to_events_the_event_model_accepts():
    body = json.loads(
        '[{"values":[1.00300902708124],"dstypes":["gauge"],"dsnames":["value"],'
        '"time":1795432865.749,"interval":10.000,"host":"vm","plugin":"cpu",'
        '"plugin_instance":"","type":"percent","type_instance":"user"}]'
    )
    [event] = translate(body, connector_name="collectd-vm")
    normalized, errors = normalize(event, now=T)
    assert errors == []
    assert normalized["entity_id"] == "cpu/vm"
    assert normalized["routing_key"] == "collectd.collectd-vm.perf.resource.vm.cpu"


def test_memory_is_in_bytes():
    body = [
        item("memory", "memory", [1.5e9], type_instance="used"),
        item("memory", "memory", [2.1e8], type_instance="free"),
    ]
    [event] = translate(body)
    assert event["resource"] == "memory"
    assert metrics(event) == [("memory-used", 1.5e9, "B"), ("memory-free", 2.1e8, "B")]


def test_load_has_one_metric_per_data_source():
    body = [item("load", "load", [0.05, 0.03, 0.0], ["shortterm", "midterm", "longterm"])]
    [event] = translate(body)
    assert metrics(event) == [
        ("load-shortterm", 0.05, None),
        ("load-midterm", 0.03, None),
        ("load-longterm", 0.0, None),
    ]


def test_df_resource_holds_the_plugin_instance():
    body = [
        item("df", "df_complex", [5.2e9], plugin_instance="root", type_instance="used"),
        item("df", "percent_bytes", [41.5], plugin_instance="root", type_instance="used"),
        item("df", "df_complex", [1.0e8], plugin_instance="boot", type_instance="used"),
    ]
    root, boot = translate(body)
    assert (root["resource"], boot["resource"]) == ("df-root", "df-boot")
    assert metrics(root) == [("df_complex-used", 5.2e9, "B"), ("percent_bytes-used", 41.5, "%")]
    assert metrics(boot) == [("df_complex-used", 1.0e8, "B")]


def test_disk_rates_are_per_second():
    sda = {"dstype": "derive", "plugin_instance": "sda"}
    body = [
        item("disk", "disk_octets", [4096.0, 81920.0], ["read", "write"], **sda),
        item("disk", "disk_ops", [1.0, 20.0], ["read", "write"], **sda),
    ]
    [event] = translate(body)
    assert event["resource"] == "disk-sda"
    assert metrics(event) == [
        ("disk_octets-read", 4096.0, "B/s"),
        ("disk_octets-write", 81920.0, "B/s"),
        ("disk_ops-read", 1.0, None),
        ("disk_ops-write", 20.0, None),
    ]


def test_interface_first_rate_sample_is_null_and_skipped():
    eth0 = {"dstype": "derive", "plugin_instance": "eth0"}
    body = [
        item("interface", "if_octets", [None, None], ["rx", "tx"], **eth0),
        item("interface", "if_packets", [12.5, None], ["rx", "tx"], **eth0),
    ]
    [event] = translate(body)
    assert event["resource"] == "interface-eth0"
    assert metrics(event) == [("if_packets-rx", 12.5, None)]


def test_an_event_without_any_value_is_not_emitted():
    assert translate([item("interface", "if_octets", [None, None], ["rx", "tx"])]) == []


def test_values_of_different_times_or_hosts_make_different_events():
    body = [
        item("cpu", "percent", [1.0], type_instance="user"),
        item("cpu", "percent", [2.0], type_instance="user", time=T + 10),
        item("cpu", "percent", [3.0], type_instance="user", host="db"),
    ]
    events = translate(body)
    assert [(e["component"], e["timestamp"], metrics(e)) for e in events] == [
        ("vm", T, [("percent-user", 1.0, "%")]),
        ("vm", T + 10, [("percent-user", 2.0, "%")]),
        ("db", T, [("percent-user", 3.0, "%")]),
    ]


def test_a_single_data_source_not_named_value_keeps_its_name():
    [event] = translate([item("users", "users", [3.0], ["count"])])
    assert metrics(event) == [("users-count", 3.0, None)]


def test_empty_body_has_no_events():
    assert translate([]) == []


def test_is_collectd():
    assert is_collectd([item("cpu", "percent", [1.0])])
    assert is_collectd([item("cpu", "percent", [1.0]), {"host": "vm"}])
    assert not is_collectd({"connector": "nagios", "event_type": "check"})
    assert not is_collectd([{"connector": "nagios", "event_type": "check"}])
    assert not is_collectd([])
    assert not is_collectd("values")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"values": [1.0]}, "body: expected a list of value lists, got an object"),
        ([item("cpu", "percent", [1.0]), 3], "item 1: expected an object, got a number"),
        (
            [item("cpu", "percent", [1.0]), item("cpu", "percent", [1.0]), {"host": "vm"}],
            "item 2: missing 'values'",
        ),
        ([item("cpu", "percent", [1.0], host="")], "item 0: 'host' must be a non-empty string"),
        (
            [item("cpu", "percent", [1.0]) | {"plugin": 7}],
            "item 0: 'plugin' must be a non-empty string",
        ),
        (
            [item("cpu", "percent", [1.0], plugin_instance=None)],
            "item 0: 'plugin_instance' must be a string",
        ),
        (
            [item("cpu", "percent", [1.0], time="now")],
            "item 0: 'time' must be a positive number of epoch seconds",
        ),
        ([item("cpu", "percent", [])], "item 0: 'values' must be a non-empty list"),
        (
            [item("load", "load", [1.0, 2.0], ["shortterm"]) | {"dstypes": ["gauge"]}],
            "item 0: the lists differ in length (2 values, 1 dstypes, 1 dsnames)",
        ),
        (
            [item("load", "load", [1.0, "2"], ["a", "b"])],
            "item 0: values[1] must be a number or null",
        ),
        (
            [item("cpu", "percent", [1.0], dstype=None)],
            "item 0: dstypes[0] must be a non-empty string",
        ),
    ],
)
def test_malformed_body_is_refused_with_the_item_and_reason(body, reason):
    with pytest.raises(CollectdFormatError) as raised:
        translate(body)
    assert str(raised.value) == reason
