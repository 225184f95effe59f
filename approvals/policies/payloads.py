"""What a policy request's callback says: the connector's fields, ``Outcome`` and every answer.

For the ``First`` policy a decided request keeps the connector's body unchanged
(:func:`approvals.approval.responses.callback_payload`); these are for everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from approvals.timefmt import iso


@dataclass(frozen=True)
class Answer:
    """One recipient's recorded answer, as reports show it."""

    recipient_id: str
    address: str
    option: str
    comment: str
    responded_at: datetime


def answer_body(answer: Answer) -> dict[str, Any]:
    return {
        "UserEmailAddress": answer.address,
        "UserId": answer.recipient_id,
        "SelectedOption": answer.option,
        "Comment": answer.comment,
        "RespondedAt": iso(answer.responded_at),
    }


def outcome_payload(
    subscription_id: str,
    outcome: str,
    option: str | None,
    answers: Sequence[Answer],
) -> dict[str, Any]:
    """The connector's ``ApprovalEmailResponse`` fields carry the deciding answer (the last one
    for the decided option; none when undecided or expired), then ``Outcome`` and
    ``Responses``."""
    deciding = next((a for a in reversed(answers) if option and a.option == option), None)
    return {
        "SelectedOption": option,
        "UserEmailAddress": deciding.address if deciding else None,
        "UserTenantId": None,
        "UserId": deciding.recipient_id if deciding else None,
        "SubscriptionId": subscription_id,
        "Comment": deciding.comment if deciding else "",
        "RespondedAt": iso(deciding.responded_at) if deciding else None,
        "Outcome": outcome,
        "Responses": [answer_body(a) for a in answers],
    }
