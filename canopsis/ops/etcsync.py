"""Bring ``$PREFIX/etc`` to the new default configuration without losing an administrator's edit.

``python -m canopsis.ops.etcsync SRC_ETC PREFIX`` renders each default file
(``@PREFIX@`` becomes the prefix, ``@GENERATED_SECRET@`` a random secret kept
in ``var/lib/canopsis/secrets.json``) and then, file by file:

- missing in the prefix: written;
- unchanged since the last install: replaced by the new default;
- changed by an administrator: merged key by key with the new default, a
  three-way merge against the default it was installed from (kept in
  ``var/lib/canopsis/etc-defaults/``): a key the administrator changed keeps
  its value, a key left alone follows the new default (new keys are added,
  keys the default dropped are removed), and a key both changed is a
  conflict: the administrator's value stays and both are reported. The
  administrator's comments and layout stay as they are. The new default goes
  beside the file as ``<file>.dist`` for reference.

A file that cannot be read as ``key = value`` lines in ``[sections]``
(``collectd.conf``, ``rabbitmq/enabled_plugins``), or whose previous default
is unknown (written by an administrator before the install), is kept whole and
the new default goes beside it as ``<file>.dist``; such a file lacking a key
whose default is a generated secret (the database password) gains that key,
nothing else. An install made before
canopsis kept its defaults recorded only their digests
(``var/lib/canopsis/etc-manifest.json``): the previous default is then the
version of the file in the source repository's history with that digest.

Prints one line per file it did something to (and one per conflict), nothing
when everything was up to date.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from canopsis.ops.inimerge import merge_file

SECRET = "@GENERATED_SECRET@"
OWNER_GROUP = "canopsis"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(text: str, prefix: Path, secret: str) -> str:
    return text.replace("@PREFIX@", str(prefix)).replace(SECRET, secret)


def _secrets_missing_from(text: str, current: str) -> str:
    """``text`` without the lines of its generated secrets whose key ``current`` lacks."""

    def missing(line: str) -> bool:
        key = line.split("=", 1)[0].strip()
        return SECRET in line and not re.search(rf"(?m)^\s*{re.escape(key)}\s*=", current)

    return "".join(line for line in text.splitlines(keepends=True) if not missing(line))


class Sync:
    def __init__(self, source: Path, prefix: Path) -> None:
        self.source = source
        self.prefix = prefix
        self.state = prefix / "var" / "lib" / "canopsis"
        self.defaults = self.state / "etc-defaults"
        self.manifest = self._load("etc-manifest.json")
        self.secrets = self._load("secrets.json")
        self.lines: list[str] = []
        self.installed = 0

    def _load(self, name: str) -> dict[str, str]:
        try:
            return json.loads((self.state / name).read_text())
        except FileNotFoundError:
            return {}

    def _save(self, name: str, data: dict[str, str]) -> None:
        path = self.state / name
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        path.with_suffix(".tmp").replace(path)

    def run(self) -> list[str]:
        for default in sorted(p for p in self.source.rglob("*") if p.is_file()):
            self.file(default.relative_to(self.source))
        self._save("etc-manifest.json", self.manifest)
        self._save("secrets.json", self.secrets)
        if self.installed:
            self.lines.insert(0, f"etc: {self.installed} default files installed")
        return self.lines

    def file(self, rel: Path) -> None:
        key = str(rel)
        text = (self.source / rel).read_text()
        if SECRET in text and key not in self.secrets:
            self.secrets[key] = secrets.token_urlsafe(24)
        wanted = render(text, self.prefix, self.secrets.get(key, "")).encode()
        target = self.prefix / "etc" / rel
        shown = f"etc/{rel}"
        if not target.exists():
            self.write(target, wanted)
            self.installed += 1
            self.remember(rel, wanted)
            return
        current = target.read_bytes()
        base = self.base(rel, current)
        if base is None and SECRET in text:
            # written by an administrator before canopsis kept its default: their keys stay
            # as they are, but it gains the secrets canopsis generates, which they cannot know
            kept = _secrets_missing_from(text, current.decode(errors="replace"))
            base = render(kept, self.prefix, self.secrets[key]).encode()
        self.remember(rel, wanted)
        if current == wanted:
            return
        if base == current:
            self.write(target, wanted)
            self.lines.append(f"{shown}: updated to the new default")
            return
        dist = target.with_name(target.name + ".dist")
        beside = f"the new default is beside it as {shown}.dist"
        new_dist = not (dist.exists() and dist.read_bytes() == wanted)
        if new_dist:
            self.write(dist, wanted)
        result = None
        if base is not None and base != wanted:
            result = merge_file(rel, base.decode(), current.decode(), wanted.decode())
        if result is None:
            why = " (not made of keys: merge it by hand)" if base not in (None, wanted) else ""
            if new_dist:
                self.lines.append(f"{shown}: changed here, kept{why}; {beside}")
            return
        merged, notes = result
        if merged.encode() != current:
            self.write(target, merged.encode())
        kept = [note for note in notes if not note.startswith("conflict: ")]
        if kept or new_dist:
            done = f"merged with the new default: {'; '.join(kept)}; " if kept else "kept; "
            self.lines.append(f"{shown}: changed here, {done}{beside}")
        self.lines += [f"{shown}: {note}" for note in notes if note.startswith("conflict: ")]

    def base(self, rel: Path, current: bytes) -> bytes | None:
        """The default ``rel`` was installed from (None when unknown)."""
        try:
            return (self.defaults / rel).read_bytes()
        except FileNotFoundError:
            pass
        installed = self.manifest.get(str(rel))
        if installed is None:
            return None
        if digest(current) == installed:
            return current
        return self.from_history(rel, installed)

    def from_history(self, rel: Path, wanted_digest: str) -> bytes | None:
        """The version of default ``rel`` in the source repository's history with that digest."""

        def git(*args: str) -> str | None:
            try:
                done = subprocess.run(
                    ["git", "-C", str(self.source), *args],
                    capture_output=True,
                    text=True,
                    check=False,
                )
            except OSError:
                return None
            return done.stdout if done.returncode == 0 else None

        commits = git("log", "--format=%H", "--", str(rel)) or ""
        for commit in commits.split():
            text = git("show", f"{commit}:./{rel}")
            if text is None:
                continue
            rendered = render(text, self.prefix, self.secrets.get(str(rel), "")).encode()
            if digest(rendered) == wanted_digest:
                return rendered
        return None

    def remember(self, rel: Path, default: bytes) -> None:
        """Keep the default now installed: the base of the next merge."""
        self.manifest[str(rel)] = digest(default)
        path = self.defaults / rel
        if path.exists() and path.read_bytes() == default:
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(
            path.with_name(path.name + ".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
        )
        with os.fdopen(fd, "wb") as out:
            out.write(default)
        path.with_name(path.name + ".tmp").replace(path)

    def write(self, target: Path, data: bytes) -> None:
        etc = self.prefix / "etc"
        for folder in reversed(target.parents):
            if folder.is_relative_to(etc) and not folder.exists():
                folder.mkdir(mode=0o750)
                _own(folder)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o640)
        _own(tmp)
        tmp.replace(target)


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "root", OWNER_GROUP)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m canopsis.ops.etcsync SRC_ETC PREFIX", file=sys.stderr)
        return 2
    for line in Sync(Path(argv[0]), Path(argv[1])).run():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
