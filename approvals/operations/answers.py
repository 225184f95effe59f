"""What an operation route answers while the operation runs (its own answers are its models)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class OperationPending(BaseModel):
    """The 202 while an operation runs: poll ``Location`` after ``Retry-After`` seconds."""

    id: str
    status: Literal["due", "running"]
