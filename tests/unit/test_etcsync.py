"""Default configuration copied into a prefix without losing an administrator's edit."""

import json
import shutil
import subprocess

import pytest

from canopsis.ops.etcsync import Sync


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


def test_an_edited_file_keeps_its_edit_and_the_default_goes_beside_it(dirs):
    source, prefix = dirs
    Sync(source, prefix).run()
    (prefix / "etc" / "a.conf").write_text("root = /elsewhere\n")
    (source / "a.conf").write_text("root = @PREFIX@\nnew = 1\n")
    assert Sync(source, prefix).run() == [
        "etc/a.conf: changed here, merged with the new default: new added; "
        "the new default is beside it as etc/a.conf.dist"
    ]
    assert (prefix / "etc" / "a.conf").read_text() == "root = /elsewhere\nnew = 1\n"
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


def test_a_file_written_before_installing_gains_only_the_secrets_canopsis_generates(dirs):
    source, prefix = dirs
    (source / "sub" / "b.conf").write_text(
        "port = 27017\nuser = canopsis\npassword = @GENERATED_SECRET@\n"
    )
    (prefix / "etc" / "sub").mkdir(parents=True)
    (prefix / "etc" / "sub" / "b.conf").write_text("port = 4000\n")
    lines = Sync(source, prefix).run()
    [secret] = json.loads((prefix / "var/lib/canopsis/secrets.json").read_text()).values()
    assert (prefix / "etc" / "sub" / "b.conf").read_text() == f"port = 4000\npassword = {secret}\n"
    assert any(
        line.startswith("etc/sub/b.conf: changed here, merged with the new default: ")
        and "password added" in line
        for line in lines
    ), lines
    (prefix / "etc" / "sub" / "b.conf").write_text("port = 4000\npassword = mine\n")
    Sync(source, prefix).run()
    assert (prefix / "etc" / "sub" / "b.conf").read_text() == "port = 4000\npassword = mine\n"


def test_a_file_written_before_installing_with_its_own_secret_is_kept_and_not_shown(dirs):
    source, prefix = dirs
    (prefix / "etc" / "sub").mkdir(parents=True)
    (prefix / "etc" / "sub" / "b.conf").write_text("password = mine\n")
    lines = Sync(source, prefix).run()
    assert [line for line in lines if line.startswith("etc/sub/")] == [
        "etc/sub/b.conf: changed here, kept; the new default is beside it as etc/sub/b.conf.dist"
    ]
    assert (prefix / "etc" / "sub" / "b.conf").read_text() == "password = mine\n"


ENGINE_V1 = """\
# The engine.
next = eventstore
beat_interval = 10
batch_size = 100
retries = 3

[options]
# how long
stealthy_time = 300
"""

ENGINE_V2 = """\
# The engine, new edition.
next = heartbeat
beat_interval = 5
batch_size = 500

[options]
# how long
stealthy_time = 300
# a new option
hard_limit = 100
"""


def installed(dirs, name: str, first: str):
    """``name`` installed from the default ``first``; the live file's path."""
    source, prefix = dirs
    (source / name).write_text(first)
    Sync(source, prefix).run()
    return prefix / "etc" / name


def test_an_edited_file_is_merged_key_by_key_with_the_new_default(dirs):
    source, prefix = dirs
    live = installed(dirs, "e.conf", ENGINE_V1)
    edited = live.read_text().replace("beat_interval = 10", "beat_interval = 30")
    live.write_text(edited + "# checked by the admin\n")
    (source / "e.conf").write_text(ENGINE_V2)
    assert Sync(source, prefix).run() == [
        "etc/e.conf: changed here, merged with the new default: next follows the new default; "
        "batch_size follows the new default; options.hard_limit added; "
        "retries removed (no longer a setting); the new default is beside it as etc/e.conf.dist",
        "etc/e.conf: conflict: beat_interval = 30 kept; the new default is 5",
    ]
    assert live.read_text() == (
        "# The engine.\n"
        "next = heartbeat\n"
        "beat_interval = 30\n"
        "batch_size = 500\n"
        "\n"
        "[options]\n"
        "# how long\n"
        "stealthy_time = 300\n"
        "# a new option\n"
        "hard_limit = 100\n"
        "# checked by the admin\n"
    )
    assert (prefix / "etc" / "e.conf.dist").read_text() == ENGINE_V2
    assert Sync(source, prefix).run() == []


