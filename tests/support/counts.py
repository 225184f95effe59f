"""What the database holds for one subscription, counted from the outside."""

from __future__ import annotations

from sqlalchemy import func, select

from approvals.store.models import Delivery, Response
from tests.support.stack import Stack


def rows(stack: Stack, subscription_id: str) -> tuple[int, int]:
    """How many responses and callbacks the database holds for the subscription."""
    with stack.db.session() as session:
        responses = session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.subscription_id == subscription_id)
        )
        deliveries = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.owner_kind == "approval", Delivery.owner_id == subscription_id)
        )
    return responses or 0, deliveries or 0
