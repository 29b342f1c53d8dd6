"""An update of a running system: an older canopsis from this repository's history,
installed and running, with alarms and an administrator's edit, then ``build-install.sh``
of this tree over it while it runs.

The older commit has neither the pbehavior nor the heartbeat engine: the update inserts
them in the chain (heartbeat after alerts), which an edited ``alerts.conf`` kept whole
used to break. It names entities the former way (connector ``nagios/upgrade``, resource
``disk /var/db0``): the engines of the update move them to the ids of
:mod:`canopsis.domain.entityid` at start.
"""

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import REPO
from tests.integration.test_exposure import assert_anonymous_refused
from tests.integration.test_platform import (
    assert_logs_private,
    bin_,
    call,
    mongo,
    new_prefix,
    remove_prefix,
    run,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration

#: the last commit before the pbehavior and heartbeat engines
OLD = "5a88eef"
ALARMS = 20
ADMIN_LINE = "# checked by the administrator before the update\n"
#: a resource whose id the update changes (its '/' escaped)
VAR = "disk /var"


def extract_old_tree(tree: Path) -> None:
    """This repository at ``OLD``, into ``tree``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD], capture_output=True)
    assert archive.returncode == 0, (
        f"git archive {OLD}: {archive.stderr.decode().strip()} (the upgrade test installs a "
        "commit of this repository's history: run the tests from a full clone)"
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)


class Api:
    """The installed REST API, logged in as the first admin."""

    def __init__(self, site) -> None:
        self.base = f"http://127.0.0.1:{site['ports']['web']}/api/v2"
        name, password = (site["prefix"] / "etc" / "admin-password").read_text().split()
        login = call(f"{self.base}/auth/login", {"name": name, "password": password})
        assert login.status == 200, login.read()
        self.cookie = login.headers["Set-Cookie"].split(";")[0]

    def get(self, path: str):
        answer = call(f"{self.base}{path}", None, self.cookie)
        assert answer.status == 200, answer.read()
        return json.loads(answer.read())

    def entity(self, entity_id: str) -> dict | None:
        """The entity ``entity_id`` (URL-encoded as a whole), None when there is none."""
        answer = call(f"{self.base}/entities/{quote(entity_id, safe='')}", None, self.cookie)
        assert answer.status in (200, 404), answer.read()
        return json.loads(answer.read()) if answer.status == 200 else None

    def post(self, path: str, body) -> dict:
        answer = call(f"{self.base}{path}", body, self.cookie)
        assert answer.status in (201, 202), answer.read()
        return json.loads(answer.read())


def check(component: str, state: int = 2, resource: str = "disk") -> dict:
    return {
        "connector": "nagios",
        "connector_name": "upgrade",
        "event_type": "check",
        "source_type": "resource",
        "component": component,
        "resource": resource,
        "state": state,
        "output": "disk full",
    }


def alarms(api: Api, component: str = "", resource: str = "disk") -> list[dict]:
    query = f"component={component}" if component else "limit=100"
    return api.get(f"/alarms?connector_name=upgrade&resource={quote(resource)}&{query}")["items"]


@pytest.fixture(scope="module")
def updated():
    """The older canopsis running with ``ALARMS`` alarms and an edited alerts.conf, then
    updated to this tree while it runs."""
    tree = Path(tempfile.mkdtemp(prefix="canopsis-old-", dir="/var/tmp"))
    tree.chmod(0o755)
    prefix, ports = new_prefix(db_password=False)
    site = {"prefix": prefix, "ports": ports}
    # mongo.conf as the older canopsis installs it, then the administrator's port: the update
    # merges it with the new default (which adds canopsis' user and its password)
    mongo_conf = prefix / "etc" / "mongo.conf"
    mongo_conf.unlink()
    try:
        extract_old_tree(tree)
        run(str(tree / "build-install.sh"), "--prefix", str(prefix), check=True)
        mongo_conf.write_text(
            re.sub(r"(?m)^port = .*$", f"port = {ports['mongo']}", mongo_conf.read_text())
        )
        run(str(prefix / "bin" / "hypcontrol"), "start", check=True)
        api = Api(site)
        api.post("/event", [check(f"db{n}") for n in range(ALARMS)] + [check("db0", 2, VAR)])
        wait_for(lambda: len(alarms(api)) == ALARMS, 60, f"{ALARMS} alarms before the update")
        wait_for(lambda: alarms(api, "db0", VAR), 60, "the alarm of disk /var before the update")
        assert api.entity("nagios/upgrade")["type"] == "connector"  # the former id
        alerts = prefix / "etc" / "engines" / "alerts.conf"
        alerts.write_text(alerts.read_text() + ADMIN_LINE)
        site["before"] = status(site)
        site["update"] = run(str(REPO / "build-install.sh"), "--prefix", str(prefix))
        yield site
    finally:
        remove_prefix(prefix)
        shutil.rmtree(tree, ignore_errors=True)


def test_the_update_restarts_what_changed_and_its_last_line_says_it_runs(updated):
    update = updated["update"]
    assert update.returncode == 0, update.stdout + update.stderr
    prefix = updated["prefix"]
    lines = update.stdout.splitlines()
    assert lines[-1] == f"canopsis runs this version in {prefix}: {prefix}/bin/hypcontrol status"
    restarted = [line.split()[2] for line in lines if line.startswith("hypcontrol: [ok]")]
    assert restarted == ["storage:", "engines:", "frontend:"]
    states = status(updated)
    assert {state for state, _ in states.values()} == {"RUNNING"}
    assert all(states[name][1] != pid for name, (_, pid) in updated["before"].items())
    assert bin_(updated, "hypcontrol", "status").returncode == 0


def test_the_engines_run_the_new_chain(updated):
    _, pid = status(updated)["engine-pipeline"]
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert command.endswith(
        "/bin/canopsis-engine cleaner event_filter context perfdata pbehavior alerts "
        "heartbeat eventstore "
    )


def test_the_alarms_stored_before_are_there_and_a_check_goes_through_the_new_engines(updated):
    api = Api(updated)
    assert sorted(a["component"] for a in alarms(api)) == sorted(f"db{n}" for n in range(ALARMS))
    now = time.time()
    api.post(
        "/pbehaviors",
        {
            "name": "upgrade window",
            "type": "maintenance",
            "reason": "after the update",
            "filter": {"component": "db-maint"},
            "start": now - 60,
            "end": now + 3600,
        },
    )
    api.post("/event", check("db-maint"))
    in_window = wait_for(
        lambda: [a for a in alarms(api, "db-maint") if a.get("pbehavior")],
        60,
        "the pbehavior engine to put the new alarm in its maintenance window",
    )
    assert in_window[0]["pbehavior"]["type"] == "maintenance"


def test_the_entities_stored_before_are_reachable_under_their_new_ids(updated):
    api = Api(updated)
    connector = wait_for(
        lambda: api.entity("nagios/upgrade/connector"), 60, "the connector under its new id"
    )
    assert (connector["type"], connector["name"]) == ("connector", "upgrade")
    assert api.entity("nagios/upgrade") is None
    disk = api.entity("disk %2Fvar/db0")
    assert (disk["type"], disk["name"], disk["connector"]) == (
        "resource",
        VAR,
        "nagios/upgrade/connector",
    )
    [opened] = alarms(api, "db0", VAR)
    assert disk["alarm"]["_id"] == opened["_id"] and opened["entity_id"] == "disk %2Fvar/db0"
    assert api.entity("disk/db7")["alarm"]["component"] == "db7"
    assert api.entity("disk /var/db0") is None


def test_the_administrators_edit_is_kept_and_untouched_keys_follow_the_new_default(updated):
    alerts = updated["prefix"] / "etc" / "engines" / "alerts.conf"
    text = alerts.read_text()
    # the administrator's line kept, then the section the new default has and the old had not
    assert text.endswith(
        ADMIN_LINE + "[perf]\nwarn_ms_per_event = 100\ncrit_ms_per_event = 1000\n"
        "warn_queue = 10000\ncrit_queue = 100000\n"
    )
    # the engine's place in the chain is no longer written in its file (etc/engines.conf)
    assert "\nnext =" not in text
    assert (
        alerts.with_name("alerts.conf.dist").read_text()
        == (REPO / "etc" / "engines" / "alerts.conf").read_text()
    )
    [merged] = [
        line.strip()
        for line in updated["update"].stdout.splitlines()
        if "etc/engines/alerts.conf: changed here, merged with the new default: " in line
    ]
    assert "next removed (no longer a setting)" in merged
    assert (updated["prefix"] / "etc" / "engines.conf").read_text() == (
        REPO / "etc" / "engines.conf"
    ).read_text()


def test_the_database_now_answers_only_canopsis_user_and_the_logs_are_private(updated):
    # the update added canopsis' user (and its password to mongo.conf) to data written
    # without one: the engines and the API work as that user (the tests above), others not
    assert_anonymous_refused(updated["ports"]["mongo"], "canopsis")
    with mongo(updated) as client:
        assert client.canopsis.alarms.count_documents({}) >= ALARMS
    assert_logs_private(updated["prefix"])
