"""The connector's triggers: a polling row at each trigger's own path (push rows below it)."""

from __future__ import annotations

from pydantic import BaseModel

from approvals.approval.schemas import SubscriptionResponse
from approvals.operations.mail_models import (
    TriggerBatchResponseClientReceiveMessage,
    TriggerBatchResponseGraphClientReceiveMessage,
)
from approvals.triggers.schemas import TriggerSubscriptionRequest
from approvals.triggers.state import STATE_PARAM
from approvals.web import answers
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


PUSHED = (
    "Polled by the service every APPROVALS_TRIGGER_INTERVAL seconds from now on; each new batch "
    'is POSTed to NotificationUrl as {"value": [...]}, signed (Standard Webhooks) and retried '
    "like every callback."
)
SUBSCRIPTION_ID = Param("id", "path", {"type": "string"}, "Id of the trigger subscription.")


def _trigger_rows(
    path: str,
    operation_id: str,
    summary: str,
    params: tuple[Param, ...],
    answer: type[BaseModel],
    *,
    subscribe_id: str,
    deprecated: bool = False,
    tag: str = "Mail",
) -> list[Route]:
    """The polling row and the push subscription's three rows (``subscribe_id``: the
    connector's x-ms-notification operationId)."""
    pinned = {"trigger": operation_id}
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
            view_args=pinned,
            trigger="batch",
        ),
        Route(
            "POST",
            f"{path}/$subscriptions",
            subscribe_id,
            f"{summary}: push subscription",
            triggers.subscribe,
            tag,
            body=TriggerSubscriptionRequest,
            answer=SubscriptionResponse,
            status=201,
            errors=(403, 413, 422, 501),
            deprecated=deprecated,
            description=PUSHED,
            view_args=pinned,
        ),
        Route(
            "GET",
            f"{path}/$subscriptions/{{id}}",
            f"Get{operation_id}Subscription",
            f"{summary}: a push subscription, its last poll and its deliveries",
            triggers.show_subscription,
            tag,
            answer=answers.TriggerSubscriptionState,
            params=(SUBSCRIPTION_ID,),
            errors=(404,),
            view_args=pinned,
        ),
        Route(
            "DELETE",
            f"{path}/$subscriptions/{{id}}",
            f"Delete{operation_id}Subscription",
            f"{summary}: end a push subscription",
            triggers.unsubscribe,
            tag,
            answer=answers.TriggerSubscriptionDeleted,
            params=(SUBSCRIPTION_ID,),
            errors=(404,),
            view_args=pinned,
            description="Polls stop and an undelivered batch is dropped; repeating it is harmless.",
        ),
    ]


TRIGGER_ROUTES: list[Route] = [
    *_trigger_rows(
        "/v3/Mail/OnNewEmail",
        "OnNewEmailV3",
        "When a new email arrives (V3)",
        NEW_EMAIL_PARAMS,
        TriggerBatchResponseGraphClientReceiveMessage,
        subscribe_id="CreateGraphOnNewEmailPokeSubscription",
    ),
    *_trigger_rows(
        "/Mail/OnNewEmail",
        "OnNewEmail",
        "When a new email arrives",
        NEW_EMAIL_PARAMS,
        TriggerBatchResponseClientReceiveMessage,
        subscribe_id="CreateOnNewEmailPokeSubscription",
        deprecated=True,
    ),
]
