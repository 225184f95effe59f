"""Every HTTP route the service serves, in one table: path, method, operationId, models.

The app registers its URL rules from :data:`ROUTES` and ``/openapi.json`` is generated from the
same rows, so the document lists exactly what is served. A route that mirrors the Office 365
Outlook connector uses the connector's path (without ``/{connectionId}``) and ``operationId``
(DESIGN 1); adding an operation is one row here plus its view and models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from approvals.approval.schemas import (
    ApprovalEmailSubscription,
    OptionsEmailSubscription,
    SubscriptionResponse,
)
from approvals.operations.mail_models import (
    BatchResponseGraphClientReceiveMessage,
    ClientReceiveMessageList,
    ClientSendHtmlMessage,
    ClientSendMessage,
    GraphClientReceiveFileAttachment,
    GraphClientReceiveMessage,
    MarkAsReadBody,
    OperationPending,
    ReplyHtmlMessage,
)
from approvals.web import answers, openapi, pages
from approvals.web.api import deliveries, operations, outbox, subscriptions

Access = Literal["api", "page", "public"]


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter, with its JSON schema."""

    name: str
    where: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str = ""
    required: bool = True
    # "double": the connector double-encodes it (x-ms-url-encoding); single is taken too.
    encoding: Literal["single", "double"] = "single"
    # A Graph id: may hold "/", "+" and "=", arriving decoded or still percent-encoded.
    graph_id: bool = False


