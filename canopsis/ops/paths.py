"""Where an installed canopsis lives.

The install root comes from ``CANOPSIS_PREFIX``; without it, a command run
from ``$PREFIX/venv/bin`` (or through the ``$PREFIX/bin`` links) finds its own
prefix, and the last resort is ``/opt/canopsis``.
"""

import os
import sys
from pathlib import Path

DEFAULT_PREFIX = Path("/opt/canopsis")


def prefix() -> Path:
    env = os.environ.get("CANOPSIS_PREFIX")
    if env:
        return Path(env)
    venv = Path(sys.prefix)
    if venv.name == "venv" and (venv.parent / "etc").is_dir():
        return venv.parent
    return DEFAULT_PREFIX


def etc(*parts: str) -> Path:
    return prefix().joinpath("etc", *parts)


def var(*parts: str) -> Path:
    return prefix().joinpath("var", *parts)


def share(*parts: str) -> Path:
    """What the install builds besides the Python code (the console's files)."""
    return prefix().joinpath("share", *parts)


def venv_bin(command: str) -> Path:
    """A command installed in the same virtual environment as canopsis."""
    return Path(sys.executable).parent / command
