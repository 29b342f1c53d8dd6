"""The event filter: drops, routes or edits events by the rules of ``eventfilter_rules``.

The rules and their evaluation are :mod:`canopsis.domain.eventfilter`'s. The engine
loads every rule document at start and again on every beat, so a rule added,
changed or removed in MongoDB takes effect within ``beat_interval`` seconds.
A stored rule that does not compile (written straight into MongoDB, or by an
older version whose patterns RE2 refuses) is skipped; the other rules still
apply. It is logged once (its id and every reason) and the reason is written
into its document's ``error`` field, which the rules API shows; the field is
removed once the rule compiles again. When MongoDB cannot be read at a beat,
the rules loaded before are kept.

For each event, :func:`~canopsis.domain.eventfilter.apply_rules` decides:

- dropped: nothing passes on. Dropping is what the rule's author asked for,
  so it is no dead letter; it is counted on the rule that dropped it;
- routed: the edited event goes to the rule's engine instead of the next one;
- otherwise the edited event goes to the next engine of the chain;
- the rules took more than ``rules_budget_ms`` of CPU time on it
  (``[options]``, 250 ms by default): it goes to the dead letters with that
  reason (logged, one line), and the next events go on.

Each rule document counts what it did: ``hits`` (events it matched),
``drops`` (events it dropped) and ``last_hit`` (when it last matched, UTC),
written by :meth:`EventFilter.flush` in one ``bulk_write``; the engine's own
check carries ``dropped``, the events dropped since the last beat. A rule deleted
in the meantime is not brought back. These counters are statistics and not
idempotent: a batch redelivered after a crash is counted again.
"""

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import PyMongoError

from canopsis.domain.event import FieldError
from canopsis.domain.eventfilter import OverBudget, Rule, apply_rules, compile_rules
from canopsis.runtime.engine import Engine, Routed
from canopsis.store.eventfilter import COLLECTION

log = logging.getLogger(__name__)

#: fields the engine writes into rule documents, left out when rules are compiled
COUNTER_FIELDS = ("drops", "last_hit")


class EventFilter(Engine):
    options_spec = "rules_budget_ms = float(min=0.01, max=60000, default=250)"

    def __init__(self, name: str, options: dict[str, Any], db: Database) -> None:
        super().__init__(name, options, db)
        self.rules: list[Rule] = []
        self.budget = options["rules_budget_ms"] / 1000
        #: why each stored rule that does not compile is skipped, by rule id
        self.skipped: dict[str, str] = {}
        self._hits: Counter[str] = Counter()
        self._drops: Counter[str] = Counter()
        self._last_hit: dict[str, float] = {}

    def setup(self) -> None:
        self.reload()

    def beat(self, now: float) -> None:
        try:
            self.reload()
        except PyMongoError as exc:
            reason = str(exc)[:160]
            log.warning(
                "%s: rules not reloaded (%s), keeping %d", self.name, reason, len(self.rules)
            )

    def reload(self) -> None:
        """Load every rule of ``eventfilter_rules``; set or clear the ``error`` of each."""
        projection = dict.fromkeys(COUNTER_FIELDS, 0)
        docs = list(self.db[COLLECTION].find({}, projection))
        self.use_rules(docs)
        writes = []
        for doc in docs:
            rule_id = str(doc.get("_id"))
            reason = self.skipped.get(rule_id)
            if doc.get("error") == reason:
                continue
            change = {"$set": {"error": reason}} if reason else {"$unset": {"error": ""}}
            writes.append(UpdateOne({"_id": doc.get("_id")}, change))
        if writes:
            self.db[COLLECTION].bulk_write(writes, ordered=False)

    def use_rules(self, docs: Iterable[object]) -> None:
        """Apply the rule documents ``docs`` from now on; skip those that fail, logging each
        once (again when its reason changes)."""
        rules, failed = compile_rules(docs)
        skipped = {rule_id: str(error) for rule_id, error in failed}
        for rule_id, reason in skipped.items():
            if self.skipped.get(rule_id) != reason:
                log.warning("%s: rule %s skipped: %s", self.name, rule_id, reason)
        self.rules, self.skipped = rules, skipped

    def work(self, event: dict) -> dict | Routed | None:
        try:
            verdict = apply_rules(self.rules, event, self.budget)
        except OverBudget as exc:
            log.warning("%s: event %s dead-lettered: %s", self.name, event.get("event_id"), exc)
            self.refuse(json.dumps(event, ensure_ascii=False), [FieldError("", str(exc))])
            return None
        if verdict.hits:
            now = time.time()
            for rule_id in verdict.hits:
                self._hits[rule_id] += 1
                self._last_hit[rule_id] = now
        if verdict.dropped:
            self._drops[verdict.hits[-1]] += 1
            self.counters["dropped"] += 1
            log.debug(
                "%s: event %s dropped by rule %s",
                self.name,
                event.get("event_id"),
                verdict.hits[-1],
            )
            return None
        if verdict.route is not None:
            return Routed(verdict.route, verdict.event)
        return verdict.event

    def flush(self) -> None:
        writes = []
        for rule_id, hits in self._hits.items():
            inc = {"hits": hits}
            if self._drops[rule_id]:
                inc["drops"] = self._drops[rule_id]
            last_hit = datetime.fromtimestamp(self._last_hit[rule_id], UTC)
            writes.append(
                UpdateOne({"_id": rule_id}, {"$inc": inc, "$max": {"last_hit": last_hit}})
            )
        if writes:
            self.db[COLLECTION].bulk_write(writes, ordered=False)
        self.discard()

    def discard(self) -> None:
        self._hits.clear()
        self._drops.clear()
        self._last_hit.clear()
