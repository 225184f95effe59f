"""Rows for the connector's operations run on Graph: their shared parameters and one builder.

Every such row is served by :func:`approvals.web.api.operations.run`, which reads the row's
parameters and body, starts the operation and answers its result or 202.
"""

from __future__ import annotations

from pydantic import BaseModel

from approvals.web.api import operations
from approvals.web.route_types import IDEMPOTENCY_KEY, Param, Route

MAILBOX_ADDRESS = Param(
    "mailboxAddress",
    "query",
    {"type": "string", "maxLength": 320},
    "A mailbox this key is bound to (default: its first).",
    required=False,
)
MESSAGE_ID = Param("messageId", "path", {"type": "string"}, "Id of the email.", graph_id=True)
INCLUDE_ATTACHMENTS = Param(
    "includeAttachments",
    "query",
    {"type": "boolean", "default": False},
    "If set to true, attachments content will also be retrieved along with the email.",
    required=False,
)
PREFER = Param(
    "Prefer",
    "header",
    {"type": "string"},
    "respond-async: answer 202 with Location at once instead of waiting.",
    required=False,
)
ATTACHMENT_ID = Param(
    "attachmentId", "path", {"type": "string"}, "Id of the attachment.", graph_id=True
)
OPERATION_ERRORS = (403, 404, 501, 502, 504)
SENT_ONCE = (
    "Sent once: a worker that stops mid-send reports outcome_unknown rather than sending it again."
)


def operation_route(
    method: str,
    path: str,
    operation_id: str,
    summary: str,
    *,
    params: tuple[Param, ...] = (),
    body: type[BaseModel] | None = None,
    body_name: str = "body",
    answer: type[BaseModel] | None = None,
    repeatable: bool = True,
    deprecated: bool = False,
    description: str = "",
    tag: str = "Mail",
    media: str = "application/json",
) -> Route:
    """A connector operation run by the worker on Graph (one view serves them all)."""
    writes = method != "GET"
    return Route(
        method,
        path,
        operation_id,
        summary,
        operations.run,
        tag,
        body=body,
        body_name=body_name,
        answer=answer,
        params=(*params, PREFER, *((IDEMPOTENCY_KEY,) if writes else ())),
        errors=OPERATION_ERRORS + ((413, 422) if body is not None else ()),
        deprecated=deprecated,
        description=description,
        media=media,
        view_args={"operation": operation_id},
        repeatable=repeatable,
        deferrable=True,
    )
