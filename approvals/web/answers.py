"""The shapes the API answers with, as pydantic models: ``/openapi.json`` documents these.

:mod:`approvals.web.presenters` writes the dicts; these models say what they hold, and the fuzz
tests check every answer against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from approvals.policies.schemas import ApprovalPolicy, PolicyResponse
from approvals.store.status import (
    DeliveryStatus,
    EmailStatus,
    Outcome,
    ReminderStatus,
    SubscriptionStatus,
    TriggerSubscriptionStatus,
)


class RecipientState(BaseModel):
    id: str
    address: str
    emailStatus: EmailStatus
    emailAttempts: int
    emailError: str | None
    sentAt: str | None
    source: Literal["request", "escalation", "reassignment"] = Field(
        "request", description="how the recipient joined"
    )
    reassignedTo: str | None = Field(None, description="the recipient they handed their place to")


class RecordedResponse(BaseModel):
    """The first confirmed answer: who chose what, when."""

    SelectedOption: str
    UserEmailAddress: str
    UserId: str
    Comment: str
    RespondedAt: str


class Attempt(BaseModel):
    number: int
    startedAt: str
    durationMs: int
    statusCode: int | None
    errorCode: str | None = Field(
        description="timeout, connection, dns, blocked_address, http_status, invalid_request"
    )
    responseBody: str | None = Field(description="the first 20 KB of the receiver's answer")


class DeliveryState(BaseModel):
    """A callback and every attempt to deliver it."""

    id: str
    subscriptionId: str | None
    url: str
    webhookId: str
    status: DeliveryStatus
    attemptCount: int
    nextAttemptAt: str | None
    createdAt: str
    finishedAt: str | None
    attempts: list[Attempt]


class ReminderState(BaseModel):
    recipientId: str
    status: ReminderStatus
    sent: int
    lastSentAt: str | None
    nextDueAt: str | None


class EscalationState(BaseModel):
    to: list[str]
    dueAt: str | None
    escalatedAt: str | None = Field(description="when the addresses were added; null until then")


class Reassignment(BaseModel):
    from_: str = Field(alias="from")
    to: str
    at: str | None
    fromRecipientId: str
    toRecipientId: str | None


class SubscriptionState(BaseModel):
    """A subscription as it stands: its recipients, the response and the callback."""

    id: str
    notificationType: Literal["approvalmail", "mailwithoptions"]
    notificationUrl: str | None = Field(description="null: no callback was asked for")
    status: SubscriptionStatus
    createdAt: str
    expiresAt: str
    finishedAt: str | None
    options: list[str]
    message: dict[str, Any] = Field(
        description="the Message as accepted (attachments without their content)"
    )
    recipients: list[RecipientState]
    response: RecordedResponse | None
    delivery: DeliveryState | None
    policy: ApprovalPolicy = Field(description="how it is decided (First when none was asked)")
    outcome: Outcome | None = Field(description="how it ended; null while pending or cancelled")
    decidedOption: str | None
    answers: list[PolicyResponse]
    answersNeeded: int = Field(description="how many more answers it needs at least; 0 once ended")
    reminders: list[ReminderState]
    escalation: EscalationState | None
    reassignments: list[Reassignment]
    settings: dict[str, Any] = Field(
        description="the other policy fields as accepted: Reminders, AllowReassign, "
        "ExpiresAfter, NotifyOnExpiry, RequireComment"
    )


class TriggerSubscriptionState(BaseModel):
    """A push trigger subscription: its trigger, its last poll and the batches it owed."""

    id: str
    trigger: str = Field(description="the trigger's operationId")
    notificationUrl: str
    parameters: dict[str, Any]
    status: TriggerSubscriptionStatus
    createdAt: str
    deletedAt: str | None
    polls: int = Field(description="polls started so far")
    lastPollAt: str | None
    lastPollItems: int | None = Field(description="items the last poll found")
    lastError: str | None = Field(description="why the last poll failed (it is tried again)")
    nextPollAt: str | None
    deliveries: list[DeliveryState] = Field(description="one per batch, oldest first")


class TriggerSubscriptionDeleted(BaseModel):
    id: str
    status: TriggerSubscriptionStatus


class Cancelled(BaseModel):
    id: str
    status: SubscriptionStatus


class OutboxSummary(BaseModel):
    id: int
    to: str
    subject: str
    recipientId: str | None
    createdAt: str


class OutboxMessage(OutboxSummary):
    raw: str = Field(description="the whole message (.eml)")


class OutboxList(BaseModel):
    messages: list[OutboxSummary]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every API error: ``{"error": {"code", "message", "field"}}``."""

    error: ErrorDetail


class Health(BaseModel):
    """``/healthz`` and ``/readyz``: ``ok``, or ``unavailable`` with what failed in ``checks``."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(
        description="Each check (database, migrations, broker): 'ok' or why it failed."
    )
