"""Default configuration copied into a prefix without losing an administrator's edit."""

import pytest

from canopsis.etcsync import Sync


@pytest.fixture
def dirs(tmp_path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.conf").write_text("root = @PREFIX@\n")
    (source / "sub" / "b.conf").write_text("password = @GENERATED_SECRET@\n")
    prefix = tmp_path / "prefix"
    (prefix / "var" / "lib" / "canopsis").mkdir(parents=True)
    return source, prefix


def test_first_sync_installs_rendered_defaults(dirs):
    source, prefix = dirs
    assert Sync(source, prefix).run() == ["etc: 2 default files installed"]
    assert (prefix / "etc" / "a.conf").read_text() == f"root = {prefix}\n"
    secret = (prefix / "etc" / "sub" / "b.conf").read_text().split(" = ")[1].strip()
    assert len(secret) >= 24 and "@" not in secret


def test_a_second_sync_changes_nothing(dirs):
    source, prefix = dirs
    Sync(source, prefix).run()
    before = (prefix / "etc" / "sub" / "b.conf").read_text()
    assert Sync(source, prefix).run() == []
    assert (prefix / "etc" / "sub" / "b.conf").read_text() == before


def test_a_new_default_replaces_an_untouched_file_and_keeps_its_secret(dirs):
    source, prefix = dirs
    Sync(source, prefix).run()
    secret_line = (prefix / "etc" / "sub" / "b.conf").read_text()
    (source / "sub" / "b.conf").write_text("password = @GENERATED_SECRET@\nport = 1\n")
    assert Sync(source, prefix).run() == ["etc/sub/b.conf: updated to the new default"]
    assert (prefix / "etc" / "sub" / "b.conf").read_text() == secret_line + "port = 1\n"


def test_an_edited_file_is_kept_and_the_default_goes_beside_it(dirs):
    source, prefix = dirs
    Sync(source, prefix).run()
    (prefix / "etc" / "a.conf").write_text("root = /elsewhere\n")
    (source / "a.conf").write_text("root = @PREFIX@\nnew = 1\n")
    assert Sync(source, prefix).run() == [
        "etc/a.conf: changed here, kept; the new default is beside it as etc/a.conf.dist"
    ]
    assert (prefix / "etc" / "a.conf").read_text() == "root = /elsewhere\n"
    assert (prefix / "etc" / "a.conf.dist").read_text() == f"root = {prefix}\nnew = 1\n"
    assert Sync(source, prefix).run() == []


def test_a_file_the_administrator_wrote_before_installing_is_kept(dirs):
    source, prefix = dirs
    (prefix / "etc").mkdir()
    (prefix / "etc" / "a.conf").write_text("mine\n")
    lines = Sync(source, prefix).run()
    assert (
        "etc/a.conf: changed here, kept; the new default is beside it as etc/a.conf.dist" in lines
    )
    assert (prefix / "etc" / "a.conf").read_text() == "mine\n"
