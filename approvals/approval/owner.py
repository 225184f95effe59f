"""Approval subscriptions as owners of deliveries: a cancelled one owes nothing.

An expired one owes its ``expired`` callback (issue 17), so expiry no longer closes it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from approvals.delivery.owners import register_owner
from approvals.store.models import Subscription
from approvals.store.status import SubscriptionStatus

KIND = "approval"


def owner(subscription_id: str) -> tuple[str, str]:
    """The owner a subscription's callbacks name."""
    return (KIND, subscription_id)


class ApprovalOwner:
    kind = KIND

    def closed(self, conn: Connection, ids: Collection[str]) -> set[str]:
        return set(
            conn.scalars(
                select(Subscription.id).where(
                    Subscription.id.in_(list(ids)),
                    Subscription.status == SubscriptionStatus.CANCELLED,
                )
            )
        )


register_owner(ApprovalOwner())
