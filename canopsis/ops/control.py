"""Starting and stopping programs and waiting until they are ready.

A program is ready when supervisord has kept it RUNNING for its
``startsecs`` and, when it listens on a port, that port answers. Shared by
``service`` and ``hypcontrol``.
"""

import time
import xmlrpc.client
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from canopsis.ops import programs, supervisor
from canopsis.ops.supervisor import Process

STOPPED = {"STOPPED", "EXITED", "FATAL"}
#: the states of a process that is up, or that supervisord is bringing up
RUNNING = {"STARTING", "RUNNING", "BACKOFF"}


@dataclass(frozen=True)
class Failure:
    process: Process
    reason: str


def start(procs: list[Process], timeout: float) -> list[Failure]:
    """Start ``procs`` in parallel and wait until each is ready or failed.

    The addresses to probe are read first, so a bad configuration stops
    everything before anything starts.
    """
    addresses = {proc.fullname: programs.listen_address(proc.name) for proc in procs}
    server = supervisor.rpc().supervisor
    for proc in procs:
        try:
            server.startProcess(proc.fullname, False)
        except xmlrpc.client.Fault as fault:
            if fault.faultString.split(":")[0] != "ALREADY_STARTED":
                return [Failure(proc, fault.faultString)]
    return _wait_ready(server, addresses, timeout)


def _wait_ready(
    server, addresses: dict[str, tuple[str, int] | None], timeout: float
) -> list[Failure]:
    deadline = time.monotonic() + timeout
    waiting = list(addresses)
    failures = []
    while waiting:
        for name in list(waiting):
            state = Process.from_info(server.getProcessInfo(name))
            address = addresses[name]
            if state.state in STOPPED:
                failures.append(Failure(state, f"{state.state.lower()}: {state.description}"))
                waiting.remove(name)
            elif state.state == "RUNNING" and (
                address is None or supervisor.port_answers(*address)
            ):
                waiting.remove(name)
            elif time.monotonic() > deadline:
                why = (
                    state.state
                    if state.state != "RUNNING"
                    else (f"RUNNING but nothing answers on {address[0]}:{address[1]}")
                )
                failures.append(Failure(state, f"not ready after {timeout:.0f} s ({why})"))
                waiting.remove(name)
        if waiting:
            time.sleep(0.2)
    return failures


def stop(procs: list[Process], timeout: float = 90.0) -> list[Failure]:
    """Stop ``procs`` in parallel and wait until each has stopped."""
    server = supervisor.rpc().supervisor
    failures = []
    for proc in procs:
        try:
            server.stopProcess(proc.fullname, False)
        except xmlrpc.client.Fault as fault:
            if fault.faultString.split(":")[0] != "NOT_RUNNING":
                failures.append(Failure(proc, fault.faultString))
    deadline = time.monotonic() + timeout
    waiting = [proc.fullname for proc in procs]
    while waiting and time.monotonic() < deadline:
        states = {name: server.getProcessInfo(name)["statename"] for name in waiting}
        waiting = [name for name, state in states.items() if state not in STOPPED]
        if waiting:
            time.sleep(0.2)
    failures += [Failure(proc, "still running") for proc in procs if proc.fullname in waiting]
    return failures


def log_tail(proc: Process, lines: int = 20) -> list[str]:
    path = Path(proc.logfile)
    try:
        with path.open(errors="replace") as stream:
            return [line.rstrip("\n") for line in deque(stream, maxlen=lines)]
    except OSError:
        return []
