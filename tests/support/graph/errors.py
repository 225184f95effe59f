"""Graph's error answer: one exception carrying the status, code and message it becomes.

The body shape is Graph's documented error resource
(https://learn.microsoft.com/graph/errors): ``{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}``.
"""

from __future__ import annotations


class GraphError(Exception):
    """Raised anywhere below a route; the server turns it into Graph's error JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        inner: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.inner = inner or {}


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def item_not_found() -> GraphError:
    # Exchange's answer for an id that is not in this mailbox, whatever the reason
    # (https://learn.microsoft.com/graph/errors lists itemNotFound; mail answers ErrorItemNotFound).
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
