"""Rows for the connector's operations run on Graph: their shared parameters and one builder.

Every such row is served by :func:`approvals.web.api.operations.run`, which reads the row's
parameters and body, starts the operation and answers its result or 202.
"""

from __future__ import annotations

from pydantic import BaseModel

from approvals.operations.odata import check_filter, check_orderby
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
# Lists of calendars, events, folders and contacts: Graph's OData options, checked first.
# The filters GetEmailsV3 and the new-email triggers share, in the connector's order.
MAIL_FILTERS = (
    *(
        Param(name, "query", {"type": "string", "maxLength": 4096}, text, required=False)
        for name, text in (
            ("to", "Recipient addresses separated by semicolons (any may match)."),
            ("cc", "CC addresses separated by semicolons (any may match)."),
            ("toOrCc", "To or CC addresses separated by semicolons (any may match)."),
            ("from", "Sender addresses separated by semicolons (any may match)."),
        )
    ),
    Param(
        "importance",
        "query",
        {"type": "string", "enum": ["Any", "Low", "Normal", "High"], "default": "Any"},
        "Importance of the email.",
        required=False,
    ),
    Param(
        "fetchOnlyWithAttachment",
        "query",
        {"type": "boolean", "default": False},
        "Only emails with an attachment.",
        required=False,
    ),
)
SUBJECT_FILTER = Param(
    "subjectFilter",
    "query",
    {"type": "string", "maxLength": 1000},
    "String to look for in the subject line.",
    required=False,
)
MAX_LIST = 256
FILTER = Param(
    "$filter",
    "query",
    {"type": "string", "maxLength": 4096},
    "An ODATA filter query to restrict the entries returned (e.g. stringColumn eq 'string' OR "
    "numberColumn lt 123).",
    required=False,
    check=check_filter,
)
ORDER_BY = Param(
    "$orderby",
    "query",
    {"type": "string", "maxLength": 1000},
    "An ODATA orderBy query for specifying the order of entries.",
    required=False,
    check=check_orderby,
)
TOP = Param(
    "$top",
    "query",
    {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_LIST},
    f"Total number of entries to retrieve (default = all, at most {MAX_LIST}).",
    required=False,
)
SKIP = Param(
    "$skip",
    "query",
    {"type": "integer", "format": "int32", "minimum": 0, "maximum": 100_000},
    "The number of entries to skip (default = 0).",
    required=False,
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
    status: int = 200,
    prefer: Param = PREFER,
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
        status=status,
        params=(*params, prefer, *((IDEMPOTENCY_KEY,) if writes else ())),
        errors=OPERATION_ERRORS + ((413, 422) if body is not None else ()),
        deprecated=deprecated,
        description=description,
        media=media,
        view_args={"operation": operation_id},
        repeatable=repeatable,
        deferrable=True,
    )
