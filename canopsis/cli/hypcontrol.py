"""``hypcontrol start|stop|restart|reload|status``: the whole canopsis system.

The sections of ``etc/hypcontrol.conf`` start in order, the programs of one
section in parallel, each section ready before the next. A section that fails
does not stop the others: only the sections that need it (``needs``) are
skipped, and the exit status says something failed. ``stop`` goes in reverse
order and shuts supervisord down. ``reload`` applies a new version or a
changed configuration to a running system: supervisord rereads its programs,
and the programs whose definition, code or configuration files changed since
they started restart, section by section, each ready before the next.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from canopsis.cli.common import Parser, fail, print_table, report_failures
from canopsis.ops import config, control, paths, programs, supervisor

NAME = "hypcontrol"
ACTIONS = ("start", "stop", "restart", "reload", "status")
#: exit status of ``reload`` when supervisord itself must restart to apply its settings
SUPERVISORD_OUTDATED = 4


@dataclass(frozen=True)
class Section:
    name: str
    procs: list[supervisor.Process]
    timeout: int
    needs: list[str]


def sections(known: list[supervisor.Process]) -> list[Section]:
    """The sections of hypcontrol.conf in start order, with their managed processes."""
    cfg = config.load("hypcontrol")
    where = paths.etc("hypcontrol.conf")
    result = []
    for index, name in enumerate(cfg.sections):
        procs: list[supervisor.Process] = []
        for pattern in cfg[name]["programs"]:
            found = supervisor.select(pattern, known)
            if not found:
                raise config.ConfigError(
                    f"{where}: {name}.programs: no supervisord program matches {pattern!r}"
                )
            procs += [p for p in found if p not in procs and not programs.unmanaged(p.name)]
        before = cfg.sections[:index]
        needs = cfg[name]["needs"]
        needs = before if needs is None else [n for n in needs if n]
        for need in needs:
            if need not in before:
                raise config.ConfigError(
                    f"{where}: {name}.needs: {need!r} is not a section before [{name}]"
                )
        result.append(Section(name, procs, cfg[name]["timeout"] or cfg["timeout"], needs))
    return result


def in_order(
    ordered: list[Section],
    act: Callable[[Section], tuple[list[supervisor.Process], list[control.Failure]] | None],
    verb: str,
) -> tuple[list[control.Failure], set[str]]:
    """``act`` on each section in order, but not on those that need a section that failed.

    ``act`` returns the processes it acted on and the failures, or None when it had
    nothing to do. Prints one line per section acted on, failed or skipped (and a bad
    configuration on stderr); returns the failures of programs and the sections that
    failed or were skipped.
    """
    failed: set[str] = set()
    failures: list[control.Failure] = []
    for section in ordered:
        blocked = [need for need in section.needs if need in failed]
        if blocked:
            failed.add(section.name)
            names = ", ".join(p.fullname for p in section.procs)
            print(
                f"{NAME}: [skipped] {section.name}: {names} not {verb}: "
                f"needs {', '.join(blocked)}, which failed"
            )
            continue
        began = time.monotonic()
        try:
            result = act(section)
        except config.ConfigError as exc:  # read before anything of the section starts
            failed.add(section.name)
            print(f"{NAME}: [FAIL] {section.name}: not {verb}")
            fail(NAME, str(exc))
            continue
        if result is None:
            continue
        done, failed_here = result
        if failed_here:
            failed.add(section.name)
            failures += failed_here
            names = ", ".join(f.process.fullname for f in failed_here)
            print(f"{NAME}: [FAIL] {section.name}: {names}")
        else:
            names = ", ".join(p.fullname for p in done) or "nothing to start"
            print(f"{NAME}: [ok] {section.name}: {names} {verb} ({time.monotonic() - began:.1f} s)")
    return failures, failed


def report(failures: list[control.Failure], ordered: list[Section], verb: str) -> int:
    """The failed programs with their logs, then one line naming them; the exit status."""
    if not failures:
        return 0
    report_failures(NAME, failures)
    failed = {f.process.fullname for f in failures}
    down = [s.name for s in ordered if any(p.fullname in failed for p in s.procs)]
    where = f" (section {', '.join(down)})" if down else ""
    return fail(NAME, f"not {verb}: {', '.join(sorted(failed))}{where}")


def start() -> int:
    supervisor.ensure_running()
    ordered = sections(supervisor.processes())

    def act(section: Section):
        return section.procs, control.start(section.procs, section.timeout)

    failures, failed = in_order(ordered, act, "started")
    return report(failures, ordered, "started") or int(bool(failed))


def stop() -> int:
    if not supervisor.is_running():
        print(f"{NAME}: supervisord is not running: nothing to stop")
        return 0
    known = supervisor.processes()
    failures = []
    ordered = sections(known)
    listed = {p.fullname for s in ordered for p in s.procs}
    others = [p for p in known if p.fullname not in listed]
    for name, procs in [*((s.name, s.procs) for s in reversed(ordered)), ("others", others)]:
        failures += control.stop(procs)
        if procs:
            print(f"{NAME}: [ok] {name} stopped")
    supervisor.shutdown()
    print(f"{NAME}: supervisord stopped")
    return report_failures(NAME, failures)


def reload() -> int:
    """Apply what changed since the programs started; see the module's doc."""
    if not supervisor.is_running():
        return fail(NAME, f"supervisord is not running: start canopsis with: {command('start')}", 3)
    before = supervisor.processes()
    added, changed, removed = supervisor.reread()
    failures = _remove_groups(removed, before)
    for group in added:
        supervisor.add_group(group)
    ordered = sections(supervisor.processes())
    running = {p.group for p in before if p.state in control.RUNNING}
    renewal = _Renewal(added, changed, running)
    in_sections, failed = in_order(ordered, renewal.section, "restarted")
    failures += in_sections
    listed = {p.group for s in ordered for p in s.procs}
    failures += renewal.outside_sections(listed, before)
    if failures or failed:
        report(failures, ordered, "restarted")
        return fail(NAME, f"once fixed, run: {command('reload')}")
    if not (renewal.acted or removed):
        print(f"{NAME}: every program runs its current code and configuration: nothing to restart")
    if supervisor.settings_outdated():
        return fail(
            NAME,
            f"{paths.etc('supervisord.conf')} changed: supervisord applies it when it starts "
            f"again: run {command('restart')}",
            SUPERVISORD_OUTDATED,
        )
    return 0


