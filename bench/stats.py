"""Percentiles and summaries of measured samples."""

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) of ``samples``, nearest rank; NaN for no sample."""
    if not samples:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> dict:
    """``count``, ``p<N>`` for each of ``points``, ``max`` and ``mean`` of ``samples``."""
    result: dict = {"count": len(samples)}
    for p in points:
        result[f"p{p:g}"] = percentile(samples, p)
    result["max"] = max(samples) if samples else math.nan
    result["mean"] = sum(samples) / len(samples) if samples else math.nan
    return result


def rate(count: int, seconds: float) -> float:
    """``count`` per second over ``seconds`` (0 when no time passed)."""
    return count / seconds if seconds > 0 else 0.0


def rounded(value, digits: int = 4):
    """``value`` with floats rounded (recursively in dicts and lists), NaN as None (JSON)."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value
