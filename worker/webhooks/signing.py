"""Standard Webhooks headers: one ``webhook-id`` per delivery, a fresh timestamp per attempt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

import approvals


def signed_headers(
    secrets: Sequence[str], webhook_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """Headers for one attempt, signed with every secret given (space-separated, per spec)."""
    now = now or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "user-agent": f"approvals/{approvals.__version__} (webhook delivery)",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(webhook_id, now, body) for s in secrets),
    }
