"""A temporary canopsis on free ports: RabbitMQ, the embedded MongoDB, engines, the webserver.

The prefix is made under /var/tmp from the repository's ``etc`` (as an
install does it, with :class:`canopsis.ops.etcsync.Sync`), each program started
with ``canopsis-launch`` or ``canopsis-engine`` from this virtual
environment, and everything is stopped and removed at the end.
:class:`Program` reads the CPU time and memory of a program's whole process
tree from ``/proc``.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import kombu
import pymongo
from configobj import ConfigObj

from canopsis.ops import config
from canopsis.ops.etcsync import Sync
from canopsis.ops.supervisor import port_answers

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Return once ``port`` answers on 127.0.0.1; RuntimeError when ``proc`` exits or at
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while not port_answers("127.0.0.1", port):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before port {port} answered")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on port {port} after {timeout} s")
        time.sleep(0.05)


def wait_for_broker(
    url: str,
    timeout: float,
    proc: subprocess.Popen,
    told: Callable[[], str] | None = None,
    pause: float = 0.5,
) -> None:
    """Return once the broker at ``url`` takes a connection; RuntimeError when ``proc``
    (its rabbitmq-server) exits first, saying ``told()`` (default: the exit status), and the
    connection's error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            said = told() if told else f" with {proc.returncode}"
            raise RuntimeError(f"rabbitmq-server exited{said}")
        try:
            with kombu.Connection(url, connect_timeout=2) as conn:
                conn.connect()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)


def stop_process(proc: subprocess.Popen, timeout: float) -> int | None:
    """SIGTERM ``proc`` when it runs and its exit status; None when it still ran ``timeout``
    seconds later and was killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree(root: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and every process descending from it."""
    tree = tree if tree is not None else _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += tree.get(pid, [])
    return found


