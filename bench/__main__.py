"""``python -m bench [--quick] [--profile]``: run every benchmark, write the JSON, print a table.

Sections, in order: the start of RabbitMQ and MongoDB, the broker baseline
(:mod:`bench.broker`), the default engine chain's sustained throughput and
its latency at 50 % and 90 % of it (:mod:`bench.pipeline`), the fused and
split chains with 1, 2 and 4 workers (full mode), the REST API
(:mod:`bench.rest`), the alarm list in a storm with events flowing at half the
default chain's throughput (:mod:`bench.storm`) and the memory of every
program idle and under load.
``--profile`` adds a throughput run sampled by py-spy (the engine and the
database) and keeps the functions that hold the most samples.

The cost of durable acknowledgements: the default chain's throughput run and
its two latency runs are each made again right after, same stream and offered
rate, with ``durable_batches = false`` in ``mongo.conf`` (no journaled write
per batch: an acknowledged event can be lost if the database process
crashes); ``pipeline.durable_batches`` in the JSON compares them.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import broker, pipeline, profile, rest, storm
from bench.stack import REPO, Stack
from bench.stats import rounded
from canopsis.ops import config, dbserver
from canopsis.runtime import storage

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Plan:
    baseline_messages: int
    throughput_s: float
    latency_s: float
    seeded: float
    layouts: tuple[tuple[str, int], ...]
    layout_s: float
    levels: tuple[int, ...]
    repeat: int
    budget_s: float
    intake_s: float
    profile_s: int
    #: open alarms of each storm (:mod:`bench.storm`)
    storms: tuple[int, ...]


QUICK = Plan(10_000, 12, 6, 0.05, (), 0, (1_000, 10_000), 20, 2, 3, 10, (10_000,))
FULL = Plan(
    50_000,
    60,
    45,
    0.2,
    (("fused", 2), ("fused", 4), ("split", 1), ("split", 2), ("split", 4)),
    45,
    (1_000, 10_000, 100_000),
    100,
    30,
    15,
    20,
    (10_000, 100_000),
)


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    rabbitmq = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "rabbitmq-server"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rabbitmq_server": rabbitmq,
        "versions": {
            name: importlib.metadata.version(name)
            for name in ("kombu", "amqp", "pymongo", "SecantusDB", "falcon", "gunicorn")
        },
        "database_server": _database_server(),
    }


def _database_server() -> str:
    """The embedded server the benchmark runs (``etc/mongo.conf``'s ``server``), with its
    version."""
    server = config.load("mongo", REPO / "etc" / "mongo.conf")["server"]
    binary = Path(sys.executable).parent / dbserver.SERVERS[server]
    if server == "rust" and binary.exists():
        return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split(
            "\n"
        )[0]
    return "secantusd-py " + importlib.metadata.version("SecantusDB")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def memory(stack: Stack) -> dict:
    """Resident MB of every running program now."""
    return {name: program.sample()[1] / 2**20 for name, program in stack.programs.items()}


def run(plan: Plan, with_profile: bool) -> dict:
    result: dict = {"machine": machine(), "started": datetime.datetime.now().isoformat()}
    stack = Stack()
    try:
        say("starting RabbitMQ and MongoDB")
        stack.start()
        footprint: dict = {"idle_mb": memory(stack)}
        say("broker baseline")
        base = broker.run(stack.amqp_url, plan.baseline_messages)
        result["baseline"] = base
        say(f"  {base['end_to_end_per_s']:.0f} messages/s published and consumed")
        result["pipeline"] = _pipeline(stack, plan, base["end_to_end_per_s"], footprint)
        if with_profile:
            say("profile of a throughput run (py-spy)")
            result["profile"] = _profile(stack, plan)
        say("REST API")
        flowing = result["pipeline"]["throughput"]["events_per_s"] / 2
        result["rest"] = _rest(stack, plan, footprint, flowing)
        footprint["start_s"] = {
            name: program.ready_seconds for name, program in stack.programs.items()
        }
        footprint["peak_mb"] = {
            name: cost["peak_rss_mb"]
            for name, cost in result["pipeline"]["throughput"]["programs"].items()
        }
        footprint["peak_mb"].update(
            {name: program.peak_rss / 2**20 for name, program in stack.programs.items()}
        )
        result["footprint"] = footprint
    finally:
        stack.close()
    return result


def _pipeline(stack: Stack, plan: Plan, baseline: float, footprint: dict) -> dict:
    default = pipeline.Layout("fused", 1)
    say(f"pipeline throughput ({default.name}, {plan.throughput_s:.0f} s)")
    tput = (default, "closed", pipeline.BACKLOG, plan.throughput_s, "tput", plan.seeded)
    best = pipeline.run(stack, *tput)
    footprint["idle_mb"].update(
        {k: v for k, v in memory(stack).items() if k not in footprint["idle_mb"]}
    )
    best["ratio_to_baseline"] = best["events_per_s"] / baseline
    _said(best)
    off = {"throughput": _not_durable(stack, *tput), "latency": {}}
    out = {"throughput": best, "latency": {}, "layouts": {default.name: _brief(best, baseline)}}
    for share in (50, 90):
        offered = best["events_per_s"] * share / 100
        say(f"pipeline latency at {share} % ({offered:.0f} events/s, {plan.latency_s:.0f} s)")
        lat = (default, "rate", offered, plan.latency_s, f"lat{share}", plan.seeded)
        run = pipeline.run(stack, *lat)
        _said(run)
        out["latency"][f"{share}%"] = run
        off["latency"][f"{share}%"] = _not_durable(stack, *lat)
    out["durable_batches"] = {
        "on": _compared(best, out["latency"]),
        "off": _compared(off["throughput"], off["latency"]),
        "events_per_s_on_over_off": best["events_per_s"] / off["throughput"]["events_per_s"],
    }
    for kind, workers in plan.layouts:
        layout = pipeline.Layout(kind, workers)
        say(f"layout {layout.name} ({plan.layout_s:.0f} s)")
        run = pipeline.run(
            stack, layout, "closed", pipeline.BACKLOG, plan.layout_s, layout.name, plan.seeded
        )
        _said(run)
        out["layouts"][layout.name] = _brief(run, baseline)
        pipeline.reset(stack, layout)
    return out


def _not_durable(stack: Stack, *args) -> dict:
    """``pipeline.run(stack, *args)`` again (the same stream) with ``durable_batches = false``."""
    say("  the same without durable batches")
    stack.mongo_conf(durable_batches="false")
    stack.restart_mongodb()
    try:
        run = pipeline.run(stack, *args)
    finally:
        stack.mongo_conf(durable_batches="true")
        stack.restart_mongodb()
    _said(run)
    return run


def _compared(throughput: dict, latency: dict) -> dict:
    """What a throughput run and its latency runs say of durable batches."""

    def journaled(run: dict) -> float:
        """The database's ms per 1,000 events in the journaled writes (each waits for a disk
        flush): the cost of durable batches, measured in the server."""
        return run["db_ms_per_1000_events"].get(f"{storage.DURABLE_MARKS}.update", 0.0)

    return {
        "events_per_s": throughput["events_per_s"],
        "late_events_per_s": throughput["late_events_per_s"],
        "journaled_ms_per_1000_events": journaled(throughput),
        "counts_match": throughput["counts_match"]
        and all(run["counts_match"] for run in latency.values()),
        "cpu_s_per_1000_events": {
            name: cost["cpu_s_per_1000_events"] for name, cost in throughput["programs"].items()
        },
        "latency_s": {
            share: {
                "offered_per_s": run["offered_per_s"],
                "events_per_s": run["events_per_s"],
                "journaled_ms_per_1000_events": journaled(run),
                **run["latency_s"],
            }
            for share, run in latency.items()
        },
    }


def _brief(run: dict, baseline: float) -> dict:
    return {
        "events_per_s": run["events_per_s"],
        "ratio_to_baseline": run["events_per_s"] / baseline,
        "counts_match": run["counts_match"],
        "cpu_s_per_1000_events": {
            name: cost["cpu_s_per_1000_events"] for name, cost in run["programs"].items()
        },
    }


def _said(run: dict) -> None:
    lat = run["latency_s"]
    counts = (
        "counts match" if run["counts_match"] else "COUNTS DIFFER: " + "; ".join(run["mismatches"])
    )
    latency = f"latency p50 {lat['p50']:.3f} s p99 {lat['p99']:.3f} s, " if lat["count"] else ""
    say(f"  {run['published']} events, {run['events_per_s']:.0f}/s end to end, {latency}{counts}")


def _profile(stack: Stack, plan: Plan) -> dict:
    folder = stack.prefix / "var" / "profile"
    folder.mkdir()
    names = {"engine": "engine-pipeline-0", "mongodb": "mongodb"}
    recorders: dict = {}

    def record(stack: Stack) -> None:
        for name, program in names.items():
            pid = stack.programs[program].proc.pid
            recorders[name] = profile.record(pid, plan.profile_s, folder / f"{name}.txt")

    layout = pipeline.Layout("fused", 1)
    pipeline.run(stack, layout, "closed", pipeline.BACKLOG, plan.profile_s, "profile", 0.0, record)
    for proc in recorders.values():
        proc.wait(60)
    return {name: profile.top(folder / f"{name}.txt") for name in names}


def _rest(stack: Stack, plan: Plan, footprint: dict, flowing: float) -> dict:
    """The REST API's figures; the storms with events flowing at ``flowing`` per second."""
    pipeline.reset(stack, None)
    for name in pipeline.CHAIN:
        stack.engine_conf(name, numprocs=1)
    stack.start_webserver()
    client = stack.mongo()
    db = stack.db(client)
    key = rest.api_key(db)
    time.sleep(1)
    footprint["idle_mb"]["webserver"] = memory(stack)["webserver"]
    say(f"  alarm queries with {', '.join(map(str, plan.levels))} open alarms")
    out = {"queries": rest.queries(stack, db, key, list(plan.levels), plan.repeat, plan.budget_s)}
    out["intake"] = {}
    pipeline.reset(stack, storm.LAYOUT)
    storm.LAYOUT.start(stack)
    key = rest.api_key(db)
    for batch in (1, 100):
        say(f"  POST /api/v2/event, batches of {batch}, the engines running")
        queues = storm.LAYOUT.queues()
        out["intake"][str(batch)] = rest.intake(stack, key, batch, plan.intake_s, queues)
    client.close()
    levels = ", ".join(map(str, plan.storms))
    say(f"  storm: {levels} open alarms just updated, {flowing:.0f} events/s flowing")
    out["storm"] = storm.run(stack, list(plan.storms), flowing, plan.repeat, plan.budget_s)
    return out