@dataclass(frozen=True)
class Route:
    """One operation: where it is served, what it takes and answers, who may call it.

    ``access``: ``api`` needs an API key (and counts against its client's rate limit),
    ``page`` is a recipient page (no key; limited per address), ``public`` is open.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    view: Callable[..., Any]
    tag: str
    access: Access = "api"
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    media: str = "application/json"
    deprecated: bool = False
    description: str = ""
    # Fixed values handed to the view (one view can serve several rows).
    view_args: dict[str, str] = field(default_factory=dict)
    # Connector operations: the body's parameter name, and whether a worker that died while
    # running it may run it again (a read or delete may; a send must not be sent twice).
    body_name: str = "body"
    repeatable: bool = True
    deferrable: bool = False  # may answer 202 with Location: /operations/{id}


SUBSCRIPTION_ID = Param(
    "id", "path", {"type": "string"}, "Id of the subscription (from the 201 answer)."
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "maxLength": 255},
    "A repeat with the same key and body returns the first answer and sends nothing.",
    required=False,
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


def _operation(
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


MAIL_ROUTES = [
    _operation(
        "GET",
        "/v2/Mail/{messageId}",
        "GetEmailV2",
        "Get email (V2)",
        params=(
            MESSAGE_ID,
            MAILBOX_ADDRESS,
            INCLUDE_ATTACHMENTS,
            Param(
                "internetMessageId",
                "query",
                {"type": "string", "maxLength": 1000},
                "Internet Message Id.",
                required=False,
            ),
        ),
        answer=GraphClientReceiveMessage,
    ),
    _operation(
        "GET",
        "/v3/Mail",
        "GetEmailsV3",
        "Get emails (V3)",
        params=(
            Param(
                "folderPath",
                "query",
                {"type": "string", "default": "Inbox", "maxLength": 1000},
                "Mail folder to retrieve emails from (default: 'Inbox').",
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
            Param(
                "subjectFilter",
                "query",
                {"type": "string", "maxLength": 1000},
                "String to look for in the subject line.",
                required=False,
            ),
            Param(
                "fetchOnlyUnread",
                "query",
                {"type": "boolean", "default": True},
                "Retrieve only unread emails.",
                required=False,
            ),
            Param(
                "fetchOnlyFlagged",
                "query",
                {"type": "boolean", "default": False},
                "Retrieve only flagged emails.",
                required=False,
            ),
            MAILBOX_ADDRESS,
            INCLUDE_ATTACHMENTS,
            Param(
                "searchQuery",
                "query",
                {"type": "string", "maxLength": 1000},
                "Search query ($search) to filter emails.",
                required=False,
            ),
            Param(
                "top",
                "query",
                {"type": "integer", "default": 10, "minimum": 1, "maximum": 1000},
                "Number of emails to retrieve (default: 10, max: 1000).",
                required=False,
            ),
        ),
        answer=BatchResponseGraphClientReceiveMessage,
    ),
    _operation(
        "POST",
        "/v2/Mail",
        "SendEmailV2",
        "Send an email (V2)",
        body=ClientSendHtmlMessage,
        body_name="emailMessage",
        repeatable=False,
        description=SENT_ONCE,
    ),
    _operation(
        "GET",
        "/Mail",
        "GetEmails",
        "Get emails",
        params=(
            Param(
                "folderPath",
                "query",
                {"type": "string", "default": "Inbox", "maxLength": 1000},
                "Mail folder to retrieve emails from (default: 'Inbox').",
                required=False,
            ),
            Param(
                "fetchOnlyUnread",
                "query",
                {"type": "boolean", "default": True},
                "Retrieve only unread emails.",
                required=False,
            ),
            INCLUDE_ATTACHMENTS,
            Param(
                "searchQuery",
                "query",
                {"type": "string", "maxLength": 1000},
                "Search query to filter emails.",
                required=False,
            ),
            Param(
                "top",
                "query",
                {"type": "integer", "default": 10, "minimum": 1, "maximum": 1000},
                "Number of emails to retrieve.",
                required=False,
            ),
            Param(
                "skip",
                "query",
                {"type": "integer", "default": 0, "minimum": 0, "maximum": 100000},
                "Number of emails to skip.",
                required=False,
            ),
        ),
        answer=ClientReceiveMessageList,
        deprecated=True,
    ),
    _operation(
        "POST",
        "/Mail",
        "SendEmail",
        "Send an email",
        body=ClientSendMessage,
        body_name="emailMessage",
        repeatable=False,
        deprecated=True,
        description=SENT_ONCE,
    ),
    _operation(
        "DELETE",
        "/Mail/{messageId}",
        "DeleteEmail",
        "Delete email",
        params=(MESSAGE_ID,),
        deprecated=True,
    ),
    _operation(
        "DELETE",
        "/codeless/v1.0/me/messages/{messageId}",
        "DeleteEmail_V2",
        "Delete email (V2)",
        params=(MESSAGE_ID, MAILBOX_ADDRESS),
    ),
    _operation(
        "POST",
        "/Mail/MarkAsRead/{messageId}",
        "MarkAsRead",
        "Mark as read",
        params=(MESSAGE_ID,),
        deprecated=True,
    ),
    _operation(
        "PATCH",
        "/codeless/v3/v1.0/me/messages/{messageId}/markAsRead",
        "MarkAsRead_V3",
        "Mark as read or unread (V3)",
        params=(MESSAGE_ID, MAILBOX_ADDRESS),
        body=MarkAsReadBody,
        body_name="body",
    ),
    _operation(
        "POST",
        "/Mail/ReplyTo/{messageId}",
        "ReplyTo",
        "Reply to email",
        params=(
            MESSAGE_ID,
            Param("comment", "query", {"type": "string", "maxLength": 100000}, "Reply comment."),
            Param(
                "replyAll",
                "query",
                {"type": "boolean", "default": False},
                "Reply to all recipients.",
                required=False,
            ),
        ),
        repeatable=False,
        deprecated=True,
        description=SENT_ONCE,
    ),
    _operation(
        "POST",
        "/v3/Mail/ReplyTo/{messageId}",
        "ReplyToV3",
        "Reply to email (V3)",
        params=(MESSAGE_ID, MAILBOX_ADDRESS),
        body=ReplyHtmlMessage,
        body_name="replyParameters",
        repeatable=False,
        description=SENT_ONCE,
    ),
    _operation(
        "GET",
        "/Mail/{messageId}/Attachments/{attachmentId}",
        "GetAttachment",
        "Get attachment",
        params=(MESSAGE_ID, ATTACHMENT_ID),
        media="application/octet-stream",
        deprecated=True,
        description="The file's bytes, with its content type.",
    ),
    _operation(
        "GET",
        "/codeless/v1.0/me/messages/{messageId}/attachments/{attachmentId}",
        "GetAttachment_V2",
        "Get attachment (V2)",
        params=(
            MESSAGE_ID,
            ATTACHMENT_ID,
            MAILBOX_ADDRESS,
            Param(
                "extractSensitivityLabel",
                "query",
                {"type": "boolean"},
                "Accepted for compatibility; labels are not extracted.",
                required=False,
            ),
            Param(
                "fetchSensitivityLabelMetadata",
                "query",
                {"type": "boolean"},
                "Accepted for compatibility; label metadata is not fetched.",
                required=False,
            ),
        ),
        answer=GraphClientReceiveFileAttachment,
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
        "GET",
        "/openapi.json",
        "GetOpenApiDocument",
        "This document",
        openapi.document,
        "Service",
        access="public",
    ),
]

_BY_ID = {route.operation_id: route for route in ROUTES}


def route_named(operation_id: str) -> Route:
    """The row of ``operation_id`` (a view serving several rows finds its own)."""
    return _BY_ID[operation_id]