def _remove_groups(removed: list[str], before: list[supervisor.Process]) -> list[control.Failure]:
    """Stop and remove the groups no longer configured; the failures to stop."""
    failures: list[control.Failure] = []
    for group in removed:
        failed_here = control.stop([p for p in before if p.group == group])
        failures += failed_here
        if not failed_here:
            supervisor.remove_group(group)
            print(f"{NAME}: [ok] {group}: stopped and removed (no longer configured)")
    return failures


@dataclass
class _Renewal:
    """What ``reload`` restarts: the groups supervisord added or changed, and the running
    processes whose code or configuration changed since they started."""

    added: list[str]
    changed: list[str]
    #: the groups that had a running process before the reload
    running: set[str]
    #: the sections and groups that restarted something
    acted: list[str] = field(default_factory=list)

    def section(self, section: Section):
        """Restart the section's outdated processes; a changed group is replaced first (its
        processes may be others), when its turn comes, so it stops as late as possible."""
        procs = section.procs
        replaced = {p.group for p in procs if p.group in self.changed}
        if replaced:
            failures = control.stop([p for p in procs if p.group in replaced])
            if failures:
                return [], failures
            for group in replaced:
                supervisor.remove_group(group)
                supervisor.add_group(group)
            [procs] = [s.procs for s in sections(supervisor.processes()) if s.name == section.name]
        renewed = set(self.added) | (replaced & self.running)
        targets = [
            p
            for p in procs
            if p.group in renewed
            or (p.state in control.RUNNING and programs.outdated(p.name, p.group, p.started_at))
        ]
        if not targets:
            return None
        self.acted.append(section.name)
        failures = control.stop(targets)
        return targets, failures or control.start(targets, section.timeout)

    def outside_sections(
        self, listed: set[str], before: list[supervisor.Process]
    ) -> list[control.Failure]:
        """The added and changed groups of no section: an added one stays stopped, a changed
        one gets its new definition (and starts again if it was running)."""
        failures: list[control.Failure] = []
        for group in [g for g in self.added if g not in listed]:
            self.acted.append(group)
            print(f"{NAME}: [ok] {group}: added, stopped (in no section of hypcontrol.conf)")
        for group in [g for g in self.changed if g not in listed]:
            self.acted.append(group)
            failed_here = control.stop([p for p in before if p.group == group])
            if not failed_here:
                supervisor.remove_group(group)
                supervisor.add_group(group)
            if group in self.running and not failed_here:
                procs = [p for p in supervisor.processes() if p.group == group]
                failed_here = control.start(procs, config.load("hypcontrol")["timeout"])
            failures += failed_here
            if not failed_here:
                print(f"{NAME}: [ok] {group}: its new definition applies")
        return failures


def command(action: str) -> str:
    return f"{paths.prefix() / 'bin' / NAME} {action}"


def status() -> int:
    if not supervisor.is_running():
        return fail(NAME, "supervisord is not running: canopsis is stopped", 3)
    known = supervisor.processes()
    expected = {p.fullname for s in sections(known) for p in s.procs}
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
        if args.action == "reload":
            return reload()
        return status()
    except (supervisor.SupervisorError, config.ConfigError) as exc:
        return fail(NAME, str(exc))


if __name__ == "__main__":
    sys.exit(main())
