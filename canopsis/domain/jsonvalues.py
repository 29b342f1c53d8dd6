"""How JSON values are named in the reasons given to senders, and keys MongoDB cannot store."""

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


def nul_keys(value: object, path: str = "") -> Iterator[str]:
    """The paths of the keys holding a NUL, which MongoDB cannot store, at any depth."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\0" in key:
            yield where
        yield from nul_keys(item, where)