#: the commands that took the database longest, in the table
DB_ROWS = 6


def table(result: dict) -> str:
    """The short table of the headline numbers (Markdown)."""
    base = result["baseline"]
    rows = [
        ("measure", "value"),
        ("broker baseline, publish + consume (msg/s)", f"{base['end_to_end_per_s']:.0f}"),
        (
            "broker, publish waiting each confirm (msg/s)",
            f"{base['publish_each_confirmed_per_s']:.0f}",
        ),
        *_pipeline_rows(result["pipeline"]),
        *_durable_rows(result["pipeline"]["durable_batches"]),
        *_cost_rows(result["pipeline"]),
        *_rest_rows(result["rest"]),
        *_footprint_rows(result["footprint"]),
    ]
    return "\n".join(
        f"| {a} | {b} |" if i else f"| {a} | {b} |\n| --- | ---: |" for i, (a, b) in enumerate(rows)
    )


def _pipeline_rows(pipe: dict) -> Iterator[tuple[str, str]]:
    best = pipe["throughput"]
    yield "pipeline, default chain (events/s)", f"{best['events_per_s']:.0f}"
    yield "pipeline / baseline", f"{best['ratio_to_baseline']:.0%}"
    if best["late_events_per_s"] is not None:
        yield "pipeline, last third of the run (events/s)", f"{best['late_events_per_s']:.0f}"
    yield "events in = written out", "yes" if best["counts_match"] else "NO"
    for share, run in pipe["latency"].items():
        yield (
            f"latency at {share} ({run['offered_per_s']:.0f}/s): p50 / p95 / p99 / max (s)",
            _latencies(run["latency_s"]),
        )


