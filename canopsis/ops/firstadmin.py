"""The first admin, made at install: ``python -m canopsis.ops.firstadmin PREFIX GROUP``.

When the install has no first admin yet, a random password is written to
``$PREFIX/etc/admin-password`` (mode 0600, root) and its Argon2 hash to
``$PREFIX/etc/initial-admin.json`` (0640, readable by the canopsis
group). The webserver creates the user ``admin`` from that file
when the database holds no admin (see :func:`canopsis.domain.auth.ensure_initial_admin`),
so the install needs no running database. The password is printed once, on
the install that made it.
"""

import grp
import json
import os
import secrets
import sys
from pathlib import Path

from canopsis.domain import auth

NAME = "admin"


def make(prefix: Path, group: str) -> str | None:
    """The new password, or None when the install already has its first admin."""
    password_file = prefix / "etc" / "admin-password"
    initial = prefix / "etc" / "initial-admin.json"
    if password_file.exists() or initial.exists():
        return None
    password = secrets.token_urlsafe(18)
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{NAME} {password}\n")
    initial.parent.mkdir(parents=True, exist_ok=True)
    initial.write_text(json.dumps({"name": NAME, "password_hash": auth.hash_password(password)}))
    os.chown(initial, 0, grp.getgrnam(group).gr_gid)
    initial.chmod(0o640)
    return password


def main() -> int:
    prefix, group = Path(sys.argv[1]), sys.argv[2]
    password = make(prefix, group)
    if password is not None:
        sys.stdout.write(
            f"first admin: {NAME} / {password} (kept in {prefix}/etc/admin-password, "
            "root only; change it after the first login)\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
