"""Shared fixtures: free ports and the real services the integration tests use."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymongo
import pytest
from configobj import ConfigObj
from falcon import testing

from bench.stack import free_port, stop_process, wait_for_broker, wait_for_port
from canopsis.domain import auth
from canopsis.ops import config, paths
from canopsis.ops.etcsync import Sync
from canopsis.webserver.api import EventSender
from canopsis.webserver.app import create_app

REPO = Path(__file__).resolve().parent.parent
INSTALLED = str(paths.DEFAULT_PREFIX)
#: paths under the default install prefix opened by the test process (see _audit)
opened_installed: list[str] = []


def _audit(event: str, args: tuple) -> None:
    """Record every file the test process opens under the default install prefix."""
    if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        path = os.fsdecode(args[0])
        if path == INSTALLED or path.startswith(INSTALLED + "/"):
            opened_installed.append(path)


def pytest_configure(config) -> None:
    """The whole session runs with a prefix of its own holding the default configuration,
    so that nothing a test runs (in process or in a subprocess) falls back to an installed
    canopsis in /opt/canopsis."""
    prefix = Path(tempfile.mkdtemp(prefix="canopsis-session-", dir="/var/tmp"))
    (prefix / "var" / "lib" / "canopsis").mkdir(parents=True)
    Sync(REPO / "etc", prefix).run()
    config.stash[SESSION_PREFIX] = str(prefix)
    os.environ["CANOPSIS_PREFIX"] = str(prefix)
    sys.addaudithook(_audit)


def pytest_unconfigure(config) -> None:
    shutil.rmtree(config.stash.get(SESSION_PREFIX, ""), ignore_errors=True)


SESSION_PREFIX = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def installed_prefix_untouched():
    """Fail the test that opened a file of the installed canopsis (``/opt/canopsis``)."""
    del opened_installed[:]
    yield
    if opened_installed:
        opened = sorted(set(opened_installed))
        del opened_installed[:]
        pytest.fail(f"the test opened files of the installed canopsis: {', '.join(opened)}")


@dataclass(frozen=True)
class Services:
    """A temporary prefix whose RabbitMQ and MongoDB run (started by ``canopsis-launch``)."""

    prefix: Path
    env: dict[str, str]
    amqp_url: str
    mongo_uri: str
    database: str
    procs: dict[str, subprocess.Popen]

    def command(self, name: str) -> str:
        return str(Path(sys.executable).parent / name)

    def start(self, program: str, *args: str) -> subprocess.Popen:
        """``canopsis-launch program args`` with its log in the prefix."""
        log = open(self.prefix / "var" / "log" / f"{program}.log", "ab")  # noqa: SIM115
        launch = self.command("canopsis-launch")
        proc = subprocess.Popen([launch, program, *args], env=self.env, stdout=log, stderr=log)
        self.procs[program] = proc
        return proc

    def stop(self, program: str) -> None:
        stop_process(self.procs.pop(program), 60)

    @contextlib.contextmanager
    def engines(self, chain: str, **confs: str) -> Iterator[None]:
        """``chain`` as the prefix's ``etc/engines.conf`` and ``confs`` as engines'
        ``etc/engines/<name>.conf`` while inside; the declared chain is restored after."""
        for name, text in confs.items():
            (self.prefix / "etc" / "engines" / f"{name}.conf").write_text(text)
        declared = self.prefix / "etc" / "engines.conf"
        default = declared.read_text()
        declared.write_text(f"chain = {chain}\n")
        try:
            yield
        finally:
            declared.write_text(default)


class EngineProcess:
    """``canopsis-engine ARGS`` as a subprocess with its log in the prefix."""

    def __init__(self, services, *args: str) -> None:
        self.log = services.prefix / "var" / "log" / f"engine-test-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(
            [services.command("canopsis-engine"), *args],
            env=services.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while "consuming Engine_" not in self.text():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit status; a process still running after ``timeout`` is
        killed and the failure shows the end of its log."""
        status = stop_process(self.proc, timeout)
        if status is None:
            tail = "\n".join(self.text().splitlines()[-40:])
            raise AssertionError(f"no exit {timeout} s after SIGTERM; log:\n{tail}")
        return status


