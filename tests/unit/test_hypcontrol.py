"""hypcontrol's sections: what each needs, and a failed one skipping only those that need it."""

import subprocess
import time

import pytest

from canopsis.cli import hypcontrol
from canopsis.ops import config, control
from canopsis.ops.supervisor import Process

CONF = """\
[storage]
programs = mongodb
[engines]
programs = engines
needs = storage
[frontend]
programs = webserver
needs = storage
[reports]
programs = reporter
"""


def process(name: str, group: str | None = None) -> Process:
    return Process(name, group or name, "STOPPED", 0, 0, 0, "", f"/log/{name}.log")


KNOWN = [
    process("mongodb"),
    process("engine-pipeline", "engines"),
    process("webserver"),
    process("reporter"),
]


@pytest.fixture
def etc(tmp_path, monkeypatch):
    monkeypatch.setenv("CANOPSIS_PREFIX", str(tmp_path))
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "mongo.conf").write_text("password = x\n")
    return tmp_path / "etc"


def test_a_section_needs_the_sections_it_names_or_all_before_it(etc):
    (etc / "hypcontrol.conf").write_text(CONF)
    needs = {s.name: s.needs for s in hypcontrol.sections(KNOWN)}
    assert needs == {
        "storage": [],
        "engines": ["storage"],
        "frontend": ["storage"],
        "reports": ["storage", "engines", "frontend"],
    }


def test_a_need_that_is_not_a_section_before_is_refused_naming_file_and_key(etc):
    (etc / "hypcontrol.conf").write_text(CONF.replace("needs = storage", "needs = reports", 1))
    with pytest.raises(config.ConfigError) as err:
        hypcontrol.sections(KNOWN)
    assert str(err.value) == (
        f"{etc / 'hypcontrol.conf'}: engines.needs: 'reports' is not a section before [engines]"
    )


def test_a_failed_section_skips_only_the_sections_that_need_it(etc, capsys):
    (etc / "hypcontrol.conf").write_text(CONF)
    ordered = hypcontrol.sections(KNOWN)
    acted = []

    def act(section):
        acted.append(section.name)
        failures = [control.Failure(p, "fatal") for p in section.procs if section.name == "engines"]
        return section.procs, failures

    failures, failed = hypcontrol.in_order(ordered, act, "started")
    assert acted == ["storage", "engines", "frontend"]
    assert [f.process.name for f in failures] == ["engine-pipeline"]
    assert failed == {"engines", "reports"}
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "hypcontrol: [FAIL] engines: engines:engine-pipeline",
        out[2],
        "hypcontrol: [skipped] reports: reporter not started: needs engines, which failed",
    ]
    assert out[2].startswith("hypcontrol: [ok] frontend: webserver started (")


def test_a_process_start_is_known_to_the_clock_tick_not_the_second():
    before = time.time()
    child = subprocess.Popen(["sleep", "5"])
    after = time.time()
    try:
        proc = Process("p", "p", "RUNNING", child.pid, int(before), 0, "", "/log/p.log")
        # /proc counts in clock ticks (10 ms); supervisord's start is whole seconds
        assert before - 0.05 <= proc.started_at <= after + 0.05
    finally:
        child.kill()
        child.wait()


def test_a_process_gone_from_proc_has_supervisords_start():
    assert Process("p", "p", "EXITED", 0, 1_700_000_000, 0, "", "").started_at == 1_700_000_000.0
