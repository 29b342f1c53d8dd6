"""The connectors' base without a broker: configuration, events, heartbeat."""

import logging

import pytest
from configobj import ConfigObj

from canopsis.connectors import base
from canopsis.connectors.base import Connector, InvalidEvent, connector_class, load_conf
from canopsis.domain import event, heartbeat
from canopsis.ops import config, programs
from canopsis.ops.config import ConfigError
from tests.integration.counting_connector import Counting

SPEC = """
url = string(min=1)
[paths]
__many__ = string
"""


def conf(tmp_path, text: str, name: str = "probe-1"):
    path = tmp_path / f"{name}.conf"
    path.write_text(text)
    return path


def test_a_conf_gets_the_common_keys_and_the_connectors_own(tmp_path):
    path = conf(tmp_path, "url = http://x\n[paths]\nweb = /var/log/nginx/*.log\n")
    cfg = load_conf("probe-1", SPEC, path)
    assert cfg["connector_name"] == "probe-1"
    assert cfg["heartbeat_interval"] == 60.0
    assert cfg["url"] == "http://x"
    assert cfg["paths"] == {"web": "/var/log/nginx/*.log"}


def test_connector_name_and_heartbeat_interval_are_settings(tmp_path):
    path = conf(tmp_path, "connector_name = paris\nheartbeat_interval = 5\nurl = u\n")
    cfg = load_conf("probe-1", SPEC, path)
    assert (cfg["connector_name"], cfg["heartbeat_interval"]) == ("paris", 5.0)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("url = u\nheartbeat_interval = soon\n", "heartbeat_interval = 'soon': expected float"),
        ("url = u\nheartbeat_interval = 0\n", "heartbeat_interval = '0': expected float"),
        ("heartbeat_interval = 5\n", "url: missing, expected string(min=1)"),
        ("url = u\nproxy = p\n", "proxy: unknown key"),
        ("url = u\n[paths]\n[[web]]\nx = 1\n", "paths.web"),
    ],
)
def test_a_bad_conf_is_refused_with_the_file_and_the_key(tmp_path, text, problem):
    path = conf(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_conf("probe-1", SPEC, path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_a_missing_conf_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"probe-1.conf: cannot read"):
        load_conf("probe-1", SPEC, tmp_path / "probe-1.conf")


def test_the_command_stops_on_a_bad_conf_with_one_line_and_status_2(tmp_path, monkeypatch, caplog):
    (tmp_path / "etc" / "connectors").mkdir(parents=True)
    (tmp_path / "etc" / "connectors" / "counting.conf").write_text("count = many\n")
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    with caplog.at_level(logging.ERROR):
        status = base.main(["tests.integration.counting_connector", "counting"])
    assert status == 2
    [record] = caplog.records
    assert record.name == "canopsis.connectors.counting"
    where = tmp_path / "etc" / "connectors" / "counting.conf"
    assert record.getMessage() == f"{where}: count = 'many': expected integer(min=0)"


def test_a_kind_names_a_module_with_one_connector():
    assert connector_class("tests.integration.counting_connector") is Counting
    with pytest.raises(ConfigError, match="unknown connector 'nope': no module"):
        connector_class("nope")
    with pytest.raises(ConfigError, match="expected one Connector, found 0"):
        connector_class("canopsis.connectors")


def connector(**keys) -> Counting:
    cfg = ConfigObj({"connector_name": "c1", "heartbeat_interval": 30.0, **keys})
    return Counting("counting-1", cfg, config.load("amqp"))


def test_an_event_of_the_connector_names_it_and_its_source():
    made = connector().event("check", "web1", "http", state=2, output="down")
    assert made == {
        "connector": "counting",
        "connector_name": "c1",
        "event_type": "check",
        "source_type": "resource",
        "component": "web1",
        "resource": "http",
        "state": 2,
        "output": "down",
    }
    assert connector().event("check", "web1", state=0)["source_type"] == "component"


def test_a_bad_event_publishes_nothing_and_says_why():
    good = connector().event("check", "web1", "http", state=0)
    bad = connector().event("check", "web1", "http", state=7)
    with pytest.raises(InvalidEvent, match=r"^event 1: state: must be 0"):
        connector().publish([good, bad])


def test_the_heartbeat_announces_twice_its_interval_on_the_connectors_entity():
    counting = connector()
    counting.published, counting.counters = 12, {"batches": 2}
    beat, errors = event.normalize(counting.heartbeat(1_700_000_000.0), 1_700_000_000.0)
    assert errors == []
    assert beat["entity_id"] == f"connector-counting-1/{counting.host}"
    assert beat["interval"] == 60.0
    assert {m["metric"]: m["value"] for m in beat["perf_data_array"]} == {
        "batches": 2,
        "events_published": 12,
    }
    definition, problems = heartbeat.announced(beat)
    assert problems == []
    assert definition["interval"] == 60.0
    assert definition["entity"]["resource"] == "connector-counting-1"


def test_a_step_is_the_connectors_to_write():
    with pytest.raises(NotImplementedError):
        Connector("x", ConfigObj(), config.load("amqp")).step(0.0)


def test_a_connector_program_restarts_when_its_conf_changes(tmp_path, monkeypatch):
    (tmp_path / "etc" / "connectors").mkdir(parents=True)
    for name in ("amqp.conf", "mongo.conf", "connectors/web.conf", "connectors/db.conf"):
        (tmp_path / "etc" / name).write_text("")
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    read = programs.inputs("connector-web", "connector-web")
    assert read == [tmp_path / "etc" / "connectors" / "web.conf", tmp_path / "etc" / "amqp.conf"]
