"""What each event-filter rule does to one event: the REST API's trial of an event.

:func:`trace` runs compiled rules (:func:`canopsis.domain.eventfilter.compile_rules`)
on an event as the engine does, with the same match and
:func:`~canopsis.domain.eventfilter.run_rule`, so the trial cannot differ from
:func:`~canopsis.domain.eventfilter.apply_rules`; it counts nothing and publishes
nothing (the caller only reads the rules). Its answer, JSON as it is::

    {"rules": [                 # every enabled rule, in evaluation order
        {"_id", "name", "priority",
         "outcome": "no match" | "matched" | "edited" | "dropped" | "not reached",
         "matched": bool,
         "changes": [{"field": "a.b", "kind": "added" | "removed" | "changed",
                      "before": ..., "after": ...}],   # before/after absent when so is the field
         "route": engine | None,  # the engine its route action names, when it matched
         "ends": "drop" | "pass" | "break" | None,    # evaluation ended after it
         "event": {...} | None},  # the event after it (None once dropped)
        ...],
     "dropped": bool, "dropped_by": rule id | None,
     "route": engine | None,      # where the event goes instead of the next engine
     "event": {...} | None,       # the event that leaves the filter (None when dropped)
     "skipped": [{"_id", "error"}]}  # stored rules that do not compile (the engine skips them)

``matched`` is a hit that changed nothing (a rule that only counts, routes or passes);
``not reached``: an earlier rule ended evaluation. Disabled rules are left out, as the
engine skips them. There is no budget of CPU time here (the engine's is its option):
patterns run on RE2, linear in the event's size.
"""

from collections.abc import Iterable

from canopsis.domain.eventfilter import Rule, RuleError, run_rule


def trace(
    rules: Iterable[Rule], event: dict, skipped: Iterable[tuple[str, RuleError]] = ()
) -> dict:
    """What ``rules`` (in evaluation order) do to ``event``, which is left unchanged, rule by
    rule; ``skipped``: the rules that did not compile, as compile_rules sets them aside."""
    steps: list[dict] = []
    current, route, dropped_by, ended = event, None, None, False
    for rule in rules:
        if not rule.enabled:
            continue
        if ended:
            step = _step(rule, "not reached", None if dropped_by is not None else current)
        elif not rule.pattern.matches(current):
            step = _step(rule, "no match", current)
        else:
            step = _matched(rule, current)
            ended = step["ends"] is not None
            if step["event"] is None:
                route, dropped_by = None, rule.id
            else:
                current, route = step["event"], rule.route or route
        steps.append(step)
    return {
        "rules": steps,
        "dropped": dropped_by is not None,
        "dropped_by": dropped_by,
        "route": route,
        "event": None if dropped_by is not None else current,
        "skipped": [{"_id": rule_id, "error": str(error)} for rule_id, error in skipped],
    }


def _step(rule: Rule, outcome: str, event: dict | None) -> dict:
    """The step of a rule that did not match or was not reached: nothing changed."""
    return {
        "_id": rule.id,
        "name": rule.name,
        "priority": rule.priority,
        "outcome": outcome,
        "matched": False,
        "changes": [],
        "route": None,
        "ends": None,
        "event": event,
    }


def _matched(rule: Rule, event: dict) -> dict:
    after = run_rule(rule, event)
    if after is None:
        outcome, ends, changes = "dropped", "drop", []
    else:
        changes = diff(event, after)
        outcome = "edited" if changes else "matched"
        ends = rule.end or ("break" if rule.stop else None)
    return {
        **_step(rule, outcome, after),
        "matched": True,
        "changes": changes,
        "route": rule.route,
        "ends": ends,
    }


def diff(before: dict, after: dict, prefix: str = "") -> list[dict]:
    """The fields that differ between two events, by dotted path (objects looked into;
    lists compared whole), in the order of ``before`` then the added ones."""
    if before is after:  # edits share what they do not change
        return []
    found: list[dict] = []
    for key in [*before, *(k for k in after if k not in before)]:
        path = f"{prefix}{key}"
        if key not in after:
            found.append({"field": path, "kind": "removed", "before": before[key]})
        elif key not in before:
            found.append({"field": path, "kind": "added", "after": after[key]})
        elif isinstance(before[key], dict) and isinstance(after[key], dict):
            found += diff(before[key], after[key], f"{path}.")
        elif before[key] is not after[key] and before[key] != after[key]:
            change = {"field": path, "kind": "changed"}
            found.append({**change, "before": before[key], "after": after[key]})
    return found
