"""``send_event``: publish one event to canopsis.

The event comes from options (``--connector``, ``--component``, ``--state``,
..., ``--field key=value`` for any other key, the value read as JSON when it
is JSON and as a string otherwise), from ``--file F`` (a JSON object), or
from standard input when neither is given; options override the file's
fields. ``source_type`` defaults to ``resource`` when there is a resource and
``component`` otherwise. The event is checked first: a bad event gets every
problem on stderr, one ``field: reason`` per line, and exit status 2. A good
one is published to ``canopsis.events`` with its routing key, confirmed by the
broker, and exit status is 0; 1 when the broker cannot be reached or refuses
publishes (a disk or memory alarm, named: "the broker refuses publishes: disk
alarm"), said within seconds.
"""

import argparse
import json
import logging
import sys
import time

from canopsis import amqp, config, engine, event
from canopsis.cli.common import Parser, fail

NAME = "send_event"
TEXT_FIELDS = (
    "connector",
    "connector_name",
    "event_type",
    "source_type",
    "component",
    "resource",
    "output",
    "long_output",
    "perf_data",
    "author",
    "ticket",
)
INT_FIELDS = ("state", "state_type", "duration")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog=NAME, description=__doc__.splitlines()[0])
    for name in TEXT_FIELDS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name)
    for name in INT_FIELDS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int)
    parser.add_argument("--timestamp", type=float)
    parser.add_argument("--tag", dest="tags", action="append", help="a tag (repeatable)")
    parser.add_argument("--field", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--file", metavar="F", help="a JSON event ('-': standard input)")
    parser.add_argument("--dry-run", action="store_true", help="check only, do not publish")
    return parser.parse_args(argv)


def build(args: argparse.Namespace, stdin=None) -> object:
    """The raw event from the file or stdin and the options; ValueError for unreadable input."""
    fields = {name: getattr(args, name) for name in (*TEXT_FIELDS, *INT_FIELDS, "timestamp")}
    fields = {k: v for k, v in fields.items() if v is not None}
    if args.tags:
        fields["tags"] = args.tags
    for item in args.field:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--field {item!r}: expected KEY=VALUE")
        try:
            fields[key] = json.loads(value)
        except ValueError:
            fields[key] = value
    raw: object = {}
    if args.file or not fields:
        source = args.file or "-"
        try:
            if source == "-":
                text = (stdin or sys.stdin).read()
            else:
                with open(source, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as exc:
            raise ValueError(f"{source}: cannot read: {exc.strerror or exc}") from None
        try:
            raw = json.loads(text)
        except ValueError as exc:
            where = "standard input" if source == "-" else source
            raise ValueError(f"{where}: not JSON: {exc}") from None
    if isinstance(raw, dict):
        raw = {**raw, **fields}
        if "source_type" not in raw and "component" in raw:
            raw["source_type"] = "resource" if "resource" in raw else "component"
    return raw


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    args = parse(argv)
    try:
        raw = build(args)
    except ValueError as exc:
        return fail(NAME, str(exc), 2)
    normalized, errors = event.normalize(raw, time.time())
    if errors:
        for error in errors:
            print(str(error), file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(normalized, indent=2))
        return 0
    try:
        cfg = config.load("amqp")
        body = json.dumps(normalized, ensure_ascii=False)
        amqp.publish_events(cfg, [(body, normalized["routing_key"])], engine.entry_declarer(cfg))
    except (config.ConfigError, amqp.Blocked) as exc:
        return fail(NAME, str(exc), 1)
    except Exception as exc:
        return fail(NAME, f"cannot publish: {type(exc).__name__}: {exc}", 1)
    print(f"sent {normalized['routing_key']}")
    return 0