def _durable_rows(durable: dict) -> Iterator[tuple[str, str]]:
    off, on = durable["off"], durable["on"]
    yield "pipeline without durable batches (events/s)", f"{off['events_per_s']:.0f}"
    yield "durable batches: events/s with / without", f"{durable['events_per_s_on_over_off']:.0%}"
    journaled = [
        on["journaled_ms_per_1000_events"],
        *(lat["journaled_ms_per_1000_events"] for lat in on["latency_s"].values()),
    ]
    yield (
        "durable batches: database ms per 1,000 events in the journaled writes, runs "
        + " / ".join(["throughput", *on["latency_s"]]),
        " / ".join(f"{ms:.0f}" for ms in journaled),
    )
    for share, lat in off["latency_s"].items():
        yield (
            f"latency at {share} ({lat['offered_per_s']:.0f}/s) without durable batches: "
            "p50 / p95 / p99 / max (s)",
            _latencies(lat),
        )
    yield "events in = written out, without durable batches", "yes" if off["counts_match"] else "NO"


def _cost_rows(pipe: dict) -> Iterator[tuple[str, str]]:
    best = pipe["throughput"]
    for name, layout in pipe["layouts"].items():
        yield f"layout {name} (events/s)", f"{layout['events_per_s']:.0f}"
    for name, cost in best["programs"].items():
        yield f"CPU s per 1,000 events: {name}", f"{cost['cpu_s_per_1000_events']:.2f}"
    for statement, ms in list(best["db_ms_per_1000_events"].items())[:DB_ROWS]:
        yield f"MongoDB ms per 1,000 events: {statement}", f"{ms:.0f}"
    commands = best.get("db_commands_per_1000_events", {})
    yield "MongoDB commands per 1,000 events", f"{sum(commands.values()):.0f}"
    for command, n in list(commands.items())[:DB_ROWS]:
        yield f"MongoDB commands per 1,000 events: {command}", f"{n:.0f}"
    yield "MongoDB update statements per 1,000 events", f"{best['db_updates_per_1000_events']:.0f}"


