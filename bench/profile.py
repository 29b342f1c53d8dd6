"""Sampling profiles of running programs with py-spy (the ``bench`` extra of setup.cfg)."""

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: frames that every sample of a threaded server holds, left out of the summary
BOOTSTRAP = ("_bootstrap", "_bootstrap_inner", "run (threading.py", "<module>")


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def record(pid: int, seconds: int, path: Path) -> subprocess.Popen:
    """Start sampling ``pid`` for ``seconds`` into ``path`` (collapsed stacks); py-spy is
    there (``python -m bench`` checks it)."""
    args = [py_spy(), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50"]
    args += ["--nonblocking", "--format", "raw", "--output", str(path)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(text: str) -> str:
    """``function (file.py)`` of a py-spy frame ``function (path/file.py:line)``."""
    name, _, where = text.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0]})" if where else name


def top(path: Path, count: int = 15) -> list[list]:
    """The functions holding the most samples (inclusive), as ``[percent, function]``."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        total += int(samples)
        for frame in {_frame(f) for f in stack.split(";")}:
            if not frame.startswith(BOOTSTRAP) and "(threading.py)" not in frame:
                inclusive[frame] += int(samples)
    return [[100 * n / total, frame] for frame, n in inclusive.most_common(count)] if total else []
