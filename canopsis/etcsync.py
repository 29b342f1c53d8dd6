"""Copy the default configuration into ``$PREFIX/etc`` without losing an administrator's edit.

``python -m canopsis.etcsync SRC_ETC PREFIX`` renders each default file
(``@PREFIX@`` becomes the prefix, ``@GENERATED_SECRET@`` a random secret kept
in ``var/lib/canopsis/secrets.json``) and then, file by file:

- missing in the prefix: written;
- unchanged since canopsis wrote it: replaced by the new default;
- changed by an administrator: left alone, and a new default that differs
  goes beside it as ``<file>.dist``.

``var/lib/canopsis/etc-manifest.json`` keeps the digest of what was written,
which is how an administrator's edit is told apart. Prints one line per file
it did something to, nothing when everything was up to date.
"""

import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

SECRET = "@GENERATED_SECRET@"
OWNER_GROUP = "canopsis"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(text: str, prefix: Path, secret: str) -> str:
    return text.replace("@PREFIX@", str(prefix)).replace(SECRET, secret)


class Sync:
    def __init__(self, source: Path, prefix: Path) -> None:
        self.source = source
        self.prefix = prefix
        self.state = prefix / "var" / "lib" / "canopsis"
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
        else:
            current = target.read_bytes()
            if current == wanted:
                self.manifest[key] = digest(wanted)
                return
            if self.manifest.get(key) == digest(current):
                self.write(target, wanted)
                self.lines.append(f"{shown}: updated to the new default")
            else:
                dist = target.with_name(target.name + ".dist")
                if dist.exists() and dist.read_bytes() == wanted:
                    return
                self.write(dist, wanted, record=False)
                self.lines.append(
                    f"{shown}: changed here, kept; the new default is beside it as {shown}.dist"
                )
                return
        self.manifest[key] = digest(wanted)

    def write(self, target: Path, data: bytes, record: bool = True) -> None:
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
        if record:
            self.manifest[str(target.relative_to(self.prefix / "etc"))] = digest(data)


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "root", OWNER_GROUP)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m canopsis.etcsync SRC_ETC PREFIX", file=sys.stderr)
        return 2
    for line in Sync(Path(argv[0]), Path(argv[1])).run():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
