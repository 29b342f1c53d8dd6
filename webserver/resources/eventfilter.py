"""``/api/v2/eventfilter/rules``: the rules of the event filter (viewer reads, admin writes).

``GET`` lists the rules in evaluation order (priority, then ``_id``);
``POST`` creates one (the body is the rule, see :mod:`canopsis.domain.eventfilter`;
409 when its ``_id`` exists). ``GET``, ``PUT`` and ``DELETE`` of
``/api/v2/eventfilter/rules/{rule_id}`` read, replace and delete one; a
replaced rule keeps its stored ``hits``, ``drops``, ``last_hit`` and
``created``. The API stores ``author`` (who wrote it last), ``created`` and
``updated`` (epoch seconds); those, the engine's counters and the ``error`` it
writes into a stored rule it cannot compile cannot be sent.
"""

from canopsis.domain import eventfilter
from canopsis.domain.values import is_integer
from canopsis.store.eventfilter import COLLECTION
from canopsis.webserver.api import Api
from canopsis.webserver.documents import (
    Described,
    Kind,
    body_schema,
    stored_schema,
)


def _order(doc: dict) -> tuple:
    priority = doc.get("priority", 0)
    if not is_integer(priority):
        priority = 0
    return priority, str(doc["_id"])


RULES = Kind(
    noun="rule",
    collection=COLLECTION,
    validate=eventfilter.validate_rule,
    refused=eventfilter.METADATA_FIELDS,
    kept=("hits", "drops", "last_hit", "created"),
    order=_order,
)


PATH = "/api/v2/eventfilter/rules"


def routes(api: Api) -> list[tuple[str, object]]:
    return RULES.routes(api, PATH)


_RULE_BODY = body_schema(
    eventfilter.SCHEMA,
    eventfilter.METADATA_FIELDS,
    "A rule (see canopsis.domain.eventfilter); author, created, updated, hits, "
    "drops, last_hit and error are set by canopsis and refused here.",
)
_RULE = stored_schema(
    eventfilter.SCHEMA,
    "A stored rule with what canopsis adds (author, created, updated, "
    "and the engine's hits, drops, last_hit, and error when it skips the rule).",
)
_LISTED = "The rules in evaluation order (priority, then _id)"
OPENAPI = Described(RULES, "eventfilter", "EventfilterRule", _RULE_BODY, _RULE, _LISTED).paths(PATH)