def new_services(prefix: Path, **env: str) -> Services:
    """``prefix`` (a new folder) made a prefix of the repository's etc (``Sync``) with
    amqp.conf and mongo.conf changed to free ports, a unique node name and the database
    ``canopsis_test``; its programs run with ``env`` added to this process's. Nothing runs
    yet."""
    prefix.chmod(0o755)
    (prefix / "var" / "lib" / "canopsis").mkdir(parents=True)
    (prefix / "var" / "log").mkdir(parents=True)
    (prefix / "share").mkdir()
    (prefix / "share" / "console").symlink_to(REPO / "console" / "dist")  # run-tests.sh builds it
    Sync(REPO / "etc", prefix).run()
    etc = prefix / "etc"
    amqp_conf = ConfigObj(str(etc / "amqp.conf"), interpolation=False)
    amqp_conf.update(
        {"port": free_port(), "dist_port": free_port(), "nodename": f"{prefix.name}@localhost"}
    )
    amqp_conf.write()
    mongo_conf = ConfigObj(str(etc / "mongo.conf"), interpolation=False)
    mongo_conf.update({"port": free_port(), "database": "canopsis_test", "cache_size": "256M"})
    mongo_conf.write()
    amqp_url = config.amqp_url(config.load("amqp", etc / "amqp.conf"))
    mongo_uri = config.mongo_uri(config.load("mongo", etc / "mongo.conf"))
    environment = dict(os.environ, CANOPSIS_PREFIX=str(prefix), **env)
    return Services(prefix, environment, amqp_url, mongo_uri, "canopsis_test", {})


@pytest.fixture(scope="session")
def mongo_server():
    """The embedded MongoDB-compatible server as canopsis runs it (``canopsis-launch
    mongodb``: authentication required), alone in a prefix of its own."""
    prefix = Path(tempfile.mkdtemp(prefix="canopsis-mongo-", dir="/var/tmp"))
    server = None
    try:
        server = new_services(prefix)
        port = config.load("mongo", prefix / "etc" / "mongo.conf")["port"]
        wait_for_port(port, 30, server.start("mongodb"))
        yield server
    finally:
        for program in list(server.procs if server else ()):
            server.stop(program)
        shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="session")
def mongo_client(mongo_server):
    """A pymongo client of canopsis' user on :func:`mongo_server`."""
    client = pymongo.MongoClient(mongo_server.mongo_uri, serverSelectionTimeoutMS=5000)
    yield client
    client.close()


@pytest.fixture
def mongo_db(mongo_client, mongo_server):
    """The database canopsis' user owns, empty, for one test; dropped afterwards."""
    mongo_client.drop_database(mongo_server.database)
    yield mongo_client[mongo_server.database]
    mongo_client.drop_database(mongo_server.database)


@pytest.fixture(scope="session")
def services():
    """Real RabbitMQ and embedded MongoDB on free ports, in a prefix under /var/tmp
    (:func:`new_services`)."""
    prefix = Path(tempfile.mkdtemp(prefix="canopsis-services-", dir="/var/tmp"))
    services = None
    try:
        services = new_services(prefix)
        rabbitmq = services.start("rabbitmq-server")
        port = config.load("mongo", prefix / "etc" / "mongo.conf")["port"]
        wait_for_port(port, 30, services.start("mongodb"))
        wait_for_broker(services.amqp_url, 60, rabbitmq)
        yield services
    finally:
        for program in list(services.procs if services else ()):
            services.stop(program)
        shutil.rmtree(prefix, ignore_errors=True)


def make_key(db, role: str, description: str = "test", creator: str = "") -> tuple[dict, str]:
    """A new API key with ``role`` (its document and the key), made by ``creator`` (default
    ``<role>-user``), a user with that role created first when it does not exist."""
    creator = creator or f"{role}-user"
    if db[auth.USERS].find_one({"_id": creator}, {"_id": 1}) is None:
        auth.create_user(db, creator, f"{creator}-password", role)
    return auth.create_key(db, role, description, creator, None)


class ApiClient:
    """The REST application in process (falcon's TestClient) on a real database.

    ``as_role(role)`` gives the headers of an API key of the user ``<role>-user``
    (password ``<role>-user-password``, created with that role the first time);
    ``sender`` is None unless a broker was given, so a test that posts events
    needs the ``services`` fixture.
    """

    def __init__(self, db, amqp_conf: Path | None = None) -> None:
        cfg = config.load("webserver", REPO / "etc" / "webserver.conf")
        sender = EventSender(config.load("amqp", amqp_conf)) if amqp_conf else None
        self.db = db
        self.sender = sender
        console = REPO / "console" / "dist"  # run-tests.sh builds it
        self.client = testing.TestClient(create_app(cfg, db, sender, console))

    def as_role(self, role: str) -> dict[str, str]:
        _doc, key = make_key(self.db, role)
        return {"Authorization": f"Key {key}"}

    def __getattr__(self, name: str):
        return getattr(self.client, name)


def error(resp) -> dict:
    """The error of an API answer, checked to have the one error shape and the answer's
    status as its code."""
    body = resp.json
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == resp.status_code
    return body["error"]


def author_of(headers: dict[str, str]) -> str:
    """The author of what the key of ``headers`` (:meth:`ApiClient.as_role`) does."""
    key_id = headers["Authorization"].removeprefix("Key ").partition(".")[0]
    return f"key:{key_id}/test"


@pytest.fixture
def api(mongo_db):
    """The REST application on a database of its own (no broker)."""
    return ApiClient(mongo_db)
