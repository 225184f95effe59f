"""The states a row moves through, named once (the database stores their values as text)."""

from __future__ import annotations

from enum import StrEnum


class SubscriptionStatus(StrEnum):
    """pending, then exactly one of the others (DESIGN 4)."""

    PENDING = "pending"
    COMPLETED = "completed"  # a response was recorded
    CANCELLED = "cancelled"  # DELETE
    EXPIRED = "expired"  # its expiry passed


class EmailStatus(StrEnum):
    """A recipient's email: due -> sending -> sent | failed; cancelled when nobody needs it."""

    DUE = "due"
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ReminderStatus(StrEnum):
    """A recipient's reminders: due -> sending -> due (the next) | done | cancelled."""

    DUE = "due"
    SENDING = "sending"  # claimed by a worker
    DONE = "done"  # Max reminders went out
    CANCELLED = "cancelled"  # the request ended, or the recipient answered or handed on


class Outcome(StrEnum):
    """How a request ended, as its callback and GET say (``Outcome``)."""

    DECIDED = "decided"
    UNDECIDED = "undecided"
    EXPIRED = "expired"


class DeliveryStatus(StrEnum):
    """A callback: due -> delivering -> delivered | failed | stopped | dropped."""

    DUE = "due"
    DELIVERING = "delivering"  # claimed by a worker
    DELIVERED = "delivered"
    FAILED = "failed"  # the schedule is spent; POST /deliveries/{id}/retry sends it again
    STOPPED = "stopped"  # the receiver answered 410
    DROPPED = "dropped"  # its owner was cancelled or expired first


class OperationStatus(StrEnum):
    """A connector operation run against Graph: due -> running -> succeeded | failed."""

    DUE = "due"
    RUNNING = "running"  # claimed by a worker
    SUCCEEDED = "succeeded"  # Graph did it; the answer is kept until the result expires
    FAILED = "failed"  # Graph refused, or (outcome_unknown) a worker died mid-send


class TriggerSubscriptionStatus(StrEnum):
    """A push trigger subscription: active until DELETE."""

    ACTIVE = "active"
    DELETED = "deleted"


class TriggerPollStatus(StrEnum):
    """A push trigger subscription's next poll: due -> polling -> due ...; stopped once deleted."""

    DUE = "due"
    POLLING = "polling"  # claimed by a worker
    STOPPED = "stopped"


CLOSED_SUBSCRIPTION = (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED)
RETRYABLE_DELIVERY = (DeliveryStatus.FAILED, DeliveryStatus.STOPPED)