def _cpu_rss(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of one process; zeros when gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE


class Program:
    """A started program and its process tree (RabbitMQ's node runs as a child)."""

    def __init__(self, name: str, proc: subprocess.Popen, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self.started = time.monotonic()
        self.ready_seconds: float | None = None
        self.peak_rss = 0
        self.gone_cpu = 0.0
        self._seen: dict[int, float] = {}

    def pids(self, tree: dict[int, list[int]] | None = None) -> list[int]:
        return process_tree(self.proc.pid, tree)

    def sample(self, tree: dict[int, list[int]] | None = None) -> tuple[float, int]:
        """``(CPU seconds since start, resident bytes now)`` of the tree; keeps the peak."""
        cpu, rss, seen = 0.0, 0, {}
        for pid in self.pids(tree):
            pid_cpu, pid_rss = _cpu_rss(pid)
            cpu += pid_cpu
            rss += pid_rss
            seen[pid] = pid_cpu
        self.gone_cpu += sum(v for pid, v in self._seen.items() if pid not in seen)
        self._seen = seen
        self.peak_rss = max(self.peak_rss, rss)
        return cpu + self.gone_cpu, rss

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> None:
        stop_process(self.proc, timeout)


class Stack:
    """RabbitMQ and MongoDB started in a new prefix; engines and webserver on demand."""

    def __init__(self) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="canopsis-bench-", dir="/var/tmp"))
        self.programs: dict[str, Program] = {}
        self.env = dict(os.environ, CANOPSIS_PREFIX=str(self.prefix))
        self.web_port = free_port()
        #: the engine layout whose queues the broker holds
        self.layout: str | None = None

    # configuration

    @property
    def etc(self) -> Path:
        return self.prefix / "etc"

    def _configure(self) -> None:
        self.prefix.chmod(0o755)
        (self.prefix / "var" / "lib" / "canopsis").mkdir(parents=True)
        (self.prefix / "var" / "log").mkdir(parents=True)
        (self.prefix / "var" / "run").mkdir(parents=True)
        (self.prefix / "share").mkdir()
        (self.prefix / "share" / "console").symlink_to(REPO / "console" / "dist")
        Sync(REPO / "etc", self.prefix).run()
        amqp_conf = ConfigObj(str(self.etc / "amqp.conf"), interpolation=False)
        amqp_conf.update(
            {
                "port": free_port(),
                "dist_port": free_port(),
                "nodename": f"{self.prefix.name}@localhost",
            }
        )
        amqp_conf.write()
        mongo_conf = ConfigObj(str(self.etc / "mongo.conf"), interpolation=False)
        mongo_conf.update({"port": free_port(), "database": "canopsis_bench"})
        mongo_conf.write()
        web = ConfigObj(str(self.etc / "webserver.conf"), interpolation=False)
        web["server"]["port"] = self.web_port
        web.write()
        self.amqp_cfg = config.load("amqp", self.etc / "amqp.conf")
        self.amqp_url = config.amqp_url(self.amqp_cfg)
        self.mongo_cfg = config.load("mongo", self.etc / "mongo.conf")
        self.mongo_uri = config.mongo_uri(self.mongo_cfg)
        self.database = self.mongo_cfg["database"]

    def engine_conf(self, name: str, **values) -> None:
        """Set keys of ``etc/engines/<name>.conf`` in the prefix."""
        self._set(self.etc / "engines" / f"{name}.conf", values)

    def mongo_conf(self, **values) -> None:
        """Set keys of ``etc/mongo.conf`` in the prefix (each engine reads it at its start)."""
        self._set(self.etc / "mongo.conf", values)

    @staticmethod
    def _set(path: Path, values: dict) -> None:
        conf = ConfigObj(str(path), interpolation=False)
        conf.update({k: str(v) for k, v in values.items()})
        conf.write()

    # programs

    def command(self, name: str) -> str:
        return str(Path(sys.executable).parent / name)

    def _start(self, name: str, args: list[str]) -> Program:
        log = self.prefix / "var" / "log" / f"{name}.log"
        out = log.open("ab")
        proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        program = Program(name, proc, log)
        self.programs[name] = program
        return program

    def start(self) -> None:
        """RabbitMQ and MongoDB, each timed from launch to answering."""
        self._configure()
        launch = self.command("canopsis-launch")
        rabbit = self._start("rabbitmq-server", [launch, "rabbitmq-server"])
        mongo = self._start("mongodb", [launch, "mongodb"])
        wait_for_port(int(self.mongo_cfg["port"]), 60, mongo.proc)
        mongo.ready_seconds = time.monotonic() - mongo.started
        self._wait_for_broker(rabbit)
        rabbit.ready_seconds = time.monotonic() - rabbit.started

    def restart_mongodb(self) -> None:
        """The database server again, on its data, with what ``etc/mongo.conf`` says now
        (``durable_batches`` sets how secantusd-rs commits); its first launch stays the one
        timed."""
        first = self.programs["mongodb"].ready_seconds
        self.stop("mongodb")
        mongo = self._start("mongodb", [self.command("canopsis-launch"), "mongodb"])
        wait_for_port(int(self.mongo_cfg["port"]), 60, mongo.proc)
        mongo.ready_seconds = first

    def restart_broker(self) -> None:
        """RabbitMQ again with no queue but those it declares at boot."""
        self.stop("rabbitmq-server")
        shutil.rmtree(self.prefix / "var" / "lib" / "rabbitmq" / "mnesia", ignore_errors=True)
        launch = self.command("canopsis-launch")
        program = self._start("rabbitmq-server", [launch, "rabbitmq-server"])
        self._wait_for_broker(program)
        program.ready_seconds = time.monotonic() - program.started

    def _wait_for_broker(self, program: Program, timeout: float = 90) -> None:
        def told() -> str:
            return f":\n{program.text()[-2000:]}"

        wait_for_broker(self.amqp_url, timeout, program.proc, told, pause=0.2)

    def start_engine(self, name: str, engines: list[str], worker: int | None = None) -> Program:
        """``canopsis-engine ENGINES [--worker N]``, returned once it consumes its queue."""
        args = [self.command("canopsis-engine"), *engines]
        if worker is not None:
            args += ["--worker", str(worker)]
        program = self._start(name, args)
        deadline = time.monotonic() + 60
        while "consuming Engine_" not in program.text():
            if program.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{program.text()[-3000:]}")
            time.sleep(0.05)
        program.ready_seconds = time.monotonic() - program.started
        return program

    def start_webserver(self, workers: int = 2) -> Program:
        """gunicorn as the default supervisord program runs it, timed until it answers."""
        args = [self.command("canopsis-launch"), "webserver", "--workers", str(workers)]
        program = self._start("webserver", args)
        wait_for_port(self.web_port, 60, program.proc)
        program.ready_seconds = time.monotonic() - program.started
        return program

    def stop(self, name: str) -> None:
        self.programs.pop(name).stop()

    def engines(self) -> list[str]:
        return [name for name in self.programs if name.startswith("engine-")]

    def close(self) -> None:
        for name in reversed(list(self.programs)):
            self.stop(name)
        shutil.rmtree(self.prefix, ignore_errors=True)

    # clients

    def mongo(self) -> pymongo.MongoClient:
        return pymongo.MongoClient(self.mongo_uri, tz_aware=True)

    def db(self, client: pymongo.MongoClient):
        return client[self.database]

    def broker(self) -> kombu.Connection:
        return kombu.Connection(self.amqp_url)
