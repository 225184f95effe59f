"""Every HTTP route the service serves, in one table: path, method, operationId, models.

The app registers its URL rules from :data:`ROUTES` and ``/openapi.json`` is generated from the
same rows, so the document lists exactly what is served. A route that mirrors the Office 365
Outlook connector uses the connector's path (without ``/{connectionId}``) and ``operationId``
(DESIGN 1); adding an operation is one row (``mail_routes``, ``calendar_routes``,
``contact_routes``) plus its worker handler and models.
"""

from __future__ import annotations

from pydantic import BaseModel

from approvals.approval.schemas import (
    ApprovalEmailResponse,
    ApprovalEmailSubscription,
    OptionsEmailSubscription,
    SubscriptionResponse,
)
from approvals.operations.answers import OperationPending
from approvals.web import answers, health, openapi, pages, swagger
from approvals.web.api import deliveries, operations, outbox, subscriptions
from approvals.web.calendar_routes import CALENDAR_ROUTES
from approvals.web.contact_routes import CONTACT_ROUTES
from approvals.web.mail_routes import MAIL_ROUTES
from approvals.web.route_types import IDEMPOTENCY_KEY, Access, Param, Route
from approvals.web.trigger_routes import TRIGGER_ROUTES

__all__ = ["ROUTES", "Access", "Param", "Route", "route_named"]


SUBSCRIPTION_ID = Param(
    "id", "path", {"type": "string"}, "Id of the subscription (from the 201 answer)."
)
TOKEN = Param("token", "path", {"type": "string"}, "The recipient's signed link token.")
OPTION = Param(
    "option", "query", {"type": "integer", "minimum": 0}, "Index of the chosen option.", False
)
PAGE_ERRORS = (400, 404, 409, 410)


def _subscription_routes(
    kind: str, title: str, body: type[BaseModel], send: str, ids: str
) -> list[Route]:
    """The three operations of one notification kind: the connector's ``send`` operationId,
    and ``ids`` the part its delete operationId names the kind with."""
    return [
        Route(
            "POST",
            f"/{kind}/$subscriptions",
            send,
            f"Send {title}",
            subscriptions.create,
            "OptionsEmail",
            body=body,
            answer=SubscriptionResponse,
            status=201,
            params=(IDEMPOTENCY_KEY,),
            errors=(400, 413, 422),
            view_args={"kind": kind},
            notification=ApprovalEmailResponse,
            body_name=body.__name__[0].lower() + body.__name__[1:],  # the connector's name
            description="Emails every recipient one button per option; the first confirmed "
            "choice is POSTed to NotificationUrl, signed (Standard Webhooks) and retried.",
        ),
        Route(
            "GET",
            f"/{kind}/$subscriptions/{{id}}",
            f"Get{ids}Subscription",
            f"Get {title} subscription",
            subscriptions.show,
            "OptionsEmail",
            answer=answers.SubscriptionState,
            params=(SUBSCRIPTION_ID,),
            errors=(404,),
            view_args={"kind": kind},
        ),
        Route(
            "DELETE",
            f"/{kind}/$subscriptions/{{id}}",
            f"Delete{ids}Subscription",
            f"Delete {title} subscription",
            subscriptions.cancel,
            "OptionsEmail",
            answer=answers.Cancelled,
            params=(SUBSCRIPTION_ID,),
            errors=(404,),
            view_args={"kind": kind},
            description="Links stop working and no callback is sent; repeating it is harmless.",
        ),
    ]


SERVICE_ROUTES = [
    Route(
        "GET",
        "/healthz",
        "GetHealth",
        "The process is alive",
        health.healthz,
        "Service",
        access="public",
        answer=answers.Health,
        description="Checks nothing else: a liveness probe must not fail for a database outage.",
    ),
    Route(
        "GET",
        "/readyz",
        "GetReadiness",
        "Ready to serve: database and broker reachable, migrations applied",
        health.readyz,
        "Service",
        access="public",
        answer=answers.Health,
        also=((503, "Not ready: each failed check says why", answers.Health),),
    ),
    Route(
        "GET",
        "/metrics",
        "GetMetrics",
        "Prometheus metrics of every process (text exposition format)",
        health.metrics,
        "Service",
        access="public",
        media="text/plain",
        errors=(401,),
        description="With APPROVALS_METRICS_TOKEN set, it needs 'Authorization: Bearer <token>'.",
    ),
]


