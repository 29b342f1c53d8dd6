"""What canopsis knows about its supervisord programs beyond supervisord itself.

For each program: whether canopsis manages it (``managed = false`` in
``amqp.conf`` or ``mongo.conf`` hands the service to an external server),
the TCP address it listens on once ready, if any, and the files it reads when
it starts (a process older than one of them runs an outdated version).
"""

from dataclasses import dataclass
from pathlib import Path

from canopsis.ops import config, paths


@dataclass(frozen=True)
class Unmanaged:
    program: str
    reason: str


def unmanaged(program: str) -> Unmanaged | None:
    """Why canopsis does not run ``program``, or None when it does."""
    governed = {"mongodb": "mongo", "rabbitmq-server": "amqp"}
    name = governed.get(program)
    if name and not config.load(name)["managed"]:
        where = paths.etc(f"{name}.conf")
        return Unmanaged(program, f"managed = false in {where}")
    return None


def listen_address(program: str) -> tuple[str, int] | None:
    """The (host, port) that answers when ``program`` is ready."""
    if program == "mongodb":
        cfg = config.load("mongo")
        return cfg["host"], cfg["port"]
    if program == "rabbitmq-server":
        cfg = config.load("amqp")
        return cfg["host"], cfg["port"]
    if program in ("webserver", "ingest"):
        cfg = config.load(program)["server"]
        return cfg["host"], cfg["port"]
    return None


#: The configuration files (or folders) of ``etc`` each program reads when it starts; the
#: engine programs (group ``engines``) read ``ENGINE_FILES``.
PROGRAM_FILES = {
    "mongodb": ("mongo.conf",),
    "rabbitmq-server": ("amqp.conf", "rabbitmq"),
    "collectd": ("collectd.conf", "amqp.conf"),
    "webserver": ("webserver.conf", "amqp.conf", "mongo.conf"),
    "ingest": ("ingest.conf", "amqp.conf"),
}
ENGINE_FILES = ("engines", "engines.conf", "amqp.conf", "mongo.conf")
#: the programs run by a binary the install puts in the virtual environment
PROGRAM_BINARIES = {"mongodb": ("secantusd-rs",)}
#: the programs of the connectors are named ``connector-<name>`` and read
#: ``connectors/<name>.conf`` and ``amqp.conf``
CONNECTOR_PREFIX = "connector-"


def inputs(program: str, group: str) -> list[Path]:
    """What ``program`` reads when it starts: the canopsis code and its Python environment
    (every program is started by canopsis code, in that environment) and its configuration
    files. Its supervisord definition is supervisord's to compare."""
    prefix = paths.prefix()
    # written by build-install.sh when the code or the environment changed
    found = [
        paths.var("lib", "canopsis", "code-digest"),
        prefix / "venv" / ".canopsis-requirements",
    ]
    found += [prefix / "venv" / "bin" / name for name in PROGRAM_BINARIES.get(program, ())]
    for name in _files(program, group):
        path = paths.etc(name)
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [path for path in found if path.exists() and not path.name.endswith(".dist")]


def _files(program: str, group: str) -> tuple[str, ...]:
    if program in PROGRAM_FILES:
        return PROGRAM_FILES[program]
    if group == "engines":
        return ENGINE_FILES
    if program.startswith(CONNECTOR_PREFIX):
        return (f"connectors/{program.removeprefix(CONNECTOR_PREFIX)}.conf", "amqp.conf")
    return ()


def outdated(program: str, group: str, started: float) -> bool:
    """Whether a file ``program`` reads changed after ``started`` (epoch seconds)."""
    return any(path.stat().st_mtime > started for path in inputs(program, group))
