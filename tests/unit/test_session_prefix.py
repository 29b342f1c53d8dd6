"""The suite never reads or writes an installed canopsis (``/opt/canopsis``)."""

import contextlib
import subprocess
import sys

from conftest import opened_installed

from canopsis.ops import paths


def test_the_session_has_a_prefix_of_its_own_for_code_and_subprocesses():
    assert paths.prefix() != paths.DEFAULT_PREFIX
    assert paths.prefix().is_relative_to("/var/tmp")
    code = "from canopsis.ops import paths; print(paths.etc('initial-admin.json'))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == str(paths.prefix() / "etc" / "initial-admin.json")


def test_a_test_opening_a_file_of_the_installed_canopsis_is_caught():
    with contextlib.suppress(OSError):
        open(paths.DEFAULT_PREFIX / "etc" / "initial-admin.json").close()
    caught = list(opened_installed)
    del opened_installed[:]  # this test opened it on purpose
    assert caught == [f"{paths.DEFAULT_PREFIX}/etc/initial-admin.json"]
