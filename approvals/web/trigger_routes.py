"""The connector's triggers: a polling row at each trigger's own path (push rows below it)."""

from __future__ import annotations

from pydantic import BaseModel

from approvals.operations.mail_models import (
    TriggerBatchResponseClientReceiveMessage,
    TriggerBatchResponseGraphClientReceiveMessage,
)
from approvals.triggers.state import STATE_PARAM
from approvals.web.api import triggers
from approvals.web.operation_routes import INCLUDE_ATTACHMENTS
from approvals.web.route_types import Param, Route

TRIGGER_ERRORS = (403, 501, 502, 504)
TRIGGER_STATE = Param(
    STATE_PARAM,
    "query",
    {"type": "string", "maxLength": 6000},
    "The trigger's state, as the last answer's Location carries it (absent on a first poll).",
    required=False,
)

NEW_EMAIL_PARAMS = (
    Param(
        "folderPath",
        "query",
        {"type": "string", "default": "Inbox", "maxLength": 1000},
        "Mail folder to check for new emails.",
        required=False,
    ),
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
    INCLUDE_ATTACHMENTS,
    Param(
        "subjectFilter",
        "query",
        {"type": "string", "maxLength": 1000},
        "String to look for in the subject line.",
        required=False,
    ),
)

POLLING = (
    "Logic Apps' polling protocol: 202 with Location and Retry-After while nothing is new, 200 "
    "with the batch and a Location to poll next; the first poll starts from now. Polling an "
    "earlier Location again answers the same batch again."
)


def _trigger_rows(
    path: str,
    operation_id: str,
    summary: str,
    params: tuple[Param, ...],
    answer: type[BaseModel],
    *,
    deprecated: bool = False,
    tag: str = "Mail",
) -> list[Route]:
    return [
        Route(
            "GET",
            path,
            operation_id,
            summary,
            triggers.poll,
            tag,
            answer=answer,
            params=(*params, TRIGGER_STATE),
            errors=TRIGGER_ERRORS,
            deprecated=deprecated,
            description=POLLING,
            view_args={"trigger": operation_id},
            trigger=True,
        ),
    ]


TRIGGER_ROUTES: list[Route] = [
    *_trigger_rows(
        "/v3/Mail/OnNewEmail",
        "OnNewEmailV3",
        "When a new email arrives (V3)",
        NEW_EMAIL_PARAMS,
        TriggerBatchResponseGraphClientReceiveMessage,
    ),
    *_trigger_rows(
        "/Mail/OnNewEmail",
        "OnNewEmail",
        "When a new email arrives",
        NEW_EMAIL_PARAMS,
        TriggerBatchResponseClientReceiveMessage,
        deprecated=True,
    ),
]
