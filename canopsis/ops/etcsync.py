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
the new default goes beside it as ``<file>.dist``. An install made before
canopsis kept its defaults recorded only their digests
(``var/lib/canopsis/etc-manifest.json``): the previous default is then the
version of the file in the source repository's history with that digest.

Prints one line per file it did something to (and one per conflict), nothing
when everything was up to date.
"""

import configparser
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from configobj import ConfigObj, ConfigObjError

SECRET = "@GENERATED_SECRET@"
OWNER_GROUP = "canopsis"

_SECTION = re.compile(r"^\s*(\[+)\s*([^\]]+?)\s*\]+\s*(?:[#;].*)?$")
_KEY = re.compile(r"^\s*([^\s=#;\[][^=]*?)\s*=(.*)$")
_INLINE_COMMENT = re.compile(r"\s+[#;].*$")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(text: str, prefix: Path, secret: str) -> str:
    return text.replace("@PREFIX@", str(prefix)).replace(SECRET, secret)


@dataclass
class Ini:
    """A configuration file as lines, with where each ``(section, key)`` is.

    ``supervisord`` files (configparser's syntax) continue a value on indented
    lines; in the others (configobj's) an indented line is a key of its own.
    """

    lines: list[str]
    #: (section, key) -> (first line, end line) of its value
    keys: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: section -> line of its header (-1 for the keys before the first section)
    sections: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, continued: bool) -> "Ini":
        ini = cls(text.splitlines(keepends=True), sections={"": -1})
        section, last = "", None
        for number, line in enumerate(ini.lines):
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                last = None
                continue
            if continued and last and line[0] in " \t":
                start, _end = ini.keys[last]
                ini.keys[last] = (start, number + 1)
                continue
            if header := _SECTION.match(line):
                depth, name = len(header.group(1)), header.group(2)
                parents = section.split(".")[: depth - 1] if section else []
                section = ".".join([*parents, name])
                ini.sections[section] = number
                last = None
                continue
            key = _KEY.match(line)
            if key is None:
                raise ValueError(f"line {number + 1}: neither a section nor a key")
            last = (section, key.group(1))
            ini.keys[last] = (number, number + 1)
        return ini

    def value(self, where: tuple[str, str]) -> str:
        start, end = self.keys[where]
        text = " ".join(self.lines[start:end]).split("=", 1)[1]
        text = " ".join(text.split())
        return text if text[:1] in "\"'" else _INLINE_COMMENT.sub("", text)

    def block(self, where: tuple[str, str]) -> list[str]:
        """The lines of a key, with the comment lines right above it."""
        start, end = self.keys[where]
        while start > 0 and self.lines[start - 1].strip()[:1] in ("#", ";"):
            start -= 1
        return self.lines[start:end]

    def section_block(self, section: str) -> list[str]:
        """A section's header and its keys, as the defaults write them."""
        header = self.sections[section]
        keys = [where for where in self.keys if where[0] == section]
        out = [self.lines[header]] if header >= 0 else []
        for where in keys:
            out += self.block(where)
        return out


def _ensure_newline(lines: list[str]) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def merge(base: str, mine: str, new: str, continued: bool) -> tuple[str, list[str]]:
    """Three-way merge of ``mine`` (the administrator's file) from ``base`` to ``new``.

    Returns the merged text and what happened, one phrase per key; a conflict
    phrase starts with ``conflict:``. ValueError when a file is not made of
    sections and keys.
    """
    old, here, default = (Ini.parse(text, continued) for text in (base, mine, new))
    edits: dict[int, tuple[int, list[str]]] = {}  # first line -> (end line, replacement)
    notes: list[str] = []

    def edit(start: int, end: int, lines: list[str]) -> None:
        """Replace lines start..end (an insertion when equal), after what replaces them already."""
        was_end, was_lines = edits.get(start, (start, []))
        edits[start] = (max(was_end, end), was_lines + _ensure_newline(lines))

    def show(where: tuple[str, str]) -> str:
        return ".".join(part for part in where if part)

    def insert_after(where: tuple[str, str]) -> int:
        """Where a new key of ``default`` goes in ``here``: after the key before it."""
        section = where[0]
        previous = None
        for key in default.keys:
            if key == where:
                break
            if key[0] == section and key in here.keys:
                previous = key
        if previous:
            return here.keys[previous][1]
        header = here.sections[section]
        if header >= 0:
            return header + 1
        return min((line for line in here.sections.values() if line >= 0), default=len(here.lines))

    added_sections: list[str] = []
    for where in default.keys:
        theirs, was = default.value(where), old.value(where) if where in old.keys else None
        if where in here.keys:
            ours = here.value(where)
            if ours == theirs or theirs == was:
                continue
            if ours == was:
                edit(*here.keys[where], default.lines[slice(*default.keys[where])])
                notes.append(f"{show(where)} follows the new default")
            else:
                notes.append(f"conflict: {show(where)} = {ours} kept; the new default is {theirs}")
        elif was is not None:
            if was != theirs:
                notes.append(
                    f"conflict: {show(where)} not set here, left so; the new default is {theirs}"
                )
        elif where[0] in here.sections:
            at = insert_after(where)
            edit(at, at, default.block(where))
            notes.append(f"{show(where)} added")
        elif where[0] not in added_sections:
            added_sections.append(where[0])
    for where in old.keys:
        if where in default.keys or where not in here.keys:
            continue
        if here.value(where) == old.value(where):
            edit(*here.keys[where], [])
            notes.append(f"{show(where)} removed (no longer a setting)")
        else:
            notes.append(
                f"conflict: {show(where)} = {here.value(where)} kept; the new default drops it"
            )
    lines = _ensure_newline(here.lines)
    for start in sorted(edits, reverse=True):
        end, replacement = edits[start]
        lines[start:end] = replacement
    for section in added_sections:
        lines += _ensure_newline(default.section_block(section))
        notes.append(f"[{section}] added")
    return "".join(lines), notes


def merge_file(rel: Path, base: str, mine: str, new: str) -> tuple[str, list[str]] | None:
    """:func:`merge` for a file of ``etc``; None when a version does not read as sections and
    keys (configparser's syntax for supervisord, configobj's for the others)."""
    continued = supervisord_syntax(rel)
    try:
        for text in (base, mine, new):
            if continued:
                configparser.ConfigParser(interpolation=None, strict=False).read_string(text)
            else:
                ConfigObj(text.splitlines(), interpolation=False, list_values=False)
        return merge(base, mine, new, continued)
    except (configparser.Error, ConfigObjError, ValueError):
        return None


def supervisord_syntax(rel: Path) -> bool:
    return rel.parts[0] in ("supervisord.d", "supervisord.conf")


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
