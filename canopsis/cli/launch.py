"""``canopsis-launch <program> [args]``: the command of every supervisord program.

It reads the program's settings from ``$PREFIX/etc``, prepares what the
program needs, and replaces itself with the program (``exec``), so supervisord
signals the real process and no wrapper stays in between. A bad setting stops
it with one line naming the file and the key.
"""

import base64
import grp
import hashlib
import importlib
import json
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from canopsis.ops import config, dbserver, etcsync, paths, programs, supervisor

log = logging.getLogger("canopsis.launch")

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
COLLECTD = "/usr/sbin/collectd"


def mongodb(args: list[str]) -> None:
    cfg = config.load("mongo")
    storage = paths.var("lib", "mongodb")
    done = dbserver.ensure_user(cfg, storage)
    if done:
        log.info("mongodb: user %s %s (password of %s)", cfg["user"], done, paths.etc("mongo.conf"))
    server = dbserver.embedded_server(cfg["server"])
    command = [
        str(paths.venv_bin(dbserver.SERVERS[server])),
        "--host",
        cfg["host"],
        "--port",
        str(cfg["port"]),
        "--storage-path",
        str(storage),
        "--cache-size",
        cfg["cache_size"],
        # no replica-set advertisement: canopsis uses neither change streams nor
        # transactions
        "--standalone",
        # SCRAM-SHA-256 for every command but the handshake
        "--auth",
    ]
    env = dict(os.environ)
    if server == "rust":
        # its settings are these flags only: no secantusd.toml found elsewhere
        settings = paths.var("run", "secantusd.toml")
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(f"# secantusd-rs takes its settings from {paths.etc('mongo.conf')}\n")
        command += ["--config", str(settings)]
        # no oplog (--standalone does it on secantusd-py): each write costs less without it
        env["SECANTUS_DISABLE_OPLOG"] = "1"
    # secantusd-rs takes a journaled write (j: true) as any other, without waiting for its
    # journal on disk, so durable batches need each commit on disk there
    if cfg["sync_on_commit"] or (server == "rust" and cfg["durable_batches"]):
        command.append("--sync-on-commit")
    synced = " (every commit on disk)" if "--sync-on-commit" in command else ""
    log.info("mongodb: %s%s", dbserver.SERVERS[server], synced)
    os.execve(command[0], command + args, env)


