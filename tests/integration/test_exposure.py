"""What the services show to other users of the host: the database answers only canopsis'
user, and nothing listens beyond the loopback interface."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pymongo
import pytest
from configobj import ConfigObj
from pymongo.errors import OperationFailure

from bench.stack import free_port, process_tree, wait_for_port
from canopsis.ops import config
from tests.conftest import Services, new_services, wait_for_broker

pytestmark = pytest.mark.integration

LOOPBACK = {"127.0.0.1", "::1"}


def anonymous(port: int) -> pymongo.MongoClient:
    return pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=5000)


def test_the_database_answers_only_canopsis_user(services):
    cfg = config.load("mongo", services.prefix / "etc" / "mongo.conf")
    with pymongo.MongoClient(services.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        client[services.database].users.find_one()
    assert_anonymous_refused(cfg["port"], services.database)
    wrong = f"mongodb://{cfg['user']}:not-the-password@127.0.0.1:{cfg['port']}/"
    assert_wrong_password(wrong, services.database)


def assert_anonymous_refused(port: int, database: str) -> None:
    """A client without credentials can neither read nor write canopsis' users."""
    with anonymous(port) as client:
        users = client[database].users
        with pytest.raises(OperationFailure, match="requires authentication"):
            users.find_one()
        with pytest.raises(OperationFailure, match="requires authentication"):
            users.insert_one({"_id": "intruder", "role": "admin"})


def assert_wrong_password(uri: str, database: str) -> None:
    with (
        pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client,
        pytest.raises(OperationFailure, match=r"[Aa]uthentication failed"),
    ):
        client[database].users.find_one()


def test_no_service_listens_beyond_loopback(services):
    dist_port = int(ConfigObj(str(services.prefix / "etc" / "amqp.conf"))["dist_port"])
    roots = [proc.pid for proc in services.procs.values()]
    found = listening(roots, services.prefix)
    assert dist_port in {port for _, port in found}, found
    assert [(address, port) for address, port in found if address not in LOOPBACK] == []
    assert epmd_addresses(roots) == ["127.0.0.1"]


def listening_sockets() -> list[tuple[str, int, set[int]]]:
    """Every listening TCP socket of the host: its address, port and the pids holding it
    (``ss -ltnp``)."""
    done = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True)
    found = []
    for line in done.stdout.splitlines():
        local, process = line.split()[3], " ".join(line.split()[5:])
        address, port = local.rsplit(":", 1)
        address = address.strip("[]").split("%")[0]
        found.append((address, int(port), {int(pid) for pid in re.findall(r"pid=(\d+)", process)}))
    return found


def listening(roots: list[int], prefix: Path) -> list[tuple[str, int]]:
    """The listening sockets (address, port) of the processes descending from ``roots``,
    and of the epmd that one of them started (epmd is the host's: the broker starts one,
    on its ``dist_address``, only when none runs)."""
    ours = {pid for root in roots for pid in process_tree(root)}
    return [
        (address, port)
        for address, port, pids in listening_sockets()
        if pids & ours or any(command(pid) == "epmd" and started_in(pid, prefix) for pid in pids)
    ]


def epmd_addresses(roots: list[int]) -> list[str]:
    """The epmd address each Erlang node of the trees of ``roots`` was given."""
    nodes = [pid for root in roots for pid in process_tree(root) if command(pid) == "beam.smp"]
    return [environ(pid).get("ERL_EPMD_ADDRESS", "every interface") for pid in nodes]


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def started_in(pid: int, prefix: Path) -> bool:
    try:
        return environ(pid).get("CANOPSIS_PREFIX") == str(prefix)
    except OSError:
        return False


def environ(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in text.split("\0") if "=" in item)


