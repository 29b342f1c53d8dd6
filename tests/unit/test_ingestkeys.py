"""The ingest key file: reading it (cached on mtime) and checking keys against it."""

import hashlib
import json
import os
import time

from canopsis.domain import ingestkeys


def entry(secret: str, role: str = "operator", expires: float | None = None) -> dict:
    return {"hash": hashlib.sha256(secret.encode()).hexdigest(), "role": role, "expires": expires}


def test_a_known_key_gives_its_entry():
    keys = {"k1": entry("s3cret", "admin")}
    assert ingestkeys.check(keys, "k1.s3cret") == keys["k1"]


def test_a_wrong_secret_an_unknown_id_or_a_malformed_key_gives_nothing():
    keys = {"k1": entry("s3cret")}
    assert ingestkeys.check(keys, "k1.wrong") is None
    assert ingestkeys.check(keys, "k2.s3cret") is None
    assert ingestkeys.check(keys, "k1") is None
    assert ingestkeys.check(keys, ".s3cret") is None
    assert ingestkeys.check(keys, "") is None


def test_expiry_is_checked_when_the_key_is_used():
    keys = {"k1": entry("s3cret", expires=1000.0)}
    assert ingestkeys.check(keys, "k1.s3cret", now=999.0)["role"] == "operator"
    assert ingestkeys.check(keys, "k1.s3cret", now=1000.0) is None
    assert ingestkeys.check({"k1": entry("s3cret", expires=time.time() - 1)}, "k1.s3cret") is None


def test_a_missing_file_holds_no_key(tmp_path):
    assert ingestkeys.read(tmp_path / "keys.json") == {}


def test_read_is_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"k1": entry("a")}))
    first = ingestkeys.read(path)
    assert ingestkeys.read(path) is first
    path.write_text(json.dumps({"k1": entry("a"), "k2": entry("b")}))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert set(ingestkeys.read(path)) == {"k1", "k2"}
    path.unlink()
    assert ingestkeys.read(path) == {}


def test_a_broken_file_holds_no_key(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    assert ingestkeys.read(path) == {}
    path.write_text("[1, 2]")
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert ingestkeys.read(path) == {}


def test_the_file_lives_under_var_lib(monkeypatch, tmp_path):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    assert ingestkeys.path() == tmp_path / "var" / "lib" / "ingest" / "keys.json"
    assert ingestkeys.prefix_known()
