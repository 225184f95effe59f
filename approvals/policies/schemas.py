"""The request fields of issue 17, as pydantic models: they validate and document the API.

All optional: a request without them is decided by its first answer, as the connector's is.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from approvals.policies.durations import Duration

MAX_REMINDERS = 20
POLICY_TYPES = ("First", "All", "Quorum", "Collect")


class ApprovalPolicy(BaseModel):
    """How the request is decided."""

    model_config = ConfigDict(extra="forbid")

    Type: Literal["First", "All", "Quorum", "Collect"] = Field(
        "First",
        description="First: the first answer decides (the connector's behaviour). All: every "
        "recipient must choose the first option; any other choice decides at once. Quorum: "
        "Count recipients choosing the same option decide it; once no option can reach Count "
        "the request ends undecided. Collect: wait for every answer; the option chosen most "
        "is reported (undecided on a tie).",
    )
    Count: int | None = Field(
        None, ge=1, le=500, description="Quorum only: how many matching answers decide"
    )


class ReminderSchedule(BaseModel):
    """Reminder emails to recipients who have not answered, while the request is undecided."""

    model_config = ConfigDict(extra="forbid")

    After: Duration = Field(description="First reminder this long after the request")
    Every: Duration | None = Field(None, description="Then one every this long (default After)")
    Max: int = Field(1, ge=1, le=MAX_REMINDERS, description="At most this many reminders")


class EscalationRule(BaseModel):
    """More recipients, added once if the request is still undecided after a while."""

    model_config = ConfigDict(extra="forbid")

    After: Duration = Field(description="How long after the request")
    To: str = Field(
        min_length=1,
        description="Email addresses separated by semicolons (checked with the request's To)",
    )

    def addresses(self) -> list[str]:
        return self.To.split(";")


class PolicyResponse(BaseModel):
    """One recorded answer, as callbacks and GET report it."""

    UserEmailAddress: str
    UserId: str
    SelectedOption: str
    Comment: str
    RespondedAt: str


class PolicyFields(BaseModel):
    """The optional fields both subscription bodies accept beyond the connector's."""

    Policy: ApprovalPolicy | None = None
    Reminders: ReminderSchedule | None = None
    Escalation: EscalationRule | None = None
    AllowReassign: bool = Field(
        False, description="Recipients may hand their place to another address"
    )
    ExpiresAfter: Duration | None = Field(
        None,
        description="The request expires this long after it is made (capped by "
        "APPROVALS_EXPIRY_DAYS)",
    )
    NotifyOnExpiry: bool = Field(
        True,
        description="POST a callback with Outcome 'expired' when the request expires "
        "undecided (never after a DELETE)",
    )
    RequireComment: list[str] | None = Field(
        None, description='Options whose confirmation needs a comment, e.g. ["Reject"]'
    )

    def check_policy(self, options: list[str], recipients: int) -> None:
        """What one field cannot check alone: named options exist, a quorum can be reached."""
        for name in self.RequireComment or ():
            if name not in options:
                raise PydanticCustomError(
                    "invalid_policy",
                    "RequireComment names '{name}', which is not one of the options",
                    {"name": name},
                )
        policy = self.Policy
        if policy is not None and policy.Type == "Quorum":
            reachable = recipients + (len(self.Escalation.addresses()) if self.Escalation else 0)
            if policy.Count is None:
                raise PydanticCustomError("invalid_policy", "a Quorum policy needs a Count")
            if policy.Count > reachable:
                raise PydanticCustomError(
                    "invalid_policy",
                    "Quorum Count {count} is more than the {n} recipients",
                    {"count": policy.Count, "n": reachable},
                )

    def stored(self) -> dict[str, Any] | None:
        """What the subscription keeps (``policy`` column); None when nothing was asked beyond
        the connector's behaviour, so such a request takes exactly today's path."""
        given = self.model_dump(
            mode="json",
            include=set(PolicyFields.model_fields),
            exclude_unset=True,
            exclude_none=True,
        )
        if not given:
            return None
        given.setdefault("Policy", {"Type": "First"})
        given.setdefault("NotifyOnExpiry", True)
        return given
