"""A subscription's stored ``policy`` read back as typed settings (absent fields defaulted)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from approvals.policies.durations import seconds


@dataclass(frozen=True)
class ReminderPlan:
    after: float
    every: float
    max: int


@dataclass(frozen=True)
class PolicySettings:
    type: str = "First"
    count: int | None = None
    reminders: ReminderPlan | None = None
    allow_reassign: bool = False
    notify_on_expiry: bool = True
    require_comment: tuple[str, ...] = ()

    @property
    def first(self) -> bool:
        """The connector's rule: the first answer decides."""
        return self.type == "First"

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> PolicySettings:
        if not stored:
            return cls()
        policy = stored.get("Policy") or {}
        plan = stored.get("Reminders")
        reminders = None
        if plan:
            after = seconds(plan["After"])
            reminders = ReminderPlan(
                after, seconds(plan["Every"]) if plan.get("Every") else after, plan.get("Max", 1)
            )
        return cls(
            type=policy.get("Type", "First"),
            count=policy.get("Count"),
            reminders=reminders,
            allow_reassign=bool(stored.get("AllowReassign")),
            notify_on_expiry=stored.get("NotifyOnExpiry", True),
            require_comment=tuple(stored.get("RequireComment") or ()),
        )
