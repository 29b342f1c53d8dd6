"""Users, roles, sessions and API keys, stored in MongoDB.

Roles, each allowing what the one before allows: ``viewer`` (reads),
``operator`` (acts on alarms), ``admin`` (configuration, users, keys,
engines).

- ``users``: ``{_id: name, role, password, created}``; the password is an
  Argon2id hash (argon2-cffi's defaults, salted), never stored or logged in
  clear.
- ``sessions``: ``{_id: sha256(token), user, expires}``; the token is the
  session cookie's value, so a stolen database holds no usable token; a TTL
  index removes expired sessions.
- ``api_keys``: ``{_id: key id, role, description, author, created, expires,
  revoked, hash}``. A key is ``<key id>.<secret>``, the secret 256 random
  bits; ``hash`` is its SHA-256. A fast hash is enough for a secret of that
  entropy (no dictionary to try), and keeps every API call cheap, where a
  slow hash per request would cost tens of milliseconds.
- ``login_failures``: ``{_id: address, count, since}``; after too many
  failed logins from one address within the window, logins from it are
  refused until the window ends.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo import ReturnDocument
from pymongo.database import Database

ROLES = ("viewer", "operator", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
USERS, SESSIONS, API_KEYS, FAILURES = "users", "sessions", "api_keys", "login_failures"

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a user (by session or key) and the role it acts with."""

    name: str
    role: str
    via: str  # "session" or "key:<key id>"

    def allows(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def ensure_indexes(db: Database) -> None:
    db[SESSIONS].create_index("expires", expireAfterSeconds=0)
    db[SESSIONS].create_index("user")
    db[FAILURES].create_index("expires", expireAfterSeconds=0)


def now() -> datetime:
    return datetime.now(UTC)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Passwords and users.


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(db: Database, name: str, password: str, role: str) -> dict:
    """Insert a user (DuplicateKeyError when the name is taken)."""
    doc = {"_id": name, "role": role, "password": hash_password(password), "created": now()}
    db[USERS].insert_one(doc)
    return doc


def check_login(db: Database, name: str, password: str) -> dict | None:
    """The user named ``name`` when ``password`` is theirs, else None."""
    user = db[USERS].find_one({"_id": name})
    if user is None:
        _hasher.hash(password)  # the same work as a real check: no timing hint of the name
        return None
    return user if verify_password(user["password"], password) else None


def ensure_initial_admin(db: Database, path: Path) -> bool:
    """Create the first admin from the install's ``initial-admin.json`` when no admin exists.

    The file holds ``{"name", "password_hash"}``, written by ``build-install.sh``
    with the password itself in a root-only file. True when the admin was created.
    """
    if db[USERS].find_one({"role": "admin"}, {"_id": 1}) is not None or not path.exists():
        return False
    initial = json.loads(path.read_text())
    doc = {"role": "admin", "password": initial["password_hash"], "created": now()}
    result = db[USERS].update_one({"_id": initial["name"]}, {"$setOnInsert": doc}, upsert=True)
    return result.upserted_id is not None


# Sessions.


def open_session(db: Database, user: dict, hours: float) -> str:
    """A new session for ``user``; its token (the cookie value)."""
    token = secrets.token_urlsafe(32)
    expires = now() + timedelta(hours=hours)
    db[SESSIONS].insert_one({"_id": _sha256(token), "user": user["_id"], "expires": expires})
    return token


def session_principal(db: Database, token: str) -> Principal | None:
    session = db[SESSIONS].find_one({"_id": _sha256(token), "expires": {"$gt": now()}})
    if session is None:
        return None
    user = db[USERS].find_one({"_id": session["user"]}, {"role": 1})
    return Principal(user["_id"], user["role"], "session") if user else None


def close_session(db: Database, token: str) -> None:
    db[SESSIONS].delete_one({"_id": _sha256(token)})


# API keys.


def create_key(
    db: Database, role: str, description: str, author: str, expires: datetime | None
) -> tuple[dict, str]:
    """A new key: its document (without the hash) and the key itself, shown once."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    doc = {
        "_id": key_id,
        "role": role,
        "description": description,
        "author": author,
        "created": now(),
        "expires": expires,
        "revoked": None,
        "hash": _sha256(secret),
    }
    db[API_KEYS].insert_one(doc)
    return public_key(doc), f"{key_id}.{secret}"


def public_key(doc: dict) -> dict:
    """A key's document as shown: no hash."""
    return {k: v for k, v in doc.items() if k != "hash"}


def key_principal(db: Database, key: str) -> Principal | None:
    key_id, _dot, secret = key.partition(".")
    if not key_id or not secret:
        return None
    doc = db[API_KEYS].find_one({"_id": key_id})
    if doc is None or not hmac.compare_digest(doc["hash"], _sha256(secret)):
        return None
    if doc["revoked"] is not None:
        return None
    if doc["expires"] is not None and _aware(doc["expires"]) <= now():
        return None
    return Principal(doc["author"], doc["role"], f"key:{key_id}")


def revoke_key(db: Database, key_id: str) -> dict | None:
    return db[API_KEYS].find_one_and_update(
        {"_id": key_id, "revoked": None},
        {"$set": {"revoked": now()}},
        return_document=ReturnDocument.AFTER,
    )


def _aware(date: datetime) -> datetime:
    return date if date.tzinfo else date.replace(tzinfo=UTC)


# Failed logins.


def login_blocked(db: Database, address: str, limit: int) -> int:
    """Seconds until ``address`` may try again (0: it may now)."""
    doc = db[FAILURES].find_one({"_id": address})
    if doc is None or doc["count"] < limit:
        return 0
    return max(1, int((_aware(doc["expires"]) - now()).total_seconds()) + 1)


def record_failure(db: Database, address: str, window: int) -> None:
    """Count a failed login of ``address``; the count lasts ``window`` seconds from the first."""
    db[FAILURES].delete_one({"_id": address, "expires": {"$lte": now()}})
    db[FAILURES].update_one(
        {"_id": address},
        {"$inc": {"count": 1}, "$setOnInsert": {"expires": now() + timedelta(seconds=window)}},
        upsert=True,
    )


def clear_failures(db: Database, address: str) -> None:
    db[FAILURES].delete_one({"_id": address})
