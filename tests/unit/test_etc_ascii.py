"""The default configuration is ASCII: configobj writes a file back in ASCII unless told
otherwise, so a tool (or an administrator's script) rewriting a key would fail on the
first other character."""

from pathlib import Path

ETC = Path(__file__).resolve().parents[2] / "etc"


def test_every_default_configuration_file_is_ascii():
    found = [
        f"{path.relative_to(ETC)}:{number}"
        for path in sorted(ETC.rglob("*"))
        if path.is_file()
        for number, line in enumerate(path.read_bytes().splitlines(), 1)
        if not line.isascii()
    ]
    assert found == []
