"""Push trigger subscriptions as owners of deliveries: a deleted one owes nothing more."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from approvals.delivery.owners import register_owner
from approvals.store.models import TriggerSubscription
from approvals.store.status import TriggerSubscriptionStatus

KIND = "trigger"


def owner(subscription_id: str) -> tuple[str, str]:
    """The owner a trigger subscription's deliveries name."""
    return (KIND, subscription_id)


class TriggerOwner:
    kind = KIND

    def closed(self, conn: Connection, ids: Collection[str]) -> set[str]:
        return set(
            conn.scalars(
                select(TriggerSubscription.id).where(
                    TriggerSubscription.id.in_(list(ids)),
                    TriggerSubscription.status == TriggerSubscriptionStatus.DELETED,
                )
            )
        )


register_owner(TriggerOwner())
