"""What canopsis knows about its supervisord programs beyond supervisord itself.

For each program: whether canopsis manages it (``managed = false`` in
``amqp.conf`` or ``mongo.conf`` hands the service to an external server), and
the TCP address it listens on once ready, if any.
"""

from dataclasses import dataclass

from canopsis import config, paths


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
