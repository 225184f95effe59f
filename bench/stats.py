"""Small statistics without dependencies (the helper processes import only this)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    found = [v for v in values if v == v]  # drop NaN
    return statistics.median(found) if found else float("nan")


def rate_between(times: Iterable[float]) -> float:
    """Items per second from arrival times: (n - 1) intervals between the first and the last."""
    ordered = sorted(times)
    if len(ordered) < 2:
        return float("nan")
    span = ordered[-1] - ordered[0]
    return (len(ordered) - 1) / span if span > 0 else float("inf")