def _rest_rows(rest: dict) -> Iterator[tuple[str, str]]:
    for level, queries in rest["queries"].items():
        for query in ("default_list", "filtered_list", "counts", "single", "console_first_page"):
            yield _timed_row(f"{query}, {level} open alarms", queries[query])
    for batch, intake in rest["intake"].items():
        yield (
            f"POST /event, batches of {batch}, {intake['clients']} clients: processed end to "
            "end / accepted (events/s)",
            f"{intake['events_per_s']:.0f} / {intake['accepted_per_s']:.0f}",
        )
    for level, run in rest["storm"].items():
        flow = run["flow"]
        yield (
            f"storm {level}: events flowing, published / taken by the engines / offered (events/s)",
            f"{flow['events_per_s']:.0f} / {flow['taken_per_s']:.0f} / {run['offered_per_s']:.0f}",
        )
        for query in storm.QUERIES:
            yield _timed_row(f"storm {level}: {query}", run[query])


def _timed_row(label: str, q: dict) -> tuple[str, str]:
    """The row of a timed request: p50 / p95 in ms, or its error."""
    if "error" in q:
        return label, q["error"][:60]
    return f"{label}: p50 / p95 (ms)", f"{q['p50'] * 1000:.0f} / {q['p95'] * 1000:.0f}"


def _footprint_rows(foot: dict) -> Iterator[tuple[str, str]]:
    for name, idle in foot["idle_mb"].items():
        peak = foot["peak_mb"].get(name)
        yield (
            f"memory {name}: idle / peak (MB)",
            f"{idle:.0f} / {peak:.0f}" if peak else f"{idle:.0f}",
        )
    for name, seconds in foot["start_s"].items():
        if seconds is not None:
            yield f"start to ready: {name} (s)", f"{seconds:.1f}"


def _latencies(lat: dict) -> str:
    return f"{lat['p50']:.3f} / {lat['p95']:.3f} / {lat['p99']:.3f} / {lat['max']:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, about 2 minutes")
    parser.add_argument("--profile", action="store_true", help="add a run sampled by py-spy")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder of the JSON result")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run it as root: RabbitMQ runs as the rabbitmq user, as under supervisord")
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--output {args.output}: {exc.strerror}")
    if not os.access(args.output, os.W_OK):
        parser.error(f"--output {args.output}: not writable")
    if args.profile and profile.py_spy() is None:
        parser.error("--profile needs py-spy: .venv/bin/pip install -e '.[bench]'")
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    result = run(plan, args.profile)
    result["mode"] = "quick" if args.quick else "full"
    result["duration_s"] = time.monotonic() - started
    result = rounded(result)
    day = datetime.date.today().isoformat()
    path = args.output / f"{day}-{socket.gethostname()}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"\n{result['mode']} run in {result['duration_s']:.0f} s; results in {path}")
    failed = not result["pipeline"]["throughput"]["counts_match"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
