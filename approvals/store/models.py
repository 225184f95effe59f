"""Tables. Anything that must happen later is a row with a status and a due time (DESIGN 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from approvals.store.status import (
    DeliveryStatus,
    EmailStatus,
    OperationStatus,
    ReminderStatus,
    SubscriptionStatus,
    TriggerPollStatus,
    TriggerSubscriptionStatus,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


NO_CALLBACK = ""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class ApiClient(Base):
    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    # Encrypted at rest (approvals.crypto); the previous secret signs too until it lapses.
    webhook_secret: Mapped[str] = mapped_column(Text)
    previous_webhook_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # An admin key's dashboard sessions see every client's data (the API stays per client).
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DashboardSession(Base):
    """A signed-in browser: the cookie holds the token, this row only its hash."""

    __tablename__ = "dashboard_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SigninLink(Base):
    """A one-time sign-in link (printed by ``approvals run`` / ``approvals signin-link``)."""

    __tablename__ = "signin_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ClientMailbox(Base):
    """A Microsoft 365 mailbox an API client may act on; position 0 is the client's default."""

    __tablename__ = "client_mailboxes"

    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower case
    position: Mapped[int] = mapped_column(Integer, default=0)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_status_expires", "status", "expires_at"),
        # The dashboard's lists, newest first, one client's or everyone's (keyset pages).
        Index("ix_subscriptions_client_created", "client_id", "created_at", "id"),
        Index("ix_subscriptions_created", "created_at", "id"),
        Index("ix_subscriptions_client_status", "client_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "approvalmail" | "mailwithoptions"
    # NO_CALLBACK ("") when the client asked for none (NotificationUrl null): it polls instead.
    notification_url: Mapped[str] = mapped_column(String(2048))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=SubscriptionStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How it is decided and what happens while people stay silent (approvals.policies);
    # NULL: the connector's behaviour (the first answer decides).
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # decided | undecided | expired, once it ended (NULL while pending, or cancelled).
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    decided_option: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Escalation: due at escalate_at; escalated_at is set exactly once, by the sweeper that won.
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    recipients: Mapped[list[Recipient]] = relationship(
        back_populates="subscription", order_by="Recipient.position"
    )


class Recipient(Base):
    __tablename__ = "recipients"
    __table_args__ = (
        Index("ix_recipients_email_due", "email_status", "email_next_at"),
        # The dashboard's recipient filter, which ignores case as addresses do.
        Index("ix_recipients_address_lower", text("lower(address)")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(320))
    # due -> sending -> sent | failed; "sending" older than the claim timeout is due again.
    email_status: Mapped[str] = mapped_column(String(20), default=EmailStatus.DUE)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    email_enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    email_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How the recipient joined: NULL (the request's To), "escalation" or "reassignment".
    source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Set when the recipient handed their place on: their link no longer takes answers.
    reassigned_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reassigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reassign_remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reassign_user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)

    subscription: Mapped[Subscription] = relationship(back_populates="recipients")


class Response(Base):
    """Who chose what: the audit trail. One per recipient; under the connector's policy
    (``First``) one per subscription, the first confirmed choice."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("recipient_id", name="uq_responses_recipient_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"))
    option: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)


class Reminder(Base):
    """A recipient's reminders: one row, due again after each until ``Max`` went out."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), unique=True)
    # due -> sending -> due again | done | cancelled (the request ended or the place moved)
    status: Mapped[str] = mapped_column(String(20), default=ReminderStatus.DUE)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Delivery(Base):
    """One JSON body owed to one URL on behalf of one client, until it lands or gives up."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_owner", "owner_kind", "owner_id"),
        Index("ix_deliveries_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), index=True)
    # Who it is owed for (approvals.delivery.owners): ("approval", subscription id), say.
    owner_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    webhook_id: Mapped[str] = mapped_column(String(64))
    # due -> delivering -> delivered | failed | stopped | dropped
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.DUE)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    attempts: Mapped[list[DeliveryAttempt]] = relationship(order_by="DeliveryAttempt.number")


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxMessage(Base):
    """Mail kept by the embedded ``outbox`` backend instead of being sent."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The first answer to a client's ``Idempotency-Key``, replayed for every repeat."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Operation(Base):
    """One connector operation (read, send, delete, ...) a worker runs against Graph.

    The route waits briefly for it, then hands out ``/operations/{id}``; the answer (status,
    body, content type) is kept until ``expires_at``. ``repeatable``: a worker that died while
    running it may be replaced by another; a send or reply is not repeatable (its outcome is
    unknown then, and it fails with ``outcome_unknown`` rather than going out twice).
    """

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key"),
        Index("ix_operations_status_due", "status", "due_at"),
        Index("ix_operations_expires", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"))
    name: Mapped[str] = mapped_column(String(64))  # the connector's operationId
    mailbox: Mapped[str] = mapped_column(String(320))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    repeatable: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default=OperationStatus.DUE)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    result_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)


class TriggerSubscription(Base):
    """A push subscription to one of the connector's triggers: polled on a schedule, each new
    batch owed as one delivery to ``notification_url``.

    ``cursor`` is where the next poll starts (the trigger's own state); a poll writes the next
    cursor and the batch's delivery in one transaction, so a worker that dies between the two
    has written neither, and the poll is run again from the same cursor.
    """

    __tablename__ = "trigger_subscriptions"
    __table_args__ = (Index("ix_trigger_subscriptions_poll", "poll_status", "next_poll_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(64))  # the connector's operationId
    mailbox: Mapped[str] = mapped_column(String(320))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    notification_url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(20), default=TriggerSubscriptionStatus.ACTIVE)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The next poll, claimed like any owed row (approvals.store.claims.TRIGGER_POLLS).
    poll_status: Mapped[str] = mapped_column(String(20), default=TriggerPollStatus.DUE)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    poll_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    poll_enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_poll_items: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
