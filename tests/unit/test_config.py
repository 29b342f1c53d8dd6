"""Configuration files: what an administrator sees when a value is wrong."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from canopsis.ops import config
from tests.conftest import REPO


@pytest.fixture
def etc(tmp_path, monkeypatch):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    (tmp_path / "etc").mkdir()
    return tmp_path / "etc"


def load_error(name: str) -> str:
    """The message of the ConfigError ``config.load(name)`` raises."""
    with pytest.raises(config.ConfigError) as error:
        config.load(name)
    return str(error.value)


def test_defaults_fill_what_a_file_leaves_out(etc):
    (etc / "mongo.conf").write_text("port = 27018\npassword = s3cret/+\n")
    cfg = config.load("mongo")
    assert cfg["port"] == 27018
    assert cfg["host"] == "127.0.0.1"
    assert cfg["managed"] is True
    assert config.mongo_uri(cfg) == "mongodb://canopsis:s3cret%2F%2B@127.0.0.1:27018/"


def test_the_managed_database_needs_a_password(etc):
    (etc / "mongo.conf").write_text("port = 27018\n")
    assert load_error("mongo") == (
        f"{etc / 'mongo.conf'}: password: required when managed = true "
        "(canopsis' user on the server)"
    )


def test_engine_batches_are_durable_unless_said_off(etc):
    (etc / "mongo.conf").write_text("password = x\n")  # a file older than the key
    assert config.load("mongo")["durable_batches"] is True
    (etc / "mongo.conf").write_text("password = x\ndurable_batches = false\n")
    assert config.load("mongo")["durable_batches"] is False
    (etc / "mongo.conf").write_text("password = x\ndurable_batches = maybe\n")
    expected = f"{etc / 'mongo.conf'}: durable_batches = 'maybe': expected boolean"
    assert load_error("mongo") == expected


def test_a_wrong_type_names_file_key_and_expectation(etc):
    (etc / "amqp.conf").write_text("port = abc\npassword = x\n")
    assert load_error("amqp") == (
        f"{etc / 'amqp.conf'}: port = 'abc': expected integer(min=1, max=65535)"
    )


def test_every_problem_is_on_the_one_line(etc):
    (etc / "amqp.conf").write_text("port = 0\nmanaged = maybe\nprot = 5672\n")
    message = load_error("amqp")
    assert "\n" not in message
    assert "port = '0': expected integer(min=1, max=65535)" in message
    assert "managed = 'maybe': expected boolean" in message
    assert "password: missing, expected string(min=1)" in message
    assert "prot: unknown key" in message


def test_a_section_key_is_named_with_its_section(etc):
    (etc / "webserver.conf").write_text("[server]\nport = 99999\n")
    with pytest.raises(config.ConfigError, match=r"server\.port = '99999'"):
        config.load("webserver")


def test_unmanaged_service_needs_its_external_address(etc):
    (etc / "mongo.conf").write_text("managed = false\n")
    with pytest.raises(config.ConfigError, match="uri: required when managed = false"):
        config.load("mongo")
    (etc / "mongo.conf").write_text('managed = false\nuri = "mongodb://db1,db2/?replicaSet=rs0"\n')
    assert config.mongo_uri(config.load("mongo")) == "mongodb://db1,db2/?replicaSet=rs0"


def test_a_bad_distribution_address_names_file_and_key(etc):
    (etc / "amqp.conf").write_text("password = x\ndist_address = 10.0.0.300\n")
    expected = f"{etc / 'amqp.conf'}: dist_address = '10.0.0.300': expected ip_addr"
    assert load_error("amqp") == expected
    (etc / "amqp.conf").write_text("password = x\n")
    assert config.load("amqp")["dist_address"] == "127.0.0.1"


def test_amqp_url_escapes_credentials(etc):
    (etc / "amqp.conf").write_text("password = p@ss/word\nport = 5673\n")
    url = config.amqp_url(config.load("amqp"))
    assert url == "amqp://canopsis:p%40ss%2Fword@127.0.0.1:5673/canopsis"


def test_a_missing_file_and_a_broken_file_are_one_line_each(etc):
    with pytest.raises(config.ConfigError, match=r"amqp\.conf: cannot read"):
        config.load("amqp")
    (etc / "amqp.conf").write_text("port = 1\nport = 2\n")
    with pytest.raises(config.ConfigError, match=r"amqp\.conf: .*[Dd]uplicate"):
        config.load("amqp")


def test_the_shipped_defaults_are_valid(tmp_path, monkeypatch):
    from tests.conftest import REPO

    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    for name in ("amqp", "mongo", "webserver", "hypcontrol"):
        config.load(name, REPO / "etc" / f"{name}.conf")


def test_an_unknown_webservice_stops_the_launcher_with_one_line(tmp_path):
    (tmp_path / "etc").mkdir()
    conf = (REPO / "etc" / "webserver.conf").read_text() + "nosuch = true\n"
    (tmp_path / "etc" / "webserver.conf").write_text(conf)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "canopsis-launch"), "webserver"],
        env={**os.environ, "CANOPSIS_PREFIX": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.endswith(
        "webserver.conf: webservices.nosuch: unknown webservice; known: "
        "alarms, apikeys, deadletters, engines, entities, eventfilter, events, "
        "heartbeats, metrics, pbehaviors, perfdata, users"
    )
