"""ISO 8601 durations (``PT24H``, ``P2D``) as the request fields carry them.

They are kept as the caller wrote them (GET shows them back) and read with :func:`seconds`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, TypeAdapter
from pydantic_core import PydanticCustomError

_TIMEDELTA = TypeAdapter(timedelta)
# Longer than any approval waits; it also keeps "now + duration" within datetime's range.
MAX_DURATION = timedelta(days=3650)


def to_timedelta(value: str) -> timedelta:
    """A positive ISO 8601 duration; pydantic reads the format, we insist on it being ISO."""
    if not value.upper().startswith("P"):
        raise PydanticCustomError(
            "invalid_duration", "expected an ISO 8601 duration such as PT24H or P2D"
        )
    try:
        parsed = _TIMEDELTA.validate_python(value.upper())
    except ValueError:
        raise PydanticCustomError(
            "invalid_duration", "'{value}' is not an ISO 8601 duration", {"value": value}
        ) from None
    if parsed <= timedelta(0):
        raise PydanticCustomError("invalid_duration", "the duration must be positive")
    if parsed > MAX_DURATION:
        raise PydanticCustomError("invalid_duration", "the duration must be at most 3650 days")
    return parsed


def _checked(value: str) -> str:
    to_timedelta(value)
    return value.upper()


def seconds(value: str) -> float:
    return to_timedelta(value).total_seconds()


Duration = Annotated[
    str,
    Field(
        max_length=64,
        description="ISO 8601 duration",
        json_schema_extra={"format": "duration", "examples": ["PT24H"]},
    ),
    AfterValidator(_checked),
]
