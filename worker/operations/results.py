"""What an operation answers: a JSON body, bytes with their type, or nothing; and errors.

Graph's 400, 403 and 404 reach the caller with the same status, Graph's 5xx as 502, a timeout
as 504, throttling that outlasted our retries as 429 with ``Retry-After``. The error body is
ours (``{"error": {"code", "message"}}``) carrying Graph's code and message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from worker.graph.client import GraphError

JSON = "application/json"


@dataclass(frozen=True)
class Result:
    status: int
    body: bytes
    content_type: str = JSON
    error_code: str | None = None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


def json_result(value: Any, status: int = 200) -> Result:
    return Result(status, json.dumps(value, separators=(",", ":")).encode())


def empty_result(status: int = 200) -> Result:
    return Result(status, b"", JSON)


def bytes_result(content: bytes, content_type: str) -> Result:
    return Result(200, content, content_type or "application/octet-stream")


def error_result(status: int, code: str, message: str, retry_after: float | None = None) -> Result:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        error["retryAfter"] = int(retry_after + 0.999)
    return Result(status, json.dumps({"error": error}).encode(), JSON, code)


def graph_error_result(error: GraphError) -> Result:
    """Our answer for a Graph error, Graph's code and message carried along."""
    # Graph's client errors and its "try later" keep their status; its other failures are a
    # bad gateway for our caller.
    status = error.status if error.status in (400, 403, 404, 409, 413, 429, 503, 504) else 502
    retry = error.retry_after if status in (429, 503) else None
    return error_result(status, error.code, error.message, retry if retry else None)
