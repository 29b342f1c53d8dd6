"""Nagios/Icinga plugin performance data: ``'label'=value[UOM];[warn];[crit];[min];[max]``.

Metrics are separated by any run of whitespace; leading and trailing whitespace
is ignored, and an empty string holds no metric. The parser never guesses: a
metric it cannot read raises :class:`PerfdataError` whose message names the
metric (its number, its label when known, the character where it starts) and
the reason.

Choices, following the Nagios plugin development guidelines:

- A label is quoted with single quotes when it holds spaces, ``=`` or other
  special characters; ``''`` inside a quoted label is one quote. An unquoted
  label cannot hold ``'``; an empty label is refused.
- ``value`` is a decimal number (sign, exponent and a comma as the decimal
  separator accepted: ``0,5`` is 0.5) or ``U`` for unknown, read as ``None``.
  ``inf``, ``nan`` and thousands separators are refused.
- The unit follows the value and is kept as given. Only the guidelines' units
  are accepted (:data:`UNITS`, case-sensitive); any other unit is refused with
  its name. A metric without unit has ``unit`` ``None``.
- ``warn`` and ``crit`` are a float when the field is a plain number, and the
  raw string when it is a threshold range (``10:``, ``~:10``, ``10:20``,
  ``@10:20``, ``@10``), checked for syntax and for start <= end.
- ``min`` and ``max`` are plain numbers; they take no unit.
- Empty fields are ``None``. Trailing semicolons are accepted; a sixth field
  that is not empty is refused as too many fields.
"""

import re
from dataclasses import dataclass

UNITS = ("s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c")
FIELDS = ("value", "warn", "crit", "min", "max")

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_VALUE_RE = re.compile(rf"({_NUMBER})([^\d.,]*)")
_RANGE_RE = re.compile(rf"@?(?:({_NUMBER}|~):)?({_NUMBER})?")
_QUOTED_LABEL_RE = re.compile(r"'((?:[^']|'')*)'")
_BARE_LABEL_RE = re.compile(r"[^\s=]*")
_TOKEN_RE = re.compile(r"\S*")
_SPACES_RE = re.compile(r"\s*")


class PerfdataError(ValueError):
    """A perfdata string that cannot be read; the message names the metric and the reason."""


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | None
    unit: str | None = None
    warn: float | str | None = None
    crit: float | str | None = None
    min: float | None = None
    max: float | None = None

    def as_dict(self) -> dict[str, object]:
        """The metric as an entry of an event's ``perf_data_array``."""
        return {
            "metric": self.name,
            "value": self.value,
            "unit": self.unit,
            "warn": self.warn,
            "crit": self.crit,
            "min": self.min,
            "max": self.max,
        }


class _Problem(Exception):
    """A reason why one metric cannot be read, before it is located."""


def parse_perfdata(text: str) -> list[Metric]:
    """Read every metric of a perfdata string, or raise :class:`PerfdataError`."""
    metrics: list[Metric] = []
    pos = _SPACES_RE.match(text).end()
    while pos < len(text):
        where = f"metric {len(metrics) + 1} at character {pos + 1}"
        try:
            label, value_pos = _label(text, pos)
            where = f"metric {len(metrics) + 1} {label!r} at character {pos + 1}"
            token = _TOKEN_RE.match(text, value_pos)
            metrics.append(_metric(label, token.group()))
        except _Problem as problem:
            raise PerfdataError(f"{where}: {problem}") from None
        pos = _SPACES_RE.match(text, token.end()).end()
    return metrics


def _label(text: str, pos: int) -> tuple[str, int]:
    """The label starting at ``pos`` and the position just after its ``=``."""
    if text[pos] == "'":
        match = _QUOTED_LABEL_RE.match(text, pos)
        if not match:
            raise _Problem("unterminated quote in the label")
        label = match.group(1).replace("''", "'")
    else:
        match = _BARE_LABEL_RE.match(text, pos)
        label = match.group()
        if "'" in label:
            raise _Problem(f"label {label!r} holds a quote but is not quoted")
    end = match.end()
    if end == len(text):
        raise _Problem(f"label {label!r} is not followed by '=' but by the end of the text")
    if text[end] != "=":
        hint = " (a label holding spaces must be quoted)" if text[end].isspace() else ""
        raise _Problem(f"label {label!r} is not followed by '=' but by {text[end]!r}{hint}")
    if not label:
        raise _Problem("empty label")
    return label, end + 1


def _metric(label: str, token: str) -> Metric:
    fields = token.split(";")
    if any(fields[len(FIELDS) :]):
        raise _Problem(
            f"too many fields in {token!r}: {len(fields)}, at most 5 (value;warn;crit;min;max)"
        )
    fields += [""] * (len(FIELDS) - len(fields))
    value, unit = _value(fields[0])
    return Metric(
        name=label,
        value=value,
        unit=unit,
        warn=_threshold("warn", fields[1]),
        crit=_threshold("crit", fields[2]),
        min=_limit("min", fields[3]),
        max=_limit("max", fields[4]),
    )


def _value(text: str) -> tuple[float | None, str | None]:
    if not text:
        raise _Problem("empty value")
    if text == "U":
        return None, None
    match = _VALUE_RE.fullmatch(text)
    if not match:
        raise _Problem(f"value {text!r} is not a number")
    unit = match.group(2)
    if unit and unit not in UNITS:
        raise _Problem(f"unknown unit {unit!r}, expected one of: {', '.join(UNITS)}")
    return _number(match.group(1)), unit or None


def _threshold(field: str, text: str) -> float | str | None:
    if not text:
        return None
    if _NUMBER_RE.fullmatch(text):
        return _number(text)
    match = _RANGE_RE.fullmatch(text)
    if not match or not (match.group(1) or match.group(2)):
        raise _Problem(f"{field} {text!r} is neither a number nor a threshold range")
    start, end = match.groups()
    low = 0.0 if start is None else None if start == "~" else _number(start)
    if low is not None and end is not None and low > _number(end):
        raise _Problem(f"{field} range {text!r} starts after it ends")
    return text


def _limit(field: str, text: str) -> float | None:
    if not text:
        return None
    if not _NUMBER_RE.fullmatch(text):
        raise _Problem(f"{field} {text!r} is not a number")
    return _number(text)


def _number(text: str) -> float:
    return float(text.replace(",", "."))
