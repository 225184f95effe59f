"""The body of ``POST <trigger path>/$subscriptions``: where to send batches, and the
trigger's parameters (the same names and defaults as its polling path's query)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from approvals.approval.schemas import normalise_url


class TriggerSubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    NotificationUrl: str = Field(
        description='Where each new batch is POSTed as {"value": [...]} (signed, retried)'
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The trigger's parameters, as its polling path takes"
    )

    @field_validator("NotificationUrl")
    @classmethod
    def _url(cls, value: str) -> str:
        return normalise_url(value)
