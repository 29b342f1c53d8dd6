"""How JSON values are named in the reasons given to senders, and what MongoDB cannot store."""

from collections.abc import Iterator

NUL_KEY = "a field name cannot hold a NUL character"


def json_type(value: object) -> str:
    """How a JSON value is named in an error message ('a number', 'null'...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def describe(value: object) -> str:
    """A scalar as JSON shows it (a long one cut), anything else by its type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        text = repr(value)
        return text if len(text) <= 60 else f"{text[:57]}..."
    return json_type(value)


#: the integers MongoDB stores (BSON int64)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TOO_BIG = f"an integer must lie within {INT64_MIN} and {INT64_MAX}"


def unstorable(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """The paths, with a reason, of what MongoDB cannot store, at any depth: a key holding a
    NUL, an integer beyond 64 bits."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            yield path, TOO_BIG
        return
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\0" in key:
            yield where, NUL_KEY
        yield from unstorable(item, where)
