"""How quickly a server answers, as a moving average: receivers and the mail gate both ask."""

from __future__ import annotations

# The weight of the newest answer: a change shows within a handful of answers.
NEWEST_WEIGHT = 0.2


def moving_average(average: float | None, seconds: float) -> float:
    """``average`` moved toward the newest answer; the first answer stands for itself."""
    if average is None:
        return seconds
    return (1 - NEWEST_WEIGHT) * average + NEWEST_WEIGHT * seconds
