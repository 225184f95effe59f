"""The JSON shapes of subscriptions and deliveries as the API shows them."""

from __future__ import annotations

from typing import Any

from approvals.approval.owner import KIND as APPROVAL
from approvals.policies.payloads import answer_body
from approvals.policies.view import PolicyView, due_or_none
from approvals.store.models import (
    Delivery,
    DeliveryAttempt,
    OutboxMessage,
    Recipient,
    Response,
    Subscription,
    TriggerSubscription,
)
from approvals.timefmt import iso


def subscription_created(subscription: Subscription, base_url: str) -> dict[str, str]:
    """The connector's ``SubscriptionResponse``."""
    return {
        "id": subscription.id,
        "resource": f"{base_url}/{subscription.kind}/$subscriptions/{subscription.id}",
        "notificationType": subscription.kind,
        "notificationUrl": subscription.notification_url or None,
    }


def recipient(row: Recipient) -> dict[str, Any]:
    return {
        "id": row.id,
        "address": row.address,
        "emailStatus": row.email_status,
        "emailAttempts": row.email_attempts,
        "emailError": row.email_error,
        "sentAt": iso(row.sent_at),
        "source": row.source or "request",
        "reassignedTo": row.reassigned_to,
    }


def response(row: Response, address: str) -> dict[str, Any]:
    return {
        "SelectedOption": row.option,
        "UserEmailAddress": address,
        "UserId": row.recipient_id,
        "Comment": row.comment,
        "RespondedAt": iso(row.responded_at),
    }


def attempt(row: DeliveryAttempt) -> dict[str, Any]:
    return {
        "number": row.number,
        "startedAt": iso(row.started_at),
        "durationMs": row.duration_ms,
        "statusCode": row.status_code,
        "errorCode": row.error_code,
        "responseBody": row.response_body,
    }


def delivery(row: Delivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscriptionId": row.owner_id if row.owner_kind == APPROVAL else None,
        "url": row.url,
        "webhookId": row.webhook_id,
        "status": row.status,
        "attemptCount": row.attempt_count,
        "nextAttemptAt": iso(row.next_attempt_at),
        "createdAt": iso(row.created_at),
        "finishedAt": iso(row.finished_at),
        "attempts": [attempt(a) for a in row.attempts],
    }


def policy_state(subscription: Subscription, view: PolicyView) -> dict[str, Any]:
    """Issue 17's part of GET: the policy, answers, what is needed, reminders, escalation."""
    stored = subscription.policy or {}
    addresses = {r.id: r.address for r in subscription.recipients}
    escalation = stored.get("Escalation")
    return {
        "policy": stored.get("Policy") or {"Type": "First"},
        "outcome": subscription.outcome,
        "decidedOption": subscription.decided_option,
        "answers": [answer_body(a) for a in view.answers],
        "answersNeeded": view.needed,
        "reminders": [
            {
                "recipientId": r.recipient_id,
                "status": r.status,
                "sent": r.sent_count,
                "lastSentAt": iso(r.last_sent_at),
                "nextDueAt": iso(due_or_none(r.status, r.due_at)),
            }
            for r in view.reminders
        ],
        "escalation": {
            "to": escalation["To"].split(";"),
            "dueAt": iso(subscription.escalate_at),
            "escalatedAt": iso(subscription.escalated_at),
        }
        if escalation
        else None,
        "reassignments": [
            {
                "from": r.address,
                "to": addresses.get(r.reassigned_to, ""),
                "at": iso(r.reassigned_at),
                "fromRecipientId": r.id,
                "toRecipientId": r.reassigned_to,
            }
            for r in subscription.recipients
            if r.reassigned_to
        ],
        "settings": {
            key: stored[key]
            for key in (
                "Reminders",
                "AllowReassign",
                "ExpiresAfter",
                "NotifyOnExpiry",
                "RequireComment",
            )
            if key in stored
        },
    }


def subscription_state(
    subscription: Subscription,
    answer: Response | None,
    deliveries: list[Delivery],
    view: PolicyView,
) -> dict[str, Any]:
    addresses = {r.id: r.address for r in subscription.recipients}
    message = dict(subscription.message)
    for item in message.get("Attachments") or []:
        item.pop("ContentBytes", None)
    return {
        "id": subscription.id,
        "notificationType": subscription.kind,
        "notificationUrl": subscription.notification_url or None,
        "status": subscription.status,
        "createdAt": iso(subscription.created_at),
        "expiresAt": iso(subscription.expires_at),
        "finishedAt": iso(subscription.finished_at),
        "options": subscription.options,
        "message": message,
        "recipients": [recipient(r) for r in subscription.recipients],
        "response": response(answer, addresses.get(answer.recipient_id, "")) if answer else None,
        "delivery": delivery(deliveries[-1]) if deliveries else None,
        **policy_state(subscription, view),
    }


def outbox_summary(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "to": message.to_address,
        "subject": message.subject,
        "recipientId": message.recipient_id,
        "createdAt": iso(message.created_at),
    }


def trigger_subscription_created(
    subscription: TriggerSubscription, resource: str
) -> dict[str, str]:
    """The connector's ``SubscriptionResponse`` for a push trigger subscription."""
    return {
        "id": subscription.id,
        "resource": resource,
        "notificationType": subscription.trigger,
        "notificationUrl": subscription.notification_url,
    }


def trigger_subscription_state(
    subscription: TriggerSubscription, deliveries: list[Delivery]
) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "trigger": subscription.trigger,
        "notificationUrl": subscription.notification_url,
        "parameters": subscription.params,
        "status": subscription.status,
        "createdAt": iso(subscription.created_at),
        "deletedAt": iso(subscription.deleted_at),
        "polls": subscription.polls,
        "lastPollAt": iso(subscription.last_poll_at),
        "lastPollItems": subscription.last_poll_items,
        "lastError": subscription.last_error,
        "nextPollAt": None if subscription.deleted_at else iso(subscription.next_poll_at),
        "deliveries": [delivery(d) for d in deliveries],
    }
