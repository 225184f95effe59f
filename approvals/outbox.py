"""Reading the outbox backend's mail (the embedded default keeps it instead of sending it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from approvals.store.models import OutboxMessage, Recipient, Subscription


def list_messages(
    session: Session, client_id: str | None = None, limit: int = 100
) -> list[OutboxMessage]:
    """Newest first; with ``client_id`` only mail of that client's subscriptions."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if client_id is not None:
        query = (
            query.join(Recipient, Recipient.id == OutboxMessage.recipient_id)
            .join(Subscription, Subscription.id == Recipient.subscription_id)
            .where(Subscription.client_id == client_id)
        )
    return list(session.scalars(query))


def get_message(
    session: Session, message_id: int, client_id: str | None = None
) -> OutboxMessage | None:
    for message in [session.get(OutboxMessage, message_id)]:
        if message is None or client_id is None:
            return message
        recipient = session.get(Recipient, message.recipient_id) if message.recipient_id else None
        if recipient is None or recipient.subscription.client_id != client_id:
            return None
        return message
    return None