@pytest.fixture
def own_site():
    """A prefix of its own (:func:`new_services`), nothing started; its broker uses an
    epmd of its own (on a free port), stopped at the end."""
    prefix = Path(tempfile.mkdtemp(prefix="canopsis-own-", dir="/var/tmp"))
    site = None
    try:
        site = new_services(prefix, ERL_EPMD_PORT=str(free_port()))
        yield site
    finally:
        for program in list(site.procs if site else ()):
            site.stop(program)
        for entry in Path("/proc").iterdir():
            pid = int(entry.name) if entry.name.isdigit() else 0
            if pid and command(pid) == "epmd" and started_in(pid, prefix):
                os.kill(pid, signal.SIGTERM)
        shutil.rmtree(prefix, ignore_errors=True)


def test_the_epmd_the_broker_starts_listens_on_dist_address(own_site):
    proc = own_site.start("rabbitmq-server")
    wait_for_broker(own_site.amqp_url, 60, proc)
    epmd_port = int(own_site.env["ERL_EPMD_PORT"])
    found = listening([proc.pid], own_site.prefix)
    assert epmd_port in {port for _, port in found}, found
    assert [(address, port) for address, port in found if address not in LOOPBACK] == []


def test_an_idle_epmd_on_every_interface_is_replaced_by_one_on_dist_address(own_site):
    """An epmd left listening everywhere (by a canopsis older than dist_address) and used by
    no node is stopped when the broker starts, so the one it starts is on loopback."""
    epmd_port = int(own_site.env["ERL_EPMD_PORT"])
    subprocess.run(["epmd", "-daemon"], env=own_site.env, check=True)
    wait_for_port(epmd_port, 30)
    everywhere = [a for a, port, _ in listening_sockets() if port == epmd_port]
    assert set(everywhere) - LOOPBACK, everywhere
    proc = own_site.start("rabbitmq-server")
    wait_for_broker(own_site.amqp_url, 60, proc)
    found = [a for a, port, _ in listening_sockets() if port == epmd_port]
    assert found and set(found) <= LOOPBACK, found
    log = (own_site.prefix / "var" / "log" / "rabbitmq-server.log").read_text()
    assert "rabbitmq: stopped the idle epmd listening on" in log


def start_database(site: Services) -> tuple[ConfigObj, str]:
    """Start the site's mongodb program; its configuration and the launcher's log."""
    cfg = config.load("mongo", site.prefix / "etc" / "mongo.conf")
    log = site.prefix / "var" / "log" / "mongodb.log"
    before = log.stat().st_size if log.exists() else 0
    wait_for_port(cfg["port"], 60, site.start("mongodb"))
    return cfg, log.read_text()[before:]


def test_the_database_user_follows_mongo_conf_on_data_written_without_one(own_site):
    site = own_site
    cfg = config.load("mongo", site.prefix / "etc" / "mongo.conf")
    # the data of an install made before the server required a user
    storage = site.prefix / "var" / "lib" / "mongodb"
    old = subprocess.Popen(
        [
            site.command("secantusd-py"),
            "--standalone",
            "--port",
            str(cfg["port"]),
            "--storage-path",
            str(storage),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(cfg["port"], 60, old)
        with anonymous(cfg["port"]) as client:
            client[site.database].alarms.insert_one({"_id": "before"})
    finally:
        old.terminate()
        old.wait(60)

    cfg, log = start_database(site)
    assert f"mongodb: user canopsis created (password of {site.prefix}/etc/mongo.conf)" in log
    with pymongo.MongoClient(config.mongo_uri(cfg), serverSelectionTimeoutMS=5000) as client:
        assert client[site.database].alarms.find_one() == {"_id": "before"}
    assert_anonymous_refused(cfg["port"], site.database)
    site.stop("mongodb")

    # an administrator changes the password
    conf = ConfigObj(str(site.prefix / "etc" / "mongo.conf"), interpolation=False)
    conf["password"] = "a new one"
    conf.write()
    new, log = start_database(site)
    assert "mongodb: user canopsis updated" in log
    with pymongo.MongoClient(config.mongo_uri(new), serverSelectionTimeoutMS=5000) as client:
        assert client[site.database].alarms.find_one() == {"_id": "before"}
    assert_wrong_password(config.mongo_uri(cfg), site.database)
    site.stop("mongodb")

    # a start that finds the user as mongo.conf says changes nothing
    _, log = start_database(site)
    assert "mongodb: user" not in log
