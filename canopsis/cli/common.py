"""What ``service`` and ``hypcontrol`` share: the status table and failure reports."""

import argparse
import sys
from typing import NoReturn

from canopsis.ops import control
from canopsis.ops.supervisor import Process


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def fail(command: str, message: str, status: int = 1) -> int:
    """Print one line naming the command on stderr and return ``status``."""
    print(f"{command}: {message}", file=sys.stderr)
    return status


def report_failures(command: str, failures: list[control.Failure], lines: int = 20) -> int:
    """Name each failed program with the tail of its log; 1 if any failed."""
    for failure in failures:
        proc = failure.process
        print(f"{command}: {proc.fullname} failed: {failure.reason}", file=sys.stderr)
        tail = control.log_tail(proc, lines)
        if tail:
            print(f"--- last lines of {proc.logfile}", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)
    return 1 if failures else 0


def print_table(procs: list[Process], notes: dict[str, str] | None = None) -> None:
    notes = notes or {}
    rows = [("PROGRAM", "STATE", "PID", "UPTIME")]
    for proc in procs:
        state = notes.get(proc.name, proc.state)
        rows.append((proc.fullname, state, str(proc.pid or "-"), _duration(proc.uptime)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )


def _duration(seconds: int) -> str:
    if not seconds:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text
