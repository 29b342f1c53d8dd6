"""A MongoDB-like match language on documents (events, entities).

A pattern is a document whose keys are field paths and whose values are a
value to compare with or an object of operators, exactly as in a MongoDB
query::

    {"component": "web1",
     "state": {"$gte": 2},
     "resource": {"$regex": "^disk", "$options": "i"},
     "connector": {"$in": ["nagios", "icinga"]},
     "tags": "prod",
     "$or": [{"output": {"$regex": "timeout"}}, {"site": {"$exists": True}}]}

Supported, with MongoDB's meaning:

- field paths: a key, or a dotted path into nested objects (``infos.site``);
  a path crossing a list of objects looks into each of them, and a numeric
  part indexes a list (``perf_data_array.0.value``);
- values (a bare value or ``$eq``, ``$ne``, ``$in``, ``$nin``): strings,
  numbers, booleans and null. ``1`` equals ``1.0``, ``true`` is not ``1``,
  ``"5"`` is not ``5``; a field that is a list matches when one of its
  elements matches (``"tags": "prod"`` means "tags contains prod"); null
  matches a missing field as well as a null one; ``$ne``/``$nin`` match a
  missing field;
- ``$gt``, ``$gte``, ``$lt``, ``$lte``: the operand must be a number, and only
  numbers match (not ``"5"``, not ``true``);
- ``$regex`` (RE2 syntax, searched anywhere in the string unless anchored)
  with ``$options`` among ``i``, ``m``, ``s``; only strings match. RE2 takes
  time linear in the length of the string whatever the pattern, so no rule
  can make an engine backtrack for ever on an event (``(a+)+$`` included); it
  has the usual syntax of Python's ``re`` and MongoDB's PCRE but no
  backreferences (``\\1``), no lookaround (``(?=``, ``(?!``, ``(?<=``), no
  ``x`` option and repetitions up to ``{1000}``: such a pattern is refused
  with RE2's reason;
- ``$exists``: true or false (a field set to null exists);
- ``$not``: an object of operators, negated;
- ``$and``, ``$or``, ``$nor``: non-empty lists of patterns.

Anything else (another operator, an object or list as a value to compare
with, a comparison with a non-number, a bad regex) is refused by
:func:`compile_pattern` with every problem, so an accepted pattern is also a
valid MongoDB filter with the same meaning: :meth:`Pattern.to_mongo` gives it
to pymongo as is. The one difference is the regex dialect (RE2 against
MongoDB's PCRE), which agree on the usual syntax.

A pattern is compiled once into closures (regexes compiled once, sets for
``$in``), so :meth:`Pattern.matches` does no parsing per document.
"""

import copy
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import re2

from canopsis.domain.values import is_comparable_number

Test = Callable[[dict], bool]
ValueTest = Callable[[object], bool]

_MISSING = object()
_LOGICAL = ("$and", "$or", "$nor")
_COMPARISONS = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_REGEX_OPTIONS = "ims"  # RE2's flags, given as (?ims) before the pattern
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the user's error, reported to them
_VALUE = "expected a string, number, boolean or null"


class FieldError(NamedTuple):
    """One problem in a user's document: where (a dotted path) and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class ValidationError(ValueError):
    """A user's document that cannot be used; ``errors`` lists every problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors


class PatternError(ValidationError):
    """A pattern that cannot be compiled."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: ``matches(doc)`` tells whether ``doc`` matches."""

    spec: dict
    matches: Test = field(repr=False, compare=False)

    def to_mongo(self) -> dict:
        """The pattern as a MongoDB filter (the same document)."""
        return copy.deepcopy(self.spec)


def compile_pattern(spec: object, path: str = "match") -> Pattern:
    """Compile ``spec``; raise :class:`PatternError` naming every problem under ``path``."""
    errors: list[FieldError] = []
    test = _document(spec, path, errors)
    if errors:
        raise PatternError(errors)
    return Pattern(copy.deepcopy(spec), test)


def _never(_: object) -> bool:
    return False


def _all(tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]

    def test(doc: dict) -> bool:
        return all(t(doc) for t in tests)

    return test


def _any(tests: list[Test]) -> Test:
    def test(doc: dict) -> bool:
        return any(t(doc) for t in tests)

    return test


def _negate(test: Test) -> Test:
    return lambda doc: not test(doc)


def _document(spec: object, path: str, errors: list[FieldError]) -> Test:
    if not isinstance(spec, dict):
        errors.append(FieldError(path, "expected an object"))
        return _never
    tests = []
    for key, value in spec.items():
        where = f"{path}.{key}"
        if not isinstance(key, str):
            errors.append(FieldError(where, "expected a string key"))
        elif key in _LOGICAL:
            tests.append(_logical(key, value, where, errors))
        elif key.startswith("$"):
            errors.append(
                FieldError(where, "unknown operator (expected a field, $and, $or or $nor)")
            )
        else:
            tests.append(_field(key, value, where, errors))
    return _all(tests)


def _logical(op: str, items: object, where: str, errors: list[FieldError]) -> Test:
    if not isinstance(items, list) or not items:
        errors.append(FieldError(where, "expected a non-empty list of patterns"))
        return _never
    tests = [_document(item, f"{where}.{i}", errors) for i, item in enumerate(items)]
    if op == "$and":
        return _all(tests)
    return _any(tests) if op == "$or" else _negate(_any(tests))


def _field(key: str, spec: object, where: str, errors: list[FieldError]) -> Test:
    parts = tuple(key.split("."))
    if not all(parts) or any(p.startswith("$") for p in parts):
        errors.append(FieldError(where, "bad field path (an empty part or a part starting with $)"))
        return _never
    return _conditions(parts, spec, where, errors)


