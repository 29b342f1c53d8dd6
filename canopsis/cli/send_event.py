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

from canopsis.cli.common import Parser, fail
from canopsis.domain import event
from canopsis.ops import config
from canopsis.runtime import amqp, topology

NAME = "send_event"
#: the event's fields an option sets, with what the option's help says of them
TEXT_FIELDS = {
    "connector": "kind of the sending tool (nagios, collectd, ...)",
    "connector_name": "which instance of it (e.g. nagios-paris)",
    "event_type": "check, perf, log, heartbeat, or an action: ack, ackremove, cancel, "
    "uncancel, snooze, declareticket, assocticket, changestate, comment",
    "source_type": "component or resource (default: resource when --resource is given)",
    "component": "the host or application the event is about",
    "resource": "the service of the component (a check, a disk, ...)",
    "output": "the message (one line)",
    "long_output": "more text",
    "perf_data": "Nagios perf data: 'label=value[UOM];warn;crit;min;max ...'",
    "author": "who acts (actions)",
    "ticket": "the ticket number (declareticket, assocticket)",
}
INT_FIELDS = {
    "state_type": "0 soft, 1 hard",
    "duration": "seconds (snooze)",
}
#: Nagios state names ``--state`` accepts besides numbers
NAGIOS_STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def state(text: str) -> int:
    """A state as a number or a Nagios state name (any case)."""
    try:
        return NAGIOS_STATES[text.upper()] if text.upper() in NAGIOS_STATES else int(text)
    except ValueError:
        names = ", ".join(NAGIOS_STATES)
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 0 to 3 or a Nagios state name ({names})"
        ) from None


def parse(argv: list[str] | None) -> argparse.Namespace:
    return options().parse_args(argv)


def options() -> argparse.ArgumentParser:
    """The command line of ``send_event``, each option with its help."""
    parser = Parser(prog=NAME, description=__doc__.splitlines()[0].replace("``", ""))
    for name, text in TEXT_FIELDS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=text)
    parser.add_argument(
        "--state",
        type=state,
        help="0 info/OK, 1 minor/WARNING, 2 major/CRITICAL, 3 critical/UNKNOWN: a number or a "
        "Nagios state name (checks)",
    )
    for name, text in INT_FIELDS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, help=text)
    parser.add_argument("--timestamp", type=float, help="epoch seconds (default: now)")
    parser.add_argument("--tag", dest="tags", action="append", help="a tag (repeatable)")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other field, VALUE read as JSON when it is JSON (repeatable)",
    )
    parser.add_argument("--file", metavar="F", help="a JSON event ('-': standard input)")
    parser.add_argument("--dry-run", action="store_true", help="check only, do not publish")
    return parser


def build(args: argparse.Namespace, stdin=None) -> object:
    """The raw event from the file or stdin and the options; ValueError for unreadable input."""
    names = (*TEXT_FIELDS, "state", *INT_FIELDS, "timestamp")
    fields = {name: getattr(args, name) for name in names}
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
        amqp.publish_events(cfg, [(body, normalized["routing_key"])], topology.entry_declarer(cfg))
    except (config.ConfigError, amqp.Blocked) as exc:
        return fail(NAME, str(exc), 1)
    except Exception as exc:
        return fail(NAME, f"cannot publish: {type(exc).__name__}: {exc}", 1)
    print(f"sent {normalized['routing_key']}")
    return 0
