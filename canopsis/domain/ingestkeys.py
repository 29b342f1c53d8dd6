"""The API key file of the emergency ingest service, readable without MongoDB.

The ingest service (:mod:`canopsis.webserver.ingest`) must accept events while
MongoDB is down, so it cannot look keys up in ``api_keys``. The webserver
keeps a copy of every usable key in ``$PREFIX/var/lib/ingest/keys.json``: it
writes the file at start, after each key is created or revoked, and after each
user is changed or deleted (a key's role depends on its creator's).

The file lives under ``var/lib``, not ``etc``: the webserver runs as the
unprivileged ``canopsis`` user, which cannot write ``$PREFIX/etc``.

The file is ``{key id: {"hash", "role", "expires", "author"}}``: ``hash`` the
SHA-256 of the key's secret (never the secret itself), ``role`` the one the key
acts with (:func:`canopsis.domain.auth.key_role`), ``expires`` epoch seconds or null,
``author`` what its actions are authored by (:func:`canopsis.domain.auth.key_author`).
Revoked keys and keys whose creator is disabled or deleted are left out;
expiry is checked when a key is used, so a key that expires between two
writes stops working on time. The file is written
atomically (a temporary file renamed over it) with mode 0640, so a reader
never sees half a file.
"""

import hashlib
import hmac
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from canopsis.domain import auth
from canopsis.ops import paths

log = logging.getLogger("canopsis.ingestkeys")

MODE = 0o640

_cache: dict[Path, tuple[tuple[int, int], dict[str, dict]]] = {}


def path() -> Path:
    """``$PREFIX/var/lib/ingest/keys.json``."""
    return paths.var("lib", "ingest", "keys.json")


def prefix_known() -> bool:
    """True when the prefix is set or found, not the last-resort default.

    A process that does not know its install (a test, a script run from a
    development checkout) never overwrites the key file of ``/opt/canopsis``.
    """
    if os.environ.get("CANOPSIS_PREFIX"):
        return True
    venv = Path(sys.prefix)
    return venv.name == "venv" and (venv.parent / "etc").is_dir()


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def usable_keys(db) -> dict[str, dict]:
    """Every key of ``db`` that is not revoked and whose creator may use it, as the file
    holds them."""
    found = list(db[auth.API_KEYS].find({"revoked": None}))
    creators = auth.key_creators(db, found)
    usable = {}
    for doc in found:
        role, _why = auth.key_role(doc, creators.get(doc["author"]))
        if role is not None:
            usable[doc["_id"]] = {
                "hash": doc["hash"],
                "role": role,
                "expires": _epoch(doc["expires"]),
                "author": auth.key_author(doc),
            }
    return usable


def write(db, target: Path | None = None) -> Path:
    """Write every usable key of ``db`` to ``target`` (default :func:`path`) atomically."""
    target = target or path()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(usable_keys(db), indent=1, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def sync(db) -> bool:
    """:func:`write` for the webserver: a failure is logged, never raised. True when written."""
    if not prefix_known():
        return False
    try:
        write(db)
    except Exception as exc:
        log.error("ingest key file %s not written: %s", path(), exc)
        return False
    return True


def read(source: Path | None = None) -> dict[str, dict]:
    """The keys of the file, read again only when its mtime or size changed; {} when missing."""
    source = source or path()
    try:
        stat = source.stat()
    except FileNotFoundError:
        _cache.pop(source, None)
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(source)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        keys = json.loads(source.read_text())
        if not isinstance(keys, dict):
            raise ValueError("expected a JSON object")
    except ValueError as exc:
        log.error("ingest key file %s unreadable: %s", source, exc)
        keys = {}
    _cache[source] = (stamp, keys)
    return keys


def check(keys: dict[str, dict], key: str, now: float | None = None) -> dict | None:
    """The entry of ``key`` (``<key id>.<secret>``) when it is in ``keys`` and not expired."""
    key_id, _dot, secret = key.partition(".")
    entry = keys.get(key_id) if key_id and secret else None
    if not isinstance(entry, dict):
        return None
    digest = hashlib.sha256(secret.encode()).hexdigest()
    if not hmac.compare_digest(str(entry.get("hash", "")), digest):
        return None
    expires = entry.get("expires")
    if expires is not None and expires <= (time.time() if now is None else now):
        return None
    return entry
