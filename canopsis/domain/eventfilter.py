"""The rules of the ``event_filter`` engine: drop, pass, route or edit events.

A rule is a plain document of the ``eventfilter_rules`` collection::

    {"_id": "tag-prod-disks",          # required, a non-empty string
     "name": "Tag production disks",   # optional, defaults to the _id
     "description": "...",             # optional, free text
     "priority": 10,                   # optional int, default 0; lower runs first, ties by _id
     "enabled": true,                  # optional, default true; a disabled rule is skipped
     "match": {"resource": {"$regex": "^disk", "$options": "i"}},   # required, see domain.match
     "actions": [                      # required, may be empty (a rule that only counts hits)
         {"type": "set", "field": "site", "value": "paris"},   # any JSON value; dotted paths
         {"type": "remove", "field": "extra.debug"},
         {"type": "add_tag", "value": "prod"},
         {"type": "route", "engine": "ticketing"},
         {"type": "drop"} or {"type": "pass"}                  # last action only
     ],
     "break": false}                   # optional, default false

``author``, ``created``, ``updated``, ``hits``, ``drops``, ``last_hit`` and
``error`` may be stored with a rule (by the REST API and the engine; ``error``
says why the engine skips a stored rule that does not compile) and are ignored
here; any other key is an error, so that a misspelt ``brake`` does not go
unnoticed. :data:`SCHEMA` says the same in JSON Schema (the REST API validates
and publishes it); what it cannot say (the pattern, the fields an action may
change, what follows a drop or a pass) is checked after it.

Evaluation (:func:`apply_rules`): rules run in order (priority, then _id),
each on the event as the rules before it left it. A rule whose pattern
matches counts a hit and runs its actions in order:

- ``set`` a field (creating missing objects along a dotted path; nothing
  happens when the path crosses a value that is not an object), ``remove``
  one (nothing happens when it is absent), ``add_tag`` (creates ``tags`` when
  missing, never adds a tag twice);
- ``route``: the event leaves the filter for that engine instead of the
  default next one; a later ``route`` wins;
- ``drop``: evaluation ends and the event is dropped;
- ``pass``: evaluation ends and the event leaves as it is, with the route
  chosen so far;

then ``break: true`` ends evaluation after that rule (when it matched).
:func:`run_rule` is what one matched rule does; :mod:`canopsis.domain.eventfilter_trace`
tells it rule by rule (the REST API's trial of an event).

Evaluation has a budget of CPU time per event: past it,
:class:`OverBudget` is raised after the rule that crossed it. Patterns run on
RE2 (:mod:`canopsis.domain.match`), linear in the event's size, so only many rules on
a large event can cross it.

The fields that identify an event's entity and routing key
(:data:`IDENTITY_FIELDS`) cannot be set or removed: a rule never moves an
event to another entity or makes it invalid. ``state`` and ``timestamp``
cannot be removed, and ``set`` checks the fields other engines rely on:
``state`` 0 to 3, ``timestamp`` a number, ``tags`` a list of strings.

The input event is never changed: edits build new objects along the edited
path, and the result shares untouched values with the input.
"""

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from canopsis.domain import schemas
from canopsis.domain.match import (
    FieldError,
    Pattern,
    PatternError,
    ValidationError,
    compile_pattern,
)
from canopsis.domain.values import is_integer, is_number

IDENTITY_FIELDS = frozenset(
    {"connector", "connector_name", "event_type", "source_type", "component", "resource"}
)
METADATA_FIELDS = frozenset({"author", "created", "updated", "hits", "drops", "last_hit", "error"})

Edit = Callable[[dict], dict]

_ACTION_FIELDS = {
    "set": ("field", "value"),
    "remove": ("field",),
    "add_tag": ("value",),
    "route": ("engine",),
    "drop": (),
    "pass": (),
}
_UNREMOVABLE = IDENTITY_FIELDS | {"state", "timestamp"}
_SET_CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    "state": (lambda v: is_integer(v) and 0 <= v <= 3, "expected 0, 1, 2 or 3"),
    "timestamp": (
        is_number,
        "expected a number (epoch seconds)",
    ),
    "tags": (
        lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
        "expected a list of strings",
    ),
}
#: rules evaluated between two reads of the clock of the budget (a read costs about 0.7 µs)
CLOCK_EVERY = 8

_NAME = {"type": "string", "minLength": 1, "x-expected": "a non-empty string"}
_ACTION_VALUES = {
    "field": {
        "type": "string",
        "minLength": 1,
        "description": "a dotted field path (set, remove)",
        "x-expected": "a field path",
    },
    "value": {"description": "any JSON value (set), a non-empty string (add_tag)"},
    "engine": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]+$",
        "not": {"enum": ["cleaner", "event_filter"]},
        "description": "the engine the event goes to instead of the next one (route)",
        "x-expected": "an engine name other than cleaner and event_filter (a loop)",
    },
}


