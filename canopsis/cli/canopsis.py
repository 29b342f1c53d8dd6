"""``canopsis``: operator commands.

``canopsis deadletters list [--limit N]``: the refused events, newest first,
one line each (id, time, engine, routing key, first reason).
``canopsis deadletters show ID``: one dead letter in full (JSON).
``canopsis deadletters replay ID``: publish its raw body again to
``canopsis.events`` with its routing key (confirmed), then delete it.
``canopsis deadletters purge [--before DATE]``: delete them (those refused
before DATE, ISO 8601, UTC when no zone is given).
"""

import argparse
import json
import logging
import sys
from datetime import UTC, datetime

from canopsis.cli.common import Parser, fail
from canopsis.ops import config
from canopsis.runtime import amqp, deadletters, storage, topology

NAME = "canopsis"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog=NAME, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dead = commands.add_parser("deadletters", help="events canopsis refused")
    actions = dead.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the dead letters, newest first")
    listing.add_argument("--limit", type=int, default=100)
    actions.add_parser("show", help="one dead letter in full").add_argument("id")
    actions.add_parser("replay", help="send one through again").add_argument("id")
    purge = actions.add_parser("purge", help="delete dead letters")
    purge.add_argument("--before", type=_date, metavar="DATE")
    return parser.parse_args(argv)


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _summary(doc: dict) -> str:
    reasons = doc.get("reasons") or [{"field": "", "reason": "?"}]
    first = reasons[0]
    reason = f"{first['field']}: {first['reason']}" if first["field"] else first["reason"]
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    when = doc["time"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{doc['_id']}  {when}  {doc['engine']}  {doc['routing_key'] or '-'}  {reason}{more}"


def _shown(doc: dict) -> str:
    doc = dict(doc, time=doc["time"].astimezone(UTC).isoformat())
    return json.dumps(doc, indent=2, ensure_ascii=False)


def deadletters_command(args: argparse.Namespace) -> int:
    db = storage.database()
    if args.action == "list":
        for doc in deadletters.listing(db, args.limit):
            print(_summary(doc))
        return 0
    if args.action == "show":
        doc = deadletters.get(db, args.id)
        if doc is None:
            return fail(NAME, f"no dead letter {args.id!r}")
        print(_shown(doc))
        return 0
    if args.action == "replay":
        cfg = config.load("amqp")

        def publish(body: bytes, routing_key: str) -> None:
            amqp.publish_events(cfg, [(body, routing_key)], topology.entry_declarer(cfg))

        try:
            doc = deadletters.replay(db, args.id, publish)
        except deadletters.Unreplayable as exc:
            return fail(NAME, str(exc))
        if doc is None:
            return fail(NAME, f"no dead letter {args.id!r}")
        print(f"replayed {args.id} ({doc['routing_key'] or '-'})")
        return 0
    count = deadletters.purge(db, args.before)
    print(f"purged {count} dead letters")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return deadletters_command(args)
    except config.ConfigError as exc:
        return fail(NAME, str(exc), 2)
    except Exception as exc:
        return fail(NAME, f"{type(exc).__name__}: {exc}", 1)
