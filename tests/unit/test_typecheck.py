"""The three packages type-check together, as they are installed.

``engines/``, ``webserver/`` and ``connectors/`` install as ``canopsis.engines``,
``canopsis.webserver`` and ``canopsis.connectors`` (setup.cfg ``package_dir``), so a
checker reading the checkout cannot follow ``import canopsis.engines.alerts``. The
test lays the checkout out as installed (links, so nothing is copied) and runs mypy
over the whole ``canopsis`` package. It fails on the errors that mean one module
names something another does not have: an import that does not resolve, a name or
attribute that does not exist, a call with the wrong arguments.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLACED = {"engines": "engines", "webserver": "webserver", "connectors": "connectors"}
BROKEN_REFERENCES = ("import-not-found", "name-defined", "attr-defined", "call-arg")


def installed_layout(tmp: Path) -> Path:
    """``tmp/canopsis`` holding links to the core's entries and to the three folders."""
    package = tmp / "canopsis"
    package.mkdir()
    for entry in (ROOT / "canopsis").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in PLACED.items():
        (package / name).symlink_to(ROOT / folder)
    return tmp


def mypy(where: Path) -> list[str]:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")),
            *("--cache-dir", str(where / ".mypy_cache"), "--no-error-summary", "-p", "canopsis"),
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.splitlines()


def broken_references(lines: list[str]) -> list[str]:
    return [line for line in lines if line.endswith(tuple(f"[{c}]" for c in BROKEN_REFERENCES))]


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> list[str]:
    return mypy(installed_layout(tmp_path_factory.mktemp("typecheck")))


def test_every_reference_between_the_packages_resolves(checked):
    assert broken_references(checked) == []


def test_a_reference_to_a_name_that_does_not_exist_is_found(tmp_path):
    where = installed_layout(tmp_path)
    (where / "canopsis" / "connectors").unlink()
    (where / "canopsis" / "connectors").mkdir()
    (where / "canopsis" / "connectors" / "__init__.py").write_text(
        "from canopsis.engines.alerts import NoSuchName\nimport canopsis.webserver.no_such_module\n"
    )
    found = broken_references(mypy(where))
    assert any("NoSuchName" in line for line in found), found
    assert any("no_such_module" in line for line in found), found