def _is_operators(spec: object) -> bool:
    return isinstance(spec, dict) and any(isinstance(k, str) and k.startswith("$") for k in spec)


def _conditions(parts: tuple[str, ...], spec: object, where: str, errors: list[FieldError]) -> Test:
    """The test of one field: a value to equal, or an object of operators all true."""
    if not _is_operators(spec):
        return _on(parts, _equals([spec], where, errors))
    assert isinstance(spec, dict)
    if "$options" in spec and "$regex" not in spec:
        errors.append(FieldError(f"{where}.$options", "$options without $regex"))
    tests = []
    for op, arg in spec.items():
        at = f"{where}.{op}"
        if op in ("$eq", "$ne"):
            test = _on(parts, _equals([arg], at, errors))
            tests.append(test if op == "$eq" else _negate(test))
        elif op in ("$in", "$nin"):
            if not isinstance(arg, list):
                errors.append(FieldError(at, "expected a list"))
                continue
            test = _on(parts, _equals(arg, at, errors, indexed=True))
            tests.append(test if op == "$in" else _negate(test))
        elif op in _COMPARISONS:
            if not is_comparable_number(arg):
                errors.append(FieldError(at, "expected a number"))
                continue
            tests.append(_on(parts, _compare(_COMPARISONS[op], arg)))
        elif op == "$regex":
            tests.append(_on(parts, _regex(arg, spec.get("$options", ""), at, where, errors)))
        elif op == "$options":
            continue  # read with $regex
        elif op == "$exists":
            if not isinstance(arg, bool):
                errors.append(FieldError(at, "expected true or false"))
                continue
            test = _on(parts, _present)
            tests.append(test if arg else _negate(test))
        elif op == "$not":
            if not _is_operators(arg):
                errors.append(FieldError(at, "expected an object of operators"))
                continue
            tests.append(_negate(_conditions(parts, arg, at, errors)))
        else:
            errors.append(FieldError(at, "unknown operator"))
    return _all(tests)


def _on(parts: tuple[str, ...], test: ValueTest) -> Test:
    """Apply a value test to the value(s) at ``parts`` in a document."""
    if len(parts) == 1:
        key = parts[0]
        return lambda doc: test(doc.get(key, _MISSING))
    return lambda doc: any(map(test, _lookup(doc, parts)))


def _lookup(doc: dict, parts: tuple[str, ...]) -> list:
    found: list = []
    _walk(doc, parts, 0, found)
    return found or [_MISSING]


def _walk(value: object, parts: tuple[str, ...], i: int, found: list) -> None:
    if i == len(parts):
        found.append(value)
    elif isinstance(value, dict):
        _walk(value.get(parts[i], _MISSING), parts, i + 1, found)
    elif isinstance(value, list):
        if parts[i].isdigit() and int(parts[i]) < len(value):
            _walk(value[int(parts[i])], parts, i + 1, found)
        for item in value:
            if isinstance(item, dict):
                _walk(item, parts, i, found)
    else:
        found.append(_MISSING)


def _each(scalar: ValueTest) -> ValueTest:
    """A value matches when it matches, or when it is a list one of whose items matches."""
    return lambda v: scalar(v) or (isinstance(v, list) and any(map(scalar, v)))


def _equals(values: list, where: str, errors: list[FieldError], indexed: bool = False) -> ValueTest:
    for i, value in enumerate(values):
        if not (value is None or isinstance(value, str | bool) or is_comparable_number(value)):
            errors.append(FieldError(f"{where}.{i}" if indexed else where, _VALUE))
    if len(values) == 1 and isinstance(values[0], str):
        text = values[0]  # the common case, kept short: only a string equals a string
        return lambda v: v == text or (isinstance(v, list) and text in v)
    strings = frozenset(v for v in values if isinstance(v, str))
    bools = frozenset(v for v in values if isinstance(v, bool))
    numbers = frozenset(v for v in values if is_comparable_number(v))
    null = any(v is None for v in values)

    def scalar(v: object) -> bool:
        if isinstance(v, str):
            return v in strings
        if isinstance(v, bool):
            return v in bools
        if isinstance(v, int | float):
            return v in numbers
        return null and (v is None or v is _MISSING)

    return _each(scalar)


def _compare(op: Callable[[object, object], bool], number: float) -> ValueTest:
    return _each(lambda v: is_comparable_number(v) and op(v, number))


def _regex(
    pattern: object, options: object, at: str, where: str, errors: list[FieldError]
) -> ValueTest:
    flags = ""
    if not isinstance(options, str):
        errors.append(FieldError(f"{where}.$options", "expected a string"))
    else:
        for letter in options:
            if letter == "x":
                reason = "option 'x' is not supported (RE2 has no extended syntax)"
                errors.append(FieldError(f"{where}.$options", reason))
            elif letter not in _REGEX_OPTIONS:
                reason = f"unknown option {letter!r} (expected i, m or s)"
                errors.append(FieldError(f"{where}.$options", reason))
            elif letter not in flags:
                flags += letter
    if not isinstance(pattern, str):
        errors.append(FieldError(at, "expected a string"))
        return _never
    try:
        regex = re2.compile(pattern, _RE2_OPTIONS)  # its errors name the user's text alone
        if flags:
            regex = re2.compile(f"(?{flags}){pattern}", _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        errors.append(FieldError(at, f"bad regular expression (RE2 syntax): {reason}"))
        return _never
    search = regex.search
    # RE2 reads UTF-8: a string is encoded here, a lone surrogate (JSON allows one) included
    return _each(
        lambda v: isinstance(v, str) and search(v.encode("utf-8", "surrogatepass")) is not None
    )


def _present(value: object) -> bool:
    return value is not _MISSING
