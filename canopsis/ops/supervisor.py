"""supervisord, driven through its XML-RPC interface on the prefix's unix socket.

The one client of canopsis: the CLI (``service``, ``hypcontrol``) and the REST API
(``/api/v2/engines``, the healthcheck) use it. Each function takes the ``socket`` to reach
(default: the prefix's, read at each call); :class:`Unreachable` when supervisord does not
answer there.
"""

import os
import socket
import subprocess
import time
import xmlrpc.client
from dataclasses import dataclass
from fnmatch import fnmatchcase

from supervisor.xmlrpc import SupervisorTransport

from canopsis.ops import paths


class SupervisorError(Exception):
    """supervisord cannot be reached or refused a request; the message is one line."""


class Unreachable(SupervisorError):
    """supervisord does not answer on its socket."""


@dataclass(frozen=True)
class Process:
    """One supervisord process, as ``getAllProcessInfo`` describes it."""

    name: str
    group: str
    state: str
    pid: int
    start: int
    now: int
    description: str
    logfile: str

    @property
    def fullname(self) -> str:
        return self.name if self.group == self.name else f"{self.group}:{self.name}"

    @property
    def started_at(self) -> float:
        """When the process started (epoch seconds), to the clock tick when /proc tells:
        supervisord's ``start`` is whole seconds, so a file changed in the second the
        process started would look newer than the process."""
        try:
            with open(f"/proc/{self.pid}/stat") as stat, open("/proc/uptime") as uptime:
                ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
                since_boot = float(uptime.read().split()[0])
        except (OSError, IndexError, ValueError):
            return float(self.start)
        return time.time() - since_boot + ticks / os.sysconf("SC_CLK_TCK")

    @property
    def uptime(self) -> int:
        return self.now - self.start if self.state == "RUNNING" else 0

    @classmethod
    def from_info(cls, info: dict) -> "Process":
        return cls(
            name=info["name"],
            group=info["group"],
            state=info["statename"],
            pid=info["pid"],
            start=info["start"],
            now=info["now"],
            description=info["description"],
            logfile=info["stdout_logfile"],
        )


#: the umask of supervisord and of every program (``canopsis-launch``), hence of the logs
#: they write: files 0640 and folders 0750 of the canopsis group (``var/log`` is setgid)
UMASK = 0o027


def socket_path() -> str:
    return str(paths.var("run", "supervisor.sock"))


def rpc(socket: str | None = None) -> xmlrpc.client.ServerProxy:
    transport = SupervisorTransport(None, None, f"unix://{socket or socket_path()}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def call(method: str, *args, socket: str | None = None):
    """supervisord's ``method`` with ``args``; its faults are raised as ``xmlrpc.client.Fault``."""
    try:
        return getattr(rpc(socket).supervisor, method)(*args)
    except (OSError, xmlrpc.client.ProtocolError) as exc:
        where = socket or socket_path()
        raise Unreachable(f"cannot reach supervisord on {where}: {exc}") from exc


def is_running() -> bool:
    try:
        return rpc().supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Fault):
        return False


def ensure_running(timeout: float = 15.0) -> bool:
    """Start supervisord unless it runs; True when it had to be started."""
    if is_running():
        return False
    conf = paths.etc("supervisord.conf")
    if not conf.exists():
        raise SupervisorError(f"{conf} does not exist: is canopsis installed in {paths.prefix()}?")
    if os.geteuid() != 0:
        raise SupervisorError("supervisord is not running, and only root can start it")
    env = dict(os.environ, CANOPSIS_PREFIX=str(paths.prefix()))
    done = subprocess.run(
        # supervisord opens its log before it daemonizes and applies --umask
        [str(paths.venv_bin("supervisord")), "-c", str(conf), "--umask", f"{UMASK:03o}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        umask=UMASK,
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise SupervisorError(
            f"supervisord did not start: {detail[-1] if detail else done.returncode}"
        )
    deadline = time.monotonic() + timeout
    while not is_running():
        if time.monotonic() > deadline:
            raise SupervisorError(
                f"supervisord did not answer on {socket_path()} in {timeout:.0f} s"
            )
        time.sleep(0.1)
    return True


def processes(socket: str | None = None) -> list[Process]:
    return [Process.from_info(info) for info in call("getAllProcessInfo", socket=socket)]


def reread() -> tuple[list[str], list[str], list[str]]:
    """supervisord rereads its configuration: the groups added, changed and removed since
    it last read it (not applied yet: see :func:`add_group` and :func:`remove_group`)."""
    try:
        [[added, changed, removed]] = rpc().supervisor.reloadConfig()
    except xmlrpc.client.Fault as fault:
        raise SupervisorError(
            f"supervisord cannot read its configuration: {fault.faultString}"
        ) from None
    except OSError as exc:
        raise SupervisorError(f"cannot reach supervisord on {socket_path()}: {exc}") from None
    return added, changed, removed


def add_group(name: str) -> None:
    """Make supervisord know the programs of group ``name`` as its configuration says (stopped)."""
    try:
        rpc().supervisor.addProcessGroup(name)
    except xmlrpc.client.Fault as fault:
        raise SupervisorError(f"supervisord cannot add {name}: {fault.faultString}") from None


def remove_group(name: str) -> None:
    """Make supervisord forget group ``name`` (its processes must be stopped)."""
    try:
        rpc().supervisor.removeProcessGroup(name)
    except xmlrpc.client.Fault as fault:
        raise SupervisorError(f"supervisord cannot remove {name}: {fault.faultString}") from None


def settings_outdated() -> bool:
    """Whether supervisord.conf changed after supervisord started: its own settings apply only
    when it starts again."""
    pidfile = paths.var("run", "supervisord.pid")
    try:
        return paths.etc("supervisord.conf").stat().st_mtime > pidfile.stat().st_mtime
    except FileNotFoundError:
        return False


def select(pattern: str, known: list[Process]) -> list[Process]:
    """The processes a name designates: a program, a group, or a shell pattern on either."""
    return [
        p
        for p in known
        if fnmatchcase(p.name, pattern)
        or fnmatchcase(p.group, pattern)
        or fnmatchcase(p.fullname, pattern)
    ]


def shutdown(timeout: float = 60.0) -> None:
    """Stop supervisord itself and wait until its socket is gone."""
    try:
        rpc().supervisor.shutdown()
    except (OSError, xmlrpc.client.Fault):
        return
    deadline = time.monotonic() + timeout
    while is_running() and time.monotonic() < deadline:
        time.sleep(0.1)
    pidfile = paths.var("run", "supervisord.pid")
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