ROUTES: list[Route] = [
    *_subscription_routes(
        "approvalmail",
        "approval email",
        ApprovalEmailSubscription,
        "SendApprovalMail",
        "ApprovalMail",
    ),
    *_subscription_routes(
        "mailwithoptions",
        "email with options",
        OptionsEmailSubscription,
        "SendMailWithOptions",
        "OptionsMail",
    ),
    *MAIL_ROUTES,
    *CALENDAR_ROUTES,
    *CONTACT_ROUTES,
    *TRIGGER_ROUTES,
    Route(
        "GET",
        "/operations/{id}",
        "GetOperation",
        "The result of an operation that answered 202",
        operations.show,
        "Operations",
        answer=OperationPending,
        params=(Param("id", "path", {"type": "string"}, "Id from the 202's Location."),),
        errors=(403, 404, 502, 504),
        description="202 while it runs (poll again after Retry-After); then the operation's "
        "own status and body. Results are kept for APPROVALS_OPERATION_RESULT_TTL seconds.",
    ),
    Route(
        "GET",
        "/deliveries/{id}",
        "GetDelivery",
        "Get a callback and its attempts",
        deliveries.show,
        "Deliveries",
        answer=answers.DeliveryState,
        params=(Param("id", "path", {"type": "string"}, "Id of the delivery."),),
        errors=(404,),
    ),
    Route(
        "POST",
        "/deliveries/{id}/retry",
        "RetryDelivery",
        "Send a failed or stopped callback again now",
        deliveries.retry,
        "Deliveries",
        answer=answers.DeliveryState,
        status=202,
        params=(Param("id", "path", {"type": "string"}, "Id of the delivery."),),
        errors=(404, 422),
    ),
    Route(
        "GET",
        "/outbox/messages",
        "ListOutboxMessages",
        "List mail kept by the outbox backend",
        outbox.list_messages,
        "Outbox",
        answer=answers.OutboxList,
        params=(
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "How many, newest first.",
                required=False,
            ),
        ),
    ),
    Route(
        "GET",
        "/outbox/messages/{id}",
        "GetOutboxMessage",
        "Get one outbox message (?format=eml downloads the .eml)",
        outbox.show_message,
        "Outbox",
        answer=answers.OutboxMessage,
        params=(
            Param(
                "id",
                "path",
                {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                "Id of the message.",
            ),
            Param(
                "format",
                "query",
                {"type": "string", "enum": ["json", "eml"], "default": "json"},
                required=False,
            ),
        ),
        errors=(404,),
    ),
    Route(
        "GET",
        "/respond/{token}",
        "ShowResponsePage",
        "The recipient's confirmation page (records nothing)",
        pages.show,
        "Recipient pages",
        access="page",
        params=(TOKEN, OPTION),
        errors=PAGE_ERRORS,
        media="text/html",
        description="GET and HEAD never record: mail scanners open every link. The page "
        "carries a form whose POST records the choice.",
    ),
    Route(
        "POST",
        "/respond/{token}",
        "ConfirmResponse",
        "Record the recipient's confirmed choice",
        pages.confirm,
        "Recipient pages",
        access="page",
        params=(TOKEN,),
        errors=PAGE_ERRORS,
        media="text/html",
    ),
    Route(
        "POST",
        "/respond/{token}/reassign",
        "ReassignResponse",
        "Hand the recipient's place to another address (AllowReassign)",
        pages.reassign,
        "Recipient pages",
        access="page",
        params=(TOKEN,),
        errors=PAGE_ERRORS,
        media="text/html",
        description="A form POST from the response page only (no GET: scanners open links). "
        "The new address gets the email; the old link stops working.",
    ),
    Route(
        "GET",
        "/openapi.json",
        "GetOpenApiDocument",
        "This document",
        openapi.document,
        "Service",
        access="public",
    ),
    Route(
        "GET",
        "/swagger.json",
        "GetSwaggerDocument",
        "This API as OpenAPI 2.0, to import as a Power Automate or Logic Apps custom connector",
        swagger.document,
        "Service",
        access="public",
    ),
    *SERVICE_ROUTES,
]

_BY_ID = {route.operation_id: route for route in ROUTES}


def route_named(operation_id: str) -> Route:
    """The row of ``operation_id`` (a view serving several rows finds its own)."""
    return _BY_ID[operation_id]
