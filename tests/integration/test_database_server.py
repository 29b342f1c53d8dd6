"""The embedded database server of an install: secantusd-rs from its build, secantusd-py
until the build is done or when it failed, and the handover of the data between them.

The install's build is the real one of ``build/secantusd-rs.sh``, with its cache
(``CANOPSIS_CACHE``) in a folder of the test: a build that cannot find cargo fails
at once, and a build whose lock the test holds waits until the test hands it the
binary the suite's own build made (run-tests.sh), as a finished build would.
"""

import fcntl
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_platform import (
    bin_,
    mongo,
    new_prefix,
    remove_prefix,
    run,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration

VERSION = re.search(
    r"^SECANTUS_MDB_VERSION=(\S+)$", (REPO / "build" / "secantusd-rs.sh").read_text(), re.M
)[1]
BUILT = Path(os.environ.get("CANOPSIS_CACHE", "/var/cache/canopsis"))
BUILT = BUILT / f"secantus-mdb-{VERSION}" / "bin" / "secantusd-rs"
#: a PATH without cargo
NO_RUST = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def server_of(prefix: Path) -> str:
    """The server the mongodb program of ``prefix`` runs (the path of secantusd-rs, or of
    the script secantusd-py); empty while it does not run."""
    state, pid = status({"prefix": prefix})["mongodb"]
    if state != "RUNNING":
        return ""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return next(arg for arg in argv if Path(arg).name.startswith("secantusd-"))


@pytest.fixture
def prefix():
    prefix, _ports = new_prefix()
    yield prefix
    remove_prefix(prefix)


def install(prefix: Path, cache: Path, path: str) -> str:
    env = dict(os.environ, CANOPSIS_CACHE=str(cache), PATH=path, CARGO_HOME=str(cache / "none"))
    done = run(str(REPO / "build-install.sh"), "--prefix", str(prefix), env=env, check=True)
    return done.stdout


def test_the_database_runs_on_secantusd_py_until_secantusd_rs_is_built_then_moves_over(
    prefix, tmp_path
):
    assert BUILT.exists(), f"no {BUILT}: run-tests.sh builds it before the tests"
    cache = tmp_path / "cache"
    log = prefix / "var" / "log" / "install" / "secantusd-rs-build.log"
    told = prefix / "var" / "run" / "secantusd-rs.build"

    # no Rust on the machine: the build fails, the install still gives a running system
    said = install(prefix, cache, NO_RUST)
    assert "[ok] mongodb: secantusd-py for now: building secantusd-rs" in said
    wait_for(lambda: "failed" in (told.read_text() if told.exists() else ""), 60, "failure")
    assert "cargo not found (install Rust with rustup)" in told.read_text()
    assert bin_({"prefix": prefix}, "hypcontrol", "start").returncode == 0
    assert server_of(prefix).endswith("/venv/bin/secantusd-py")
    mongodb_log = (prefix / "var" / "log" / "mongodb.log").read_text()
    assert f"but {prefix}/venv/bin/secantusd-rs is not there (the build of secantus-mdb" in (
        mongodb_log
    )
    with mongo({"prefix": prefix}) as client:
        client.canopsis.kept.insert_many([{"_id": n} for n in range(1000)])

    # the next install builds again, in the background, while the system runs on
    # secantusd-py; its build finds the binary once the test lets it go on
    (cache / f"secantus-mdb-{VERSION}").mkdir(parents=True, exist_ok=True)
    with open(cache / f"secantus-mdb-{VERSION}" / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        said = install(prefix, cache, NO_RUST)
        assert "[ok] mongodb: secantusd-py for now: building secantusd-rs" in said
        assert "then mongodb restarts on secantusd-rs, same data" in said
        assert told.read_text().startswith(f"building secantus-mdb {VERSION} since ")
        time.sleep(1)
        assert server_of(prefix).endswith("/venv/bin/secantusd-py")
        target = cache / f"secantus-mdb-{VERSION}" / "bin"
        target.mkdir()
        shutil.copy2(BUILT, target / "secantusd-rs")
    wait_for(lambda: server_of(prefix).endswith("/venv/bin/secantusd-rs"), 90, "the handover")
    assert not told.exists()
    assert "handing the database over to secantusd-rs: restarting mongodb" in log.read_text()
    with mongo({"prefix": prefix}) as client:
        assert client.canopsis.kept.count_documents({}) == 1000

    # and back, by a setting: the same data on secantusd-py
    conf = prefix / "etc" / "mongo.conf"
    conf.write_text(conf.read_text() + "server = python\n")
    assert bin_({"prefix": prefix}, "hypcontrol", "reload").returncode == 0
    assert server_of(prefix).endswith("/venv/bin/secantusd-py")
    with mongo({"prefix": prefix}) as client:
        assert client.canopsis.kept.count_documents({}) == 1000
