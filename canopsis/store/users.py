"""The accounts (``users``), their sessions and their API keys, as the REST API changes them.

Hashing, sessions and keys are :mod:`canopsis.domain.auth`'s. The rule kept here: an
enabled admin always remains. A change that can remove the last one is made first and
undone (:class:`LastAdmin`) when no enabled admin is left, so two simultaneous removals
never remove the last two: each is undone when its count finds no admin, and the
change whose count comes last sees every removal that is kept.
"""

from pymongo.database import Database

from canopsis.domain.auth import API_KEYS, SESSIONS, USERS


class LastAdmin(Exception):
    """The change would leave no enabled admin; it was not made."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is the last admin; make another admin first")
        self.name = name


def _no_admin_left(db: Database) -> bool:
    """True when no enabled admin remains; asked after a change that can remove the last one."""
    enabled = {"role": "admin", "disabled": {"$ne": True}}
    return db[USERS].count_documents(enabled, limit=1) == 0


def _is_admin(user: dict) -> bool:
    return user["role"] == "admin" and not user.get("disabled")


def all_users(db: Database) -> list[dict]:
    """Every user by name, without the password hash."""
    return list(db[USERS].find({}, {"password": 0}).sort("_id", 1))


def get(db: Database, name: str) -> dict | None:
    return db[USERS].find_one({"_id": name})


def update(db: Database, name: str, changes: dict) -> dict | None:
    """Set ``changes`` on the user ``name``; the user as it was, or None when unknown.

    :class:`LastAdmin` when it would leave no enabled admin (nothing is changed).
    """
    users = db[USERS]
    before = users.find_one_and_update({"_id": name}, {"$set": changes})
    if before is None:
        return None
    if _is_admin(before) and not _is_admin(before | changes) and _no_admin_left(db):
        restored = {key: before.get(key, False) for key in changes}
        users.update_one({"_id": name}, {"$set": restored})
        raise LastAdmin(name)
    return before


def delete(db: Database, name: str) -> dict | None:
    """Delete the user ``name`` and end their sessions; the user, or None when unknown.

    :class:`LastAdmin` when it was the last enabled admin (nothing is deleted).
    """
    users = db[USERS]
    user = users.find_one_and_delete({"_id": name})
    if user is None:
        return None
    if user["role"] == "admin" and _no_admin_left(db):
        users.insert_one(user)
        raise LastAdmin(name)
    end_sessions(db, name)
    return user


def end_sessions(db: Database, name: str) -> None:
    db[SESSIONS].delete_many({"user": name})


def all_keys(db: Database) -> list[dict]:
    """Every API key, newest first, without its hash."""
    return list(db[API_KEYS].find({}, {"hash": 0}).sort("created", -1))
