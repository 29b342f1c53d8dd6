"""The pipeline page in headless Chromium, the engine chain run by a real supervisord in
the test prefix (as installed: the webserver finds it on ``var/run/supervisor.sock``):
its programs, the chain as they run it, each engine's numbers, a restart from the page."""

import re
import subprocess
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest
from configobj import ConfigObj
from playwright.sync_api import expect
from supervisor.xmlrpc import SupervisorTransport

from canopsis.domain import auth
from tests.conftest import free_port, stop_process, wait_for_port
from tests.integration.console_site import (  # noqa: F401
    PASSWORD,
    ROLES,
    WEBSERVER,
    Console,
    browser,
    page,
    screenshot,
    site,
)
from tests.integration.test_pipeline import CHAIN

pytestmark = pytest.mark.integration

PROGRAM = "engine-pipeline"
SUPERVISORD_CONF = """\
[unix_http_server]
file={run}/supervisor.sock

[supervisord]
logfile={log}/supervisord-pipeline-test.log
pidfile={run}/supervisord.pid
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[group:engines]
programs={program}

[program:{program}]
command={command}
autostart=true
autorestart=true
startsecs=2
stopwaitsecs=30
redirect_stderr=true
stdout_logfile={log}/{program}-test.log
"""


def supervisor_rpc(sock: Path):
    transport = SupervisorTransport(None, None, f"unix://{sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def wait_running(sock: Path, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if supervisor_rpc(sock).getProcessInfo(f"engines:{PROGRAM}")["statename"] == "RUNNING":
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"supervisord did not start {PROGRAM}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def supervised(site) -> Iterator[Path]:  # noqa: F811
    """supervisord in the prefix running the whole chain as ``engines:engine-pipeline``;
    its socket."""
    run, log = site.prefix / "var" / "run", site.prefix / "var" / "log"
    run.mkdir(parents=True, exist_ok=True)
    conf = run / "supervisord-pipeline-test.conf"
    command = " ".join([site.command("canopsis-engine"), *CHAIN])
    conf.write_text(SUPERVISORD_CONF.format(run=run, log=log, program=PROGRAM, command=command))
    proc = subprocess.Popen(
        [site.command("supervisord"), "-c", str(conf)],
        env=site.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sock = run / "supervisor.sock"
    try:
        wait_running(sock, proc, log / "supervisord-pipeline-test.log")
        yield sock
    finally:
        stop_process(proc, 60)


@pytest.fixture(scope="module")
def console(site, supervised) -> Iterator[Console]:  # noqa: F811
    """The webserver on ``site``, beside the supervised chain; users of each role."""
    conf = ConfigObj(str(site.prefix / "etc" / "webserver.conf"), interpolation=False)
    port = free_port()
    conf["server"]["port"] = port
    conf.write()
    client = pymongo.MongoClient(site.mongo_uri)
    db = client[site.database]
    for role in ROLES:
        if db[auth.USERS].find_one({"_id": role}) is None:
            auth.create_user(db, role, PASSWORD, role)
    try:
        wait_for_port(port, 30, site.start("webserver", *WEBSERVER))
        yield Console(f"http://127.0.0.1:{port}", site, db)
    finally:
        if "webserver" in site.procs:
            site.stop("webserver")
        client.close()


def test_restarting_an_engine_from_the_pipeline_page_brings_it_back_to_running(
    console,
    supervised,
    page,  # noqa: F811
):
    component = Console.unique("pipeline")
    for state in (2, 3):
        console.send(component=component, resource="disk", state=state, output="full")
    console.alarm(component, "disk")
    console.login(page, "admin", "/console/pipeline")

    row = page.locator(f"tr[data-program={PROGRAM}]")
    expect(row.locator("[data-process-state]")).to_have_text("RUNNING")
    expect(page.locator(".chain .engine-box")).to_have_text(list(CHAIN))
    expect(page.locator(".chain > li")).to_have_count(1)
    cleaner = page.locator('.engine[data-engine="cleaner"] .report').first
    expect(cleaner.locator("[data-metric=events_per_second] .value")).to_have_text(
        re.compile(r"^\d")
    )
    # the chart has points of several polls
    expect(cleaner.locator("[data-metric=events_per_second] .sparkline")).not_to_have_attribute(
        "data-points", re.compile(r"^[01]$")
    )
    pid = supervisor_rpc(supervised).getProcessInfo(f"engines:{PROGRAM}")["pid"]
    expect(row.locator(".pid")).to_have_text(str(pid))

    row.get_by_role("button", name="Restart").click()
    confirm = row.get_by_role("group", name="confirm restart")
    expect(confirm).to_contain_text(f"Really restart {PROGRAM}?")
    confirm.get_by_role("button", name="Yes").click()
    expect(row.get_by_text("working…")).to_be_visible()
    expect(row.get_by_text("working…")).to_have_count(0, timeout=60_000)
    expect(row.locator("[data-process-state]")).to_have_text("RUNNING")
    expect(row.locator(".pid")).not_to_have_text(str(pid))
    info = supervisor_rpc(supervised).getProcessInfo(f"engines:{PROGRAM}")
    assert info["statename"] == "RUNNING" and info["pid"] != pid

    # the restarted chain works: a new event makes an alarm
    again = Console.unique("pipeline-after")
    console.send(component=again, resource="disk", state=2, output="full")
    console.alarm(again, "disk", timeout=60)
    expect(cleaner.locator("[data-metric=queue_depth] .sparkline")).not_to_have_attribute(
        "data-points", re.compile(r"^[0-2]$")
    )
    screenshot(page, "pipeline")


def test_a_viewer_sees_the_pipeline_without_any_control(console, page):  # noqa: F811
    console.login(page, "viewer", "/console/pipeline")
    row = page.locator(f"tr[data-program={PROGRAM}]")
    expect(row.locator("[data-process-state]")).to_have_text("RUNNING")
    expect(page.locator(".chain .engine-box")).to_have_count(len(CHAIN))
    expect(page.get_by_role("columnheader", name="Control")).to_have_count(0)
    for name in ("Start", "Stop", "Restart"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