def _action_schema() -> dict:
    """The schema of an action: its type, and the fields of that type (:data:`_ACTION_FIELDS`)."""
    cases = [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": kind}}},
            "then": {
                "required": list(fields),
                "additionalProperties": False,
                "properties": {
                    "type": {},
                    **{key: _NAME if kind == "add_tag" else _ACTION_VALUES[key] for key in fields},
                },
            },
        }
        for kind, fields in _ACTION_FIELDS.items()
    ]
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": sorted(_ACTION_FIELDS)}, **_ACTION_VALUES},
        "allOf": cases,
    }


SCHEMA = schemas.object_schema(
    {
        "_id": _NAME,
        "name": _NAME,
        "description": {"type": "string"},
        "priority": {"type": "integer"},
        "enabled": {"type": "boolean"},
        "match": schemas.PATTERN,
        "actions": {"type": "array", "items": _action_schema()},
        "break": {"type": "boolean"},
        **{key: {"description": "set by canopsis"} for key in sorted(METADATA_FIELDS)},
        "error": {
            "type": "string",
            "description": "why the engine skips this stored rule (it does not compile)",
        },
    },
    ["_id", "match", "actions"],
    "An event-filter rule (see canopsis.domain.eventfilter).",
)


class RuleError(ValidationError):
    """A rule that cannot be used."""


