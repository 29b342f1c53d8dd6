"""``service <name> start|stop|restart|status|tail``: drive canopsis' programs.

``<name>`` is a supervisord program (``webserver``), a group (``engines``)
or a shell pattern (``engine-*``). supervisord is started first when it is
not running. ``status`` exits 0 when every named program runs, 3 when one
is stopped and 4 when the name matches no program, as LSB init scripts do.
"""

import argparse
import os
import sys

from canopsis.cli.common import Parser, fail, print_table, report_failures
from canopsis.ops import config, control, programs, supervisor

NAME = "service"
ACTIONS = ("start", "stop", "restart", "status", "tail")
LSB_NOT_RUNNING = 3
LSB_UNKNOWN = 4


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog=NAME, description=__doc__.splitlines()[0])
    parser.add_argument("name", help="program, group or pattern (engine-*)")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("-n", "--lines", type=int, default=40, help="tail: lines to show")
    parser.add_argument("-f", "--follow", action="store_true", help="tail: keep following")
    parser.add_argument("--timeout", type=float, default=90, help="start: seconds to be ready")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        supervisor.ensure_running()
        known = supervisor.processes()
        selected = supervisor.select(args.name, known)
        if not selected:
            names = sorted({p.name for p in known} | {p.group for p in known})
            message = f"unknown service {args.name!r}; known: {', '.join(names)}"
            return fail(NAME, message, LSB_UNKNOWN if args.action == "status" else 1)
        return run(args, selected)
    except (supervisor.SupervisorError, config.ConfigError) as exc:
        return fail(NAME, str(exc))


def run(args: argparse.Namespace, selected: list[supervisor.Process]) -> int:
    unmanaged = {p.name: programs.unmanaged(p.name) for p in selected}
    managed = [p for p in selected if not unmanaged[p.name]]
    for proc in selected:
        if unmanaged[proc.name] and args.action in ("start", "restart"):
            print(f"{NAME}: {proc.name} is not run by canopsis ({unmanaged[proc.name].reason})")
    if args.action == "status":
        notes = {name: "UNMANAGED" for name, why in unmanaged.items() if why}
        print_table(selected, notes)
        stopped = any(p.state != "RUNNING" for p in managed)
        return LSB_NOT_RUNNING if stopped else 0
    if args.action == "tail":
        command = ["tail", "-n", str(args.lines), *(["-F"] if args.follow else [])]
        os.execvp("tail", command + sorted({p.logfile for p in selected}))
    if args.action in ("stop", "restart"):
        failures = control.stop(selected if args.action == "stop" else managed)
        if failures:
            return report_failures(NAME, failures)
    if args.action in ("start", "restart"):
        if not managed:
            return 1
        failures = control.start(managed, args.timeout)
        if failures:
            return report_failures(NAME, failures)
    for proc in supervisor.select(args.name, supervisor.processes()):
        print(
            f"{NAME}: {proc.fullname} {proc.state.lower()}"
            + (f" (pid {proc.pid})" if proc.pid else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
