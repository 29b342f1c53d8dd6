"""The managed database server: which embedded server runs, and canopsis' user on it.

``mongo.conf``'s ``server`` names the embedded server (:data:`SERVERS`); the Rust one
is built by the install (``build/secantusd-rs.sh``), which tells in
:data:`BUILD_STATUS` why it is not there while it is not. The user canopsis connects as
is written into the server's storage before the server starts (:func:`ensure_user`).
"""

import hmac
import logging
import os
from pathlib import Path

from canopsis.ops import config, paths

log = logging.getLogger("canopsis.launch")

#: the database of the managed server's users (the default ``authSource`` of a URI)
USERS_DATABASE = "admin"
#: the embedded servers by the name ``mongo.conf``'s ``server`` gives them
SERVERS = {"rust": "secantusd-rs", "python": "secantusd-py"}
#: what the install says of the build of secantusd-rs while it has none (one line)
BUILD_STATUS = ("run", "secantusd-rs.build")


def embedded_server(wanted: str) -> str:
    """The embedded server to run: ``wanted`` (``mongo.conf``'s ``server``), or the Python
    one, saying why, when the Rust one is not built (yet)."""
    if wanted == "python" or os.access(paths.venv_bin(SERVERS[wanted]), os.X_OK):
        return wanted
    try:
        told = paths.var(*BUILD_STATUS).read_text().strip()
    except OSError:  # no build was started
        told = ""
    log.warning(
        "mongodb: server = rust in %s, but %s is not there (%s): running secantusd-py, "
        "on the same data",
        paths.etc("mongo.conf"),
        paths.venv_bin(SERVERS[wanted]),
        told or "not built: run build-install.sh",
    )
    return "python"


def ensure_user(cfg: config.ConfigObj, storage: Path) -> str | None:
    """Make the managed server's users hold canopsis' user of ``mongo.conf``, with its
    password and roles (owner of ``database``, and the server's statistics); what changed
    (``created``, ``updated``) or None.

    It writes the server's storage directly, before the server starts, with SecantusDB's
    Python storage (secantusd-rs keeps its users in the same WiredTiger table): the server
    never runs without authentication, not even to be given its first user (neither has a
    localhost exception), and a new install, an update of a database that had no user, a
    reinstall on kept data and a password changed in ``mongo.conf`` all end the same.
    """
    from secantus.auth import SCRAM_SHA_256, derive_credentials
    from secantus.storage import Storage
    from wiredtiger import WiredTigerError

    name, password = cfg["user"], cfg["password"]
    roles = [
        {"role": "dbOwner", "db": cfg["database"]},
        {"role": "clusterMonitor", "db": USERS_DATABASE},
    ]
    storage.mkdir(parents=True, exist_ok=True)
    try:
        db = Storage(str(storage), enable_oplog=False, cache_size=cfg["cache_size"])
    except WiredTigerError as exc:  # another server holds it, a damaged storage
        raise OSError(f"{storage}: {exc}") from None
    try:
        record = db.get_user(USERS_DATABASE, name)
        if record is not None and record["roles"] == roles and _has_password(record, password):
            return None
        # the record createUser would write
        user = {
            "_id": f"{USERS_DATABASE}.{name}",
            "user": name,
            "db": USERS_DATABASE,
            "credentials": derive_credentials(password).to_doc(),
            "roles": roles,
            "mechanisms": [SCRAM_SHA_256],
        }
        db.add_user(USERS_DATABASE, name, user, replace=True)
        return "created" if record is None else "updated"
    finally:
        db.close()


def _has_password(record: dict, password: str) -> bool:
    """Whether the SCRAM-SHA-256 credentials of a user ``record`` are those of ``password``."""
    from secantus.auth import StoredCredentials, derive_credentials

    try:
        stored = StoredCredentials.from_doc(record["credentials"])
    except KeyError:
        return False
    given = derive_credentials(password, salt=stored.salt, iterations=stored.iteration_count)
    return hmac.compare_digest(given.stored_key, stored.stored_key)