class OverBudget(Exception):
    """The rules took more than their budget of CPU time on one event."""

    def __init__(self, budget: float, rule_id: str, evaluated: int) -> None:
        super().__init__(
            f"the event filter rules took more than {budget * 1000:g} ms of CPU time on this "
            f"event (stopped after {evaluated} rules, the last one {rule_id})"
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule; ``edits`` are its set/remove/add_tag actions in order."""

    id: str
    name: str
    priority: int
    enabled: bool
    pattern: Pattern
    edits: tuple[Edit, ...]
    route: str | None  # the engine of its last route action
    end: str | None  # "drop", "pass" or None
    stop: bool  # the rule's "break"

    @property
    def ends(self) -> bool:
        """Whether evaluation ends after this rule when it matches."""
        return self.end is not None or self.stop


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules made of an event: ``event`` is None when it is dropped."""

    event: dict | None
    route: str | None
    hits: list[str]

    @property
    def dropped(self) -> bool:
        return self.event is None


def validate_rule(doc: object) -> list[FieldError]:
    """Every problem of a rule document (empty when it is valid), for a 400 response."""
    return _compile(doc)[1]


def compile_rule(doc: object) -> Rule:
    """Compile one rule document; raise :class:`RuleError` naming every problem."""
    rule, errors = _compile(doc)
    if errors:
        raise RuleError(errors)
    assert rule is not None
    return rule


def compile_rules(docs: Iterable[object]) -> tuple[list[Rule], list[tuple[str, RuleError]]]:
    """Compile stored rules in evaluation order; a bad rule is set aside, not fatal."""
    rules, failed = [], []
    for doc in docs:
        try:
            rules.append(compile_rule(doc))
        except RuleError as exc:
            failed.append((str(doc.get("_id")) if isinstance(doc, dict) else repr(doc), exc))
    rules.sort(key=lambda r: (r.priority, r.id))
    return rules, failed


def apply_rules(rules: Iterable[Rule], event: dict, budget: float | None = None) -> Verdict:
    """Run ``rules`` (in the given order) on ``event``, which is left unchanged.

    ``budget``: seconds of CPU time the evaluation may take, checked every
    :data:`CLOCK_EVERY` rules and at the end; :class:`OverBudget` past it.
    """
    start = time.thread_time()
    hits: list[str] = []
    route = None
    evaluated = 0
    last = ""

    def check() -> None:
        if budget is not None and time.thread_time() - start > budget:
            raise OverBudget(budget, last, evaluated)

    for rule in rules:
        if not rule.enabled:
            continue
        matched = rule.pattern.matches(event)
        evaluated, last = evaluated + 1, rule.id
        if evaluated % CLOCK_EVERY == 0:
            check()
        if not matched:
            continue
        hits.append(rule.id)
        after = run_rule(rule, event)
        if after is None:
            event, route = None, None
            break
        event = after
        if rule.route is not None:
            route = rule.route
        if rule.ends:
            break
    if evaluated:
        check()
    return Verdict(event, route, hits)


def run_rule(rule: Rule, event: dict) -> dict | None:
    """What ``rule``, which matched ``event``, makes of it: the edited event (a new one when
    an edit changed it), or None when the rule drops it. The engine's evaluation and the
    REST API's trial (:mod:`canopsis.domain.eventfilter_trace`) both apply rules with it."""
    for edit in rule.edits:
        event = edit(event)
    return None if rule.end == "drop" else event


def _compile(doc: object) -> tuple[Rule | None, list[FieldError]]:
    errors = schemas.problems(SCHEMA, doc)
    if not isinstance(doc, dict):
        return None, errors
    pattern = None
    if "match" not in schemas.refused(errors):
        try:
            pattern = compile_pattern(doc["match"], "match")
        except PatternError as exc:
            errors.extend(exc.errors)
    edits, route, end = _actions(doc.get("actions"), errors)
    if errors or pattern is None:
        return None, errors
    rule_id = doc["_id"]
    enabled, stop = doc.get("enabled", True), doc.get("break", False)
    name, priority = doc.get("name", rule_id), doc.get("priority", 0)
    return Rule(rule_id, name, priority, enabled, pattern, edits, route, end, stop), errors


def _actions(
    actions: object, errors: list[FieldError]
) -> tuple[tuple[Edit, ...], str | None, str | None]:
    """The edits, route and end of the actions the schema accepted; what follows an end
    never runs."""
    edits: list[Edit] = []
    route = end = None
    refused = {error.field for error in errors}
    for i, action in enumerate(actions if isinstance(actions, list) else []):
        at = f"actions.{i}"
        if end is not None:
            errors.append(FieldError(at, f"never runs: it follows {end}"))
            continue
        kind = action.get("type") if isinstance(action, dict) else None
        bad = any(field == at or field.startswith(f"{at}.") for field in refused)
        if kind in ("drop", "pass"):
            end = kind
        elif kind in ("set", "remove") and f"{at}.field" not in refused:
            edit = _edit(kind, action, at, errors)
            if edit is not None and not bad:
                edits.append(edit)
        elif bad:
            continue
        elif kind == "route":
            route = action["engine"]
        elif kind == "add_tag":
            edits.append(lambda event, tag=action["value"]: _add_tag(event, tag))
    return tuple(edits), route, end


def _edit(kind: str, action: dict, at: str, errors: list[FieldError]) -> Edit | None:
    """The edit of a set or remove action whose field the schema accepted, or None after
    noting the problems of its path."""
    before = len(errors)
    path = action["field"]
    parts = tuple(path.split("."))
    if not all(parts) or any(p.startswith("$") for p in parts):
        reason = "bad field path (an empty part or a part starting with $)"
        errors.append(FieldError(f"{at}.field", reason))
    elif parts[0] in IDENTITY_FIELDS:
        reason = f"{parts[0]} identifies the event and cannot be changed"
        errors.append(FieldError(f"{at}.field", reason))
    elif kind == "remove" and path in _UNREMOVABLE:
        errors.append(FieldError(f"{at}.field", f"{path} cannot be removed"))
    elif kind == "set" and path in _SET_CHECKS and "value" in action:
        check, expected = _SET_CHECKS[path]
        if not check(action["value"]):
            errors.append(FieldError(f"{at}.value", expected))
    if len(errors) > before or (kind == "set" and "value" not in action):
        return None  # a missing value is the schema's to name
    if kind == "remove":
        return lambda event: _remove_in(event, parts)
    value = action["value"]
    if isinstance(value, dict | list):  # each event gets its own copy
        return lambda event: _set_in(event, parts, copy.deepcopy(value))
    return lambda event: _set_in(event, parts, value)


def _set_in(doc: dict, parts: tuple[str, ...], value: object) -> dict:
    head, rest = parts[0], parts[1:]
    if not rest:
        return {**doc, head: value}
    child = doc.get(head)
    if child is None:
        child = {}
    elif not isinstance(child, dict):
        return doc
    return {**doc, head: _set_in(child, rest, value)}


def _remove_in(doc: dict, parts: tuple[str, ...]) -> dict:
    head, rest = parts[0], parts[1:]
    if head not in doc:
        return doc
    if not rest:
        return {k: v for k, v in doc.items() if k != head}
    child = doc[head]
    new_child = _remove_in(child, rest) if isinstance(child, dict) else child
    return doc if new_child is child else {**doc, head: new_child}


def _add_tag(event: dict, tag: str) -> dict:
    tags = event.get("tags")
    if isinstance(tags, list):
        return event if tag in tags else {**event, "tags": [*tags, tag]}
    current = [] if tags is None else [tags]  # a lone value becomes the first tag
    return {**event, "tags": current if tag in current else [*current, tag]}
