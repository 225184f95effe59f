"""The connector's triggers: a polling row at each trigger's own path, and its push rows."""

from __future__ import annotations

from pydantic import BaseModel

from approvals.approval.schemas import SubscriptionResponse
from approvals.operations.calendar_models import (
    EntityListResponseCalendarEventBackend,
    GraphCalendarEventListClientReceive,
    GraphCalendarEventListWithActionType,
)
from approvals.operations.mail_models import (
    TriggerBatchResponseClientReceiveMessage,
    TriggerBatchResponseGraphClientReceiveMessage,
)
from approvals.triggers.schemas import TriggerSubscriptionRequest
from approvals.triggers.state import STATE_PARAM
from approvals.web import answers
from approvals.web.api import triggers
from approvals.web.calendar_routes import TABLE
from approvals.web.operation_routes import (
    FILTER,
    INCLUDE_ATTACHMENTS,
    MAIL_FILTERS,
    ORDER_BY,
    SKIP,
    SUBJECT_FILTER,
    TOP,
)
from approvals.web.route_types import Param, Route

# 404: a calendar trigger's table that is no calendar of the mailbox (or no path at all).
TRIGGER_ERRORS = (403, 404, 501, 502, 504)
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
    *MAIL_FILTERS,
    INCLUDE_ATTACHMENTS,
    SUBJECT_FILTER,
)

UPCOMING_PARAMS = (
    Param("table", "query", {"type": "string", "maxLength": 1000}, "Select a calendar (its id)."),
    Param(
        "lookAheadTimeInMinutes",
        "query",
        {"type": "integer", "format": "int32", "default": 15, "minimum": 1, "maximum": 43200},
        "Time (in minutes) to look ahead for upcoming events.",
        required=False,
    ),
)
# $filter narrows which events count; of the new ones, oldest first, a poll passes over $skip
# and returns at most $top (the rest stay new for the next poll), in $orderby order.
CHANGED_PARAMS = (TABLE, FILTER, ORDER_BY, TOP, SKIP)
VIEW_PARAMS = (
    TABLE,
    Param(
        "incomingDays",
        "query",
        {"type": "integer", "format": "int32", "default": 300, "minimum": 0, "maximum": 3650},
        "Number of incoming days in calendar to be tracked.",
        required=False,
    ),
    Param(
        "pastDays",
        "query",
        {"type": "integer", "format": "int32", "default": 50, "minimum": 0, "maximum": 3650},
        "Number of past days in calendar to be tracked.",
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
    in_path = tuple(p for p in params if p.where == "path")  # a calendar trigger's table
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
            params=in_path,
            errors=(403, 404, 413, 422, 501),
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
            params=(*in_path, SUBSCRIPTION_ID),
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
            params=(*in_path, SUBSCRIPTION_ID),
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
    *_trigger_rows(
        "/v3/Events/OnUpcomingEvents",
        "OnUpcomingEventsV3",
        "When an upcoming event is starting soon (V3)",
        UPCOMING_PARAMS,
        GraphCalendarEventListClientReceive,
        subscribe_id="CreateOnUpcomingEventsV3Subscription",
        tag="Calendar triggers",
    ),
    *_trigger_rows(
        "/Events/OnUpcomingEvents",
        "OnUpcomingEvents",
        "When an upcoming event is starting soon",
        UPCOMING_PARAMS,
        EntityListResponseCalendarEventBackend,
        subscribe_id="CreateOnUpcomingEventsSubscription",
        deprecated=True,
        tag="Calendar triggers",
    ),
    *_trigger_rows(
        "/datasets/calendars/v3/tables/{table}/onchangeditems",
        "CalendarGetOnChangedItemsV3",
        "When an event is added, updated or deleted (V3)",
        VIEW_PARAMS,
        GraphCalendarEventListWithActionType,
        subscribe_id="CreateGraphOnChangedEventPokeSubscription",
        tag="Calendar triggers",
    ),
    *(
        row
        for version, deprecated, answer in (
            ("v3/", False, GraphCalendarEventListClientReceive),
            ("", True, EntityListResponseCalendarEventBackend),
        )
        for kind, summary in (
            ("New", "When a new event is created"),
            ("Updated", "When an event is modified"),
        )
        for row in _trigger_rows(
            f"/datasets/calendars/{version}tables/{{table}}/on{kind.lower()}items",
            f"CalendarGetOn{kind}Items{'V3' if version else ''}",
            f"{summary}{' (V3)' if version else ''}",
            CHANGED_PARAMS,
            answer,
            subscribe_id=f"CreateCalendarGetOn{kind}Items{'V3' if version else ''}Subscription",
            deprecated=deprecated,
            tag="Calendar triggers",
        )
    ),
]
