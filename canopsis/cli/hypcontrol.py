"""``hypcontrol start|stop|restart|status``: the whole canopsis system.

The sections of ``etc/hypcontrol.conf`` start in order, the programs of one
section in parallel, each section ready before the next; ``stop`` goes in
reverse order and shuts supervisord down.
"""

import sys
import time

from canopsis import config, control, paths, programs, supervisor
from canopsis.cli.common import Parser, fail, print_table, report_failures

NAME = "hypcontrol"
ACTIONS = ("start", "stop", "restart", "status")


def sections(known: list[supervisor.Process]) -> list[tuple[str, list[supervisor.Process], int]]:
    """(section, managed processes, timeout) in start order, from hypcontrol.conf."""
    cfg = config.load("hypcontrol")
    where = paths.etc("hypcontrol.conf")
    result = []
    for name in cfg.sections:
        procs: list[supervisor.Process] = []
        for pattern in cfg[name]["programs"]:
            found = supervisor.select(pattern, known)
            if not found:
                raise config.ConfigError(
                    f"{where}: {name}.programs: no supervisord program matches {pattern!r}"
                )
            procs += [p for p in found if p not in procs and not programs.unmanaged(p.name)]
        result.append((name, procs, cfg[name]["timeout"] or cfg["timeout"]))
    return result


def start() -> int:
    supervisor.ensure_running()
    for name, procs, timeout in sections(supervisor.processes()):
        began = time.monotonic()
        failures = control.start(procs, timeout)
        if failures:
            return report_failures(NAME, failures)
        names = ", ".join(p.fullname for p in procs) or "nothing to start"
        print(f"{NAME}: [ok] {name}: {names} ({time.monotonic() - began:.1f} s)")
    return 0


def stop() -> int:
    if not supervisor.is_running():
        print(f"{NAME}: supervisord is not running: nothing to stop")
        return 0
    known = supervisor.processes()
    failures = []
    ordered = sections(known)
    listed = {p.fullname for _, procs, _ in ordered for p in procs}
    others = [p for p in known if p.fullname not in listed]
    for name, procs, _ in [*reversed(ordered), ("others", others, 0)]:
        failures += control.stop(procs)
        if procs:
            print(f"{NAME}: [ok] {name} stopped")
    supervisor.shutdown()
    print(f"{NAME}: supervisord stopped")
    return report_failures(NAME, failures)


def status() -> int:
    if not supervisor.is_running():
        return fail(NAME, "supervisord is not running: canopsis is stopped", 3)
    known = supervisor.processes()
    expected = {p.fullname for _, procs, _ in sections(known) for p in procs}
    notes = {p.name: "UNMANAGED" for p in known if programs.unmanaged(p.name)}
    print_table(known, notes)
    down = sorted(p.fullname for p in known if p.fullname in expected and p.state != "RUNNING")
    if down:
        return fail(NAME, f"not running: {', '.join(down)}", 3)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=NAME, description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=ACTIONS)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            return start()
        if args.action == "stop":
            return stop()
        if args.action == "restart":
            return stop() or start()
        return status()
    except (supervisor.SupervisorError, config.ConfigError) as exc:
        return fail(NAME, str(exc))


if __name__ == "__main__":
    sys.exit(main())