def rabbitmq_password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256`` of ``password``."""
    salt = secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def rabbitmq_definitions(cfg: config.ConfigObj) -> dict:
    """The vhost, user, permissions and exchanges loaded by the broker at every boot.

    With the events exchange come the entry engine's (the cleaner's) exchange,
    queues and bindings, for the ``numprocs`` of ``etc/engines/cleaner.conf``.
    """
    from canopsis.runtime import topology

    try:
        numprocs = topology.entry_numprocs()
    except config.ConfigError:
        numprocs = 1
    entry = topology.entry_definitions(cfg, numprocs)
    vhost = cfg["vhost"]
    definitions = {
        "vhosts": [{"name": vhost}],
        "users": [
            {
                "name": cfg["user"],
                "password_hash": rabbitmq_password_hash(cfg["password"]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"],
            }
        ],
        "permissions": [
            {
                "user": cfg["user"],
                "vhost": vhost,
                "configure": ".*",
                "write": ".*",
                "read": ".*",
            }
        ],
        "exchanges": [
            {
                "name": cfg["exchange"],
                "vhost": vhost,
                "type": "topic",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
        ],
    }
    definitions["exchanges"] += entry["exchanges"]
    definitions["queues"] = entry["queues"]
    definitions["bindings"] = entry["bindings"]
    return definitions


EPMD = "/usr/bin/epmd"
#: the addresses an epmd may listen on besides ``dist_address``
EPMD_LOOPBACK = ("127.0.0.1", "::1")


def epmd_elsewhere(address: str, port: int) -> list[str]:
    """The addresses other than ``address`` (and loopback) the host's epmd on ``port``
    listens on (``ss``), when it serves no node: an epmd left by an earlier broker, or by
    a canopsis older than ``dist_address``, that the broker would otherwise keep using."""
    if address in ("0.0.0.0", "::"):
        return []  # every interface: any epmd will do
    found = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=False
    )
    listens = {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in found.stdout.splitlines()}
    others = sorted(listens - {address, *EPMD_LOOPBACK})
    if not others:
        return []
    names = subprocess.run([EPMD, "-port", str(port), "-names"], capture_output=True, text=True)
    if any(line.startswith("name ") for line in names.stdout.splitlines()):
        return []  # a node uses it: a cluster's, or another program's
    return others


def rabbitmq_server(args: list[str]) -> None:
    cfg = config.load("amqp")
    epmd_port = int(os.environ.get("ERL_EPMD_PORT", "4369"))
    others = epmd_elsewhere(cfg["dist_address"], epmd_port)
    if others:
        subprocess.run([EPMD, "-port", str(epmd_port), "-kill"], capture_output=True)
        log.info(
            "rabbitmq: stopped the idle epmd listening on %s so that the broker starts one "
            "on dist_address %s",
            ", ".join(others),
            cfg["dist_address"],
        )
    user = pwd.getpwnam("rabbitmq")
    home = paths.var("lib", "rabbitmq")
    logs = paths.var("log", "rabbitmq")
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, user.pw_uid, user.pw_gid)
    # the broker's logs are the canopsis group's, as every log (see build/layout.sh)
    logs.mkdir(parents=True, exist_ok=True)
    os.chown(logs, user.pw_uid, grp.getgrnam(etcsync.OWNER_GROUP).gr_gid)
    logs.chmod(0o2750)
    definitions = home / "definitions.json"
    generated = home / "rabbitmq.conf"
    tuning = paths.etc("rabbitmq", "rabbitmq.conf")
    plugins = home / "enabled_plugins"
    shutil.copyfile(paths.etc("rabbitmq", "enabled_plugins"), plugins)
    shutil.chown(plugins, user.pw_uid, user.pw_gid)
    _write_private(definitions, json.dumps(rabbitmq_definitions(cfg), indent=2), user)
    _write_private(
        generated,
        (tuning.read_text() if tuning.exists() else "")
        + f"\n# written by canopsis-launch from {paths.etc('amqp.conf')}\n"
        + f"listeners.tcp.default = {cfg['host']}:{cfg['port']}\n"
        + f"distribution.listener.interface = {cfg['dist_address']}\n"
        + f"load_definitions = {definitions}\n",
        user,
    )
    env = dict(
        os.environ,
        HOME=str(home),
        RABBITMQ_NODENAME=cfg["nodename"],
        RABBITMQ_NODE_PORT=str(cfg["port"]),
        RABBITMQ_DIST_PORT=str(cfg["dist_port"]),
        # the address of the epmd the node starts when none runs yet
        ERL_EPMD_ADDRESS=cfg["dist_address"],
        RABBITMQ_MNESIA_BASE=str(home / "mnesia"),
        RABBITMQ_LOG_BASE=str(logs),
        RABBITMQ_CONFIG_FILE=str(generated),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(plugins),
    )
    os.chdir(home)
    if os.getuid() == 0:
        os.initgroups(user.pw_name, user.pw_gid)
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    os.execve(RABBITMQ_SERVER, [RABBITMQ_SERVER, *args], env)


def collectd(args: list[str]) -> None:
    cfg = config.load("amqp")
    url = urlsplit(config.amqp_url(cfg))
    block = "\n".join(
        [
            "<Plugin amqp>",
            '  <Publish "canopsis">',
            f'    Host "{url.hostname}"',
            f'    Port "{url.port or 5672}"',
            f'    VHost "{unquote(url.path[1:]) or "/"}"',
            f'    User "{unquote(url.username or "")}"',
            f'    Password "{unquote(url.password or "")}"',
            f'    Exchange "{cfg["exchange"]}"',
            '    RoutingKey "collectd"',
            "    Persistent true",
            '    Format "JSON"',
            "    StoreRates true",
            "  </Publish>",
            "</Plugin>",
            "",
        ]
    )
    folder = paths.var("run", "collectd")
    folder.mkdir(parents=True, exist_ok=True)
    _write_private(folder / "amqp.conf", block)
    paths.var("lib", "collectd").mkdir(parents=True, exist_ok=True)
    command = [COLLECTD, "-f", "-C", str(paths.etc("collectd.conf"))]
    os.execv(command[0], command + args)


def webserver(args: list[str]) -> None:
    # the program started is named by its module path, as gunicorn's app below: the core
    # imports no layer above it
    app = importlib.import_module("canopsis.webserver.app")
    app.check_webservices(config.load("webserver"))
    _gunicorn("webserver", "canopsis.webserver.app:create_app()", args)


def ingest(args: list[str]) -> None:
    _gunicorn("ingest", "canopsis.webserver.ingest:create_app()", args)


MAX_REQUEST_LINE = 8190


def _gunicorn(program: str, app: str, args: list[str]) -> None:
    """Exec gunicorn serving ``app`` on the address of ``etc/<program>.conf``."""
    cfg = config.load(program)["server"]
    command = [
        str(paths.venv_bin("gunicorn")),
        "--bind",
        f"{cfg['host']}:{cfg['port']}",
        "--name",
        f"canopsis-{program}",
        "--control-socket",
        str(paths.var("run", f"{program}.ctl")),
        # gunicorn's largest request line (its default is 4094): a URL holding a long id
        # reaches the application, which answers in its error shape; a longer line still
        # gets gunicorn's own HTML 414
        "--limit-request-line",
        str(MAX_REQUEST_LINE),
        *args,
        app,
    ]
    os.execv(command[0], command)


def _write_private(path: Path, text: str, owner: pwd.struct_passwd | None = None) -> None:
    """Write ``path`` readable by its owner only (it may hold credentials)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if owner is not None:
        shutil.chown(tmp, owner.pw_uid, owner.pw_gid)
    tmp.replace(path)


LAUNCHERS: dict[str, Callable[[list[str]], None]] = {
    "mongodb": mongodb,
    "rabbitmq-server": rabbitmq_server,
    "collectd": collectd,
    "webserver": webserver,
    "ingest": ingest,
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in LAUNCHERS:
        known = ", ".join(sorted(LAUNCHERS))
        log.error("usage: canopsis-launch PROGRAM [ARGS...]; PROGRAM is one of: %s", known)
        return 2
    name, args = argv[0], argv[1:]
    # the files the program writes (logs included) are private to the canopsis group, even
    # under a supervisord started before canopsis said so
    os.umask(supervisor.UMASK)
    try:
        unmanaged = programs.unmanaged(name)
        if unmanaged:
            raise config.ConfigError(f"not run by canopsis: {unmanaged.reason}")
        LAUNCHERS[name](args)
    except config.ConfigError as exc:
        log.error("%s: %s", name, exc)
        return 2
    except OSError as exc:
        log.error("%s: cannot start: %s", name, exc)
        return 1
    return 0
