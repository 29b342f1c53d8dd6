"""Users, roles, sessions and API keys, stored in MongoDB.

Roles, each allowing what the one before allows: ``viewer`` (reads),
``operator`` (acts on alarms), ``admin`` (configuration, users, keys,
engines).

- ``users``: ``{_id: name, role, password, created, disabled}``; the password is an
  Argon2id hash (argon2-cffi's defaults, salted), never stored or logged in
  clear. A ``disabled`` user (absent means enabled) cannot log in, and its
  sessions and keys stop working.
- ``sessions``: ``{_id: sha256(token), user, expires}``; the token is the
  session cookie's value, so a stolen database holds no usable token; a TTL
  index removes expired sessions.
- ``api_keys``: ``{_id: key id, role, description, author, created, expires,
  revoked, hash}``. A key is ``<key id>.<secret>``, the secret 256 random
  bits; ``hash`` is its SHA-256. A fast hash is enough for a secret of that
  entropy (no dictionary to try), and keeps every API call cheap, where a
  slow hash per request would cost tens of milliseconds. ``author`` is the
  user who made the key: on every request the key acts with the lesser of its
  own role and that user's current role, and not at all once that user is
  disabled or deleted (:func:`key_role`). What a key does is authored by the
  key itself, ``key:<key id>/<description>`` (:func:`key_author`), so two
  integrations are told apart in the alarm steps.
- ``login_failures``: ``{_id, name, address, count, expires}``, one counter
  per account and address (``pair:<address> <name>``), per account
  (``account:<name>``) and per address (``address:<address>``), each lasting
  the window from its first failure; past its limit (:class:`LoginLimits`), a
  login of that account from that address, of that account, or from that
  address is refused until the counter expires. A successful login clears the
  counters of its account only (every ``name`` document), never the
  address's: one account's login cannot reset the count of another, and an
  address shared by many users (a reverse proxy) has a limit of its own.
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
    """Who makes a request: a user (by session or key), the role it acts with, and the author
    of what it writes (the user's name, or the key's :func:`key_author`)."""

    name: str
    role: str
    via: str  # "session" or "key:<key id>"
    author: str

    def allows(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


class KeyRefused(Exception):
    """A key with the right secret that no longer works, and why (its creator is gone)."""


def ensure_indexes(db: Database) -> None:
    db[SESSIONS].create_index("expires", expireAfterSeconds=0)
    db[SESSIONS].create_index("user")
    db[FAILURES].create_index("expires", expireAfterSeconds=0)
    db[FAILURES].create_index("name")


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
    user = db[USERS].find_one({"_id": session["user"]}, {"role": 1, "disabled": 1})
    if user is None or user.get("disabled"):
        return None
    return Principal(user["_id"], user["role"], "session", user["_id"])


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
    if key_expired(doc):
        return None
    role, why = key_role(doc, key_creators(db, [doc]).get(doc["author"]))
    if role is None:
        raise KeyRefused(f"API key {key_id} no longer works: {why}")
    return Principal(doc["author"], role, f"key:{key_id}", key_author(doc))


def key_expired(key: dict) -> bool:
    return key["expires"] is not None and _aware(key["expires"]) <= now()


def key_role(key: dict, creator: dict | None) -> tuple[str | None, str]:
    """The role ``key`` acts with, the lesser of its own and its ``creator``'s (the user document
    of its ``author``, None when deleted), and why: ``(None, reason)`` when the creator is
    deleted or disabled. A user of the same name created after the key is another account:
    the key's creator was deleted."""
    born = creator and creator.get("created")
    if creator is None or (born and _aware(born) > _aware(key["created"])):
        return None, f"its creator {key['author']} was deleted"
    if creator.get("disabled"):
        return None, f"its creator {key['author']} is disabled"
    if RANK[creator["role"]] < RANK[key["role"]]:
        return creator["role"], f"its creator {key['author']} has the {creator['role']} role"
    return key["role"], "its own role"


def key_author(key: dict) -> str:
    """Who the actions made with ``key`` are authored by: ``key:<key id>/<description>``, or
    ``key:<key id>`` without a description (the one form, for the REST API and the ingest
    service)."""
    description = (key.get("description") or "").strip()
    return f"key:{key['_id']}/{description}" if description else f"key:{key['_id']}"


def key_creators(db: Database, keys: list[dict]) -> dict[str, dict]:
    """The user documents of the creators of ``keys`` that still exist, by name."""
    names = list({key["author"] for key in keys})
    found = db[USERS].find({"_id": {"$in": names}}, {"role": 1, "disabled": 1, "created": 1})
    return {user["_id"]: user for user in found}


def revoke_key(db: Database, key_id: str) -> dict | None:
    return db[API_KEYS].find_one_and_update(
        {"_id": key_id, "revoked": None},
        {"$set": {"revoked": now()}},
        return_document=ReturnDocument.AFTER,
    )


def _aware(date: datetime) -> datetime:
    return date if date.tzinfo else date.replace(tzinfo=UTC)


# Failed logins.


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed within ``window`` seconds, per account and address, per account
    and per address."""

    per_pair: int
    per_account: int
    per_address: int
    window: int


def _counters(name: str, address: str, limits: LoginLimits) -> list[tuple[dict, int, str]]:
    """The failure counters of a login: the document identifying each, its limit, and what
    it blocks (said in the refusal)."""
    return [
        (
            {"_id": f"pair:{address} {name}", "name": name, "address": address},
            limits.per_pair,
            f"for {name} from {address}",
        ),
        ({"_id": f"account:{name}", "name": name}, limits.per_account, f"for {name}"),
        ({"_id": f"address:{address}", "address": address}, limits.per_address, f"from {address}"),
    ]


def login_blocked(
    db: Database, name: str, address: str, limits: LoginLimits
) -> tuple[str, int] | None:
    """What refuses a login of ``name`` from ``address`` (``"for <name> from <address>"``,
    ``"for <name>"`` or ``"from <address>"``) and the seconds until it ends; None when none does.
    """
    counters = _counters(name, address, limits)
    ids = [ident["_id"] for ident, _limit, _what in counters]
    found = {
        doc["_id"]: doc
        for doc in db[FAILURES].find({"_id": {"$in": ids}, "expires": {"$gt": now()}})
    }
    for ident, limit, what in counters:
        doc = found.get(ident["_id"])
        if doc is not None and doc["count"] >= limit:
            return what, max(1, int((_aware(doc["expires"]) - now()).total_seconds()) + 1)
    return None


def record_failure(db: Database, name: str, address: str, limits: LoginLimits) -> None:
    """Count a failed login of ``name`` from ``address`` on each of its counters; a counter
    lasts ``limits.window`` seconds from its first failure."""
    counters = _counters(name, address, limits)
    ids = [ident["_id"] for ident, _limit, _what in counters]
    db[FAILURES].delete_many({"_id": {"$in": ids}, "expires": {"$lte": now()}})
    expires = now() + timedelta(seconds=limits.window)
    for ident, _limit, _what in counters:
        db[FAILURES].update_one(
            {"_id": ident["_id"]},
            {"$inc": {"count": 1}, "$setOnInsert": {**ident, "expires": expires}},
            upsert=True,
        )


def clear_failures(db: Database, name: str) -> None:
    """Forget the failed logins of ``name`` (from every address), not those of its address."""
    db[FAILURES].delete_many({"name": name})
