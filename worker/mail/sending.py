"""Send one recipient their email, exactly once as far as the service's own retries go.

The recipient row is claimed by compare-and-set before sending and marked sent right after, so
a mail is sent twice only if the worker dies between the server's "250 OK" and that commit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from approvals.runtime import Runtime
from approvals.schemas import ApprovalMessage
from approvals.store.claims import owed_now
from approvals.store.models import Recipient, Subscription, utcnow
from worker.mail.backends import MailBackend, MailError, PermanentMailError
from worker.mail.message import Attachment, MailContent, OptionLink, build_message


@dataclass(frozen=True)
class SendOutcome:
    status: str  # "sent" | "failed" | "retry" | "skipped" | "cancelled"
    retry_in: float | None = None


def claimable(now: datetime, claim_timeout: float) -> ColumnElement[bool]:
    """Recipients whose mail is owed now (see approvals.store.claims)."""
    return owed_now(
        Recipient.email_status,
        Recipient.email_next_at,
        Recipient.email_claimed_at,
        working="sending",
        now=now,
        claim_timeout=claim_timeout,
    )


def option_url(runtime: Runtime, subscription_id: str, recipient_id: str, index: int) -> str:
    token = runtime.links.response_token(subscription_id, recipient_id)
    return f"{runtime.settings.base_url}/respond/{token}?option={index}"


def compose(runtime: Runtime, subscription: Subscription, recipient: Recipient) -> MailContent:
    message = ApprovalMessage.model_validate(subscription.message)
    return MailContent(
        to=recipient.address,
        sender=runtime.settings.mail_from,
        subject=message.Subject,
        importance=message.Importance,
        header_text=message.HeaderText,
        body=message.Body,
        selection_text=message.SelectionText,
        options=tuple(
            OptionLink(label, option_url(runtime, subscription.id, recipient.id, index))
            for index, label in enumerate(subscription.options)
        ),
        attachments=tuple(Attachment(a.Name, a.content()) for a in message.Attachments or ()),
        use_only_html=message.UseOnlyHTMLMessage,
        hide_html_message=message.HideHTMLMessage,
        hide_footer=message.HideMicrosoftFooter,
    )


def _retry_delay(schedule: tuple[float, ...], attempts: int) -> float | None:
    if attempts >= len(schedule):
        return None
    return schedule[attempts] * random.uniform(0.8, 1.2)


def send_to_recipient(runtime: Runtime, backend: MailBackend, recipient_id: str) -> SendOutcome:
    """Claim, render, send and record one recipient's email."""
    now = utcnow()
    settings = runtime.settings
    with runtime.db.session() as session:
        claimed = session.execute(
            update(Recipient)
            .where(Recipient.id == recipient_id, claimable(now, settings.claim_timeout))
            .values(
                email_status="sending",
                email_claimed_at=now,
                email_attempts=Recipient.email_attempts + 1,
            )
        ).rowcount
        if not claimed:
            return SendOutcome("skipped")
        recipient = session.get(Recipient, recipient_id)
        assert recipient is not None
        subscription = recipient.subscription
        if subscription.status != "pending":
            # Answered, cancelled or expired before this mail went out: nobody needs it now.
            recipient.email_status = "cancelled"
            recipient.email_error = f"not sent: subscription {subscription.status}"
            return SendOutcome("cancelled")
        content = compose(runtime, subscription, recipient)
        attempts = recipient.email_attempts
    try:
        backend.send(build_message(content), recipient_id=recipient_id)
    except MailError as exc:
        delay = (
            None
            if isinstance(exc, PermanentMailError)
            else _retry_delay(settings.mail_retry_schedule, attempts)
        )
        with runtime.db.session() as session:
            values: dict[str, object] = {"email_error": str(exc)[:2000]}
            if delay is None:
                values["email_status"] = "failed"
            else:
                values.update(email_status="due", email_next_at=utcnow() + timedelta(seconds=delay))
            session.execute(
                update(Recipient)
                .where(Recipient.id == recipient_id, Recipient.email_status == "sending")
                .values(**values)
            )
        return SendOutcome("failed") if delay is None else SendOutcome("retry", delay)
    with runtime.db.session() as session:
        session.execute(
            update(Recipient)
            .where(Recipient.id == recipient_id)
            .values(email_status="sent", sent_at=utcnow(), email_error=None)
        )
    return SendOutcome("sent")


def owed_recipient_ids(runtime: Runtime, limit: int, grace: float) -> list[str]:
    """Recipients whose mail is owed and was not picked up within ``grace`` seconds."""
    now = utcnow() - timedelta(seconds=grace)
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(Recipient.id)
                .where(claimable(now, runtime.settings.claim_timeout))
                .order_by(Recipient.email_next_at)
                .limit(limit)
            )
        )