def test_a_key_the_administrator_removed_stays_removed_and_a_changed_one_is_a_conflict(dirs):
    source, prefix = dirs
    live = installed(dirs, "e.conf", ENGINE_V1)
    live.write_text(live.read_text().replace("next = eventstore\n", "").replace("= 3", "= 5"))
    (source / "e.conf").write_text(ENGINE_V2)
    assert Sync(source, prefix).run()[1:] == [
        "etc/e.conf: conflict: next not set here, left so; the new default is heartbeat",
        "etc/e.conf: conflict: retries = 5 kept; the new default drops it",
    ]
    text = live.read_text()
    assert "next" not in text and "retries = 5" in text and "beat_interval = 5" in text


SUPERVISORD_V1 = """\
; The engines.
[program:engine-pipeline]
command=@PREFIX@/bin/canopsis-engine cleaner alerts
    eventstore
stopwaitsecs=30
"""

SUPERVISORD_V2 = """\
; The engines, with heartbeat.
[program:engine-pipeline]
command=@PREFIX@/bin/canopsis-engine cleaner alerts
    heartbeat eventstore
stopwaitsecs=30
startsecs=2
"""


def test_a_supervisord_program_is_merged_with_its_continued_command(dirs):
    source, prefix = dirs
    (source / "supervisord.d").mkdir()
    live = installed(dirs, "supervisord.d/engines.conf", SUPERVISORD_V1)
    live.write_text(live.read_text().replace("stopwaitsecs=30", "; ours\nstopwaitsecs=90"))
    (source / "supervisord.d" / "engines.conf").write_text(SUPERVISORD_V2)
    lines = Sync(source, prefix).run()
    assert lines[0].startswith(
        "etc/supervisord.d/engines.conf: changed here, merged with the new default: "
        "program:engine-pipeline.command follows the new default; "
        "program:engine-pipeline.startsecs added;"
    )
    assert live.read_text() == (
        "; The engines.\n"
        "[program:engine-pipeline]\n"
        f"command={prefix}/bin/canopsis-engine cleaner alerts\n"
        "    heartbeat eventstore\n"
        "; ours\n"
        "stopwaitsecs=90\n"
        "startsecs=2\n"
    )


def test_a_file_not_made_of_keys_is_kept_whole(dirs):
    source, prefix = dirs
    live = installed(dirs, "collectd.conf", "<Plugin cpu>\n  ReportByCpu false\n</Plugin>\n")
    live.write_text("<Plugin cpu>\n  ReportByCpu true\n</Plugin>\n")
    (source / "collectd.conf").write_text("<Plugin load>\n</Plugin>\n")
    assert Sync(source, prefix).run() == [
        "etc/collectd.conf: changed here, kept (not made of keys: merge it by hand); "
        "the new default is beside it as etc/collectd.conf.dist"
    ]
    assert "ReportByCpu true" in live.read_text()


def test_an_install_that_kept_only_digests_finds_its_default_in_the_history(dirs):
    """Installed by a canopsis that kept only the digest of each default: the previous
    default is the version of the file, in the source repository, with that digest."""
    source, prefix = dirs
    git = ["git", "-C", str(source.parent), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (source / "e.conf").write_text(ENGINE_V1)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    live = installed(dirs, "e.conf", ENGINE_V1)
    shutil.rmtree(prefix / "var" / "lib" / "canopsis" / "etc-defaults")
    live.write_text(live.read_text() + "# checked by the admin\n")
    (source / "e.conf").write_text(ENGINE_V2)
    subprocess.run([*git, "commit", "-qam", "v2"], check=True)
    lines = Sync(source, prefix).run()
    assert lines[0].startswith(
        "etc/e.conf: changed here, merged with the new default: next follows the new default;"
    )
    merged = ENGINE_V2.replace(", new edition", "") + "# checked by the admin\n"
    assert live.read_text() == merged


def test_nested_sections_and_inline_comments_are_merged_by_key(dirs):
    source, prefix = dirs
    first = "[server]\nhost = 127.0.0.1\nport = 8082  # the API\n  [[tls]]\n  enabled = false\n"
    live = installed(dirs, "w.conf", first)
    live.write_text(live.read_text().replace("port = 8082  # the API", "port = 9000  # ours"))
    (source / "w.conf").write_text(first.replace("127.0.0.1", "0.0.0.0").replace("false", "true"))
    assert Sync(source, prefix).run() == [
        "etc/w.conf: changed here, merged with the new default: server.host follows the new "
        "default; server.tls.enabled follows the new default; "
        "the new default is beside it as etc/w.conf.dist"
    ]
    assert live.read_text() == (
        "[server]\nhost = 0.0.0.0\nport = 9000  # ours\n  [[tls]]\n  enabled = true\n"
    )
