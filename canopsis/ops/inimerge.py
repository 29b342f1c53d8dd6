"""Three-way merge of configuration files, key by key (see :mod:`canopsis.ops.etcsync`).

A file is read as lines with where each ``(section, key)`` is, so the merged
file keeps the administrator's comments and layout; only the lines of the keys
that follow the new default change.
"""

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from configobj import ConfigObj, ConfigObjError

_SECTION = re.compile(r"^\s*(\[+)\s*([^\]]+?)\s*\]+\s*(?:[#;].*)?$")
_KEY = re.compile(r"^\s*([^\s=#;\[][^=]*?)\s*=(.*)$")
_INLINE_COMMENT = re.compile(r"\s+[#;].*$")


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
    merging = _Merge(*(Ini.parse(text, continued) for text in (base, mine, new)))
    for where in merging.default.keys:
        merging.follow(where)
    for where in merging.old.keys:
        if where not in merging.default.keys and where in merging.here.keys:
            merging.drop(where)
    return merging.text()


def _show(where: tuple[str, str]) -> str:
    return ".".join(part for part in where if part)


@dataclass
class _Merge:
    """The administrator's file (``here``) brought from ``old`` to ``default``, key by key."""

    old: Ini
    here: Ini
    default: Ini
    #: first line -> (end line, replacement)
    edits: dict[int, tuple[int, list[str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    added_sections: list[str] = field(default_factory=list)

    def edit(self, start: int, end: int, lines: list[str]) -> None:
        """Replace lines start..end (an insertion when equal), after what replaces them already."""
        was_end, was_lines = self.edits.get(start, (start, []))
        self.edits[start] = (max(was_end, end), was_lines + _ensure_newline(lines))

    def follow(self, where: tuple[str, str]) -> None:
        """A key of the new default: follow it where the administrator left the key alone."""
        theirs = self.default.value(where)
        was = self.old.value(where) if where in self.old.keys else None
        if where in self.here.keys:
            ours = self.here.value(where)
            if ours == theirs or theirs == was:
                return
            if ours == was:
                self.edit(
                    *self.here.keys[where], self.default.lines[slice(*self.default.keys[where])]
                )
                self.notes.append(f"{_show(where)} follows the new default")
            else:
                self.notes.append(
                    f"conflict: {_show(where)} = {ours} kept; the new default is {theirs}"
                )
        elif was is not None:
            if was != theirs:
                self.notes.append(
                    f"conflict: {_show(where)} not set here, left so; the new default is {theirs}"
                )
        elif where[0] in self.here.sections:
            at = self.insert_after(where)
            self.edit(at, at, self.default.block(where))
            self.notes.append(f"{_show(where)} added")
        elif where[0] not in self.added_sections:
            self.added_sections.append(where[0])

    def drop(self, where: tuple[str, str]) -> None:
        """A key the new default no longer has: removed unless the administrator changed it."""
        if self.here.value(where) == self.old.value(where):
            self.edit(*self.here.keys[where], [])
            self.notes.append(f"{_show(where)} removed (no longer a setting)")
        else:
            self.notes.append(
                f"conflict: {_show(where)} = {self.here.value(where)} kept; "
                "the new default drops it"
            )

    def insert_after(self, where: tuple[str, str]) -> int:
        """Where a new key of the default goes here: after the key before it."""
        section = where[0]
        previous = None
        for key in self.default.keys:
            if key == where:
                break
            if key[0] == section and key in self.here.keys:
                previous = key
        if previous:
            return self.here.keys[previous][1]
        header = self.here.sections[section]
        if header >= 0:
            return header + 1
        lines = self.here.sections.values()
        return min((line for line in lines if line >= 0), default=len(self.here.lines))

    def text(self) -> tuple[str, list[str]]:
        lines = _ensure_newline(self.here.lines)
        for start in sorted(self.edits, reverse=True):
            end, replacement = self.edits[start]
            lines[start:end] = replacement
        for section in self.added_sections:
            lines += _ensure_newline(self.default.section_block(section))
            self.notes.append(f"[{section}] added")
        return "".join(lines), self.notes


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
