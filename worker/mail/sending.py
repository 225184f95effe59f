"""Send recipients their email, exactly once as far as the service's own retries go.

Recipient rows are claimed by compare-and-set before sending and marked sent right after (a
few at a time), so a mail is sent twice only if the worker dies between the server's "250 OK"
and that commit.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from approvals.errors import MailError, OurSideMailError, PermanentMailError
from approvals.mailboxes import default_mailboxes
from approvals.observability.metrics import EMAILS
from approvals.runtime import Runtime
from approvals.store.claims import MAIL, expected_message_at
from approvals.store.models import Recipient, Response, Subscription, utcnow
from approvals.store.status import EmailStatus, SubscriptionStatus
from worker.mail.backends import MailBackend
from worker.mail.gate import SendGate
from worker.mail.message import Attachment, MailContent, OptionLink, build_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendOutcome:
    status: str  # "sent" | "failed" | "retry" | "skipped" | "cancelled"
    retry_in: float | None = None


def option_urls(runtime: Runtime, subscription_id: str, recipient_id: str, count: int) -> list[str]:
    """The recipient's links, one per option; all carry the same signed token."""
    token = runtime.links.response_token(subscription_id, recipient_id)
    return [f"{runtime.settings.base_url}/respond/{token}?option={i}" for i in range(count)]


def compose(
    runtime: Runtime,
    subscription_id: str,
    options: list[str],
    message: dict[str, Any],
    recipient_id: str,
    address: str,
    sender: str | None = None,
) -> MailContent:
    """The email for one recipient, from the message as stored (validated at intake).

    ``sender``: the mailbox it goes out from (Graph); else ``APPROVALS_MAIL_FROM``.
    """
    urls = option_urls(runtime, subscription_id, recipient_id, len(options))
    return MailContent(
        to=address,
        sender=sender or runtime.settings.mail_from,
        subject=message["Subject"],
        importance=message.get("Importance") or "Normal",
        header_text=message.get("HeaderText"),
        body=message.get("Body"),
        selection_text=message.get("SelectionText"),
        options=tuple(OptionLink(label, url) for label, url in zip(options, urls, strict=True)),
        attachments=tuple(
            Attachment(a["Name"], base64.b64decode(a["ContentBytes"]))
            for a in message.get("Attachments") or ()
        ),
        use_only_html=bool(message.get("UseOnlyHTMLMessage")),
        hide_html_message=bool(message.get("HideHTMLMessage")),
        hide_footer=bool(message.get("HideMicrosoftFooter")),
    )


def _retry_delay(schedule: tuple[float, ...], attempts: int, *, ours: bool) -> float | None:
    """Seconds until the next try; None when the schedule is spent. A problem on our side
    (``ours``) never spends it: it is retried at the schedule's last step until fixed."""
    if attempts >= len(schedule):
        if not ours:
            return None
        attempts = len(schedule) - 1
    return schedule[attempts] * random.uniform(0.8, 1.2)


SEND_GATE = SendGate()  # one per worker process: the interpreter lock is per process

# "Sent" is written after every this many messages of a batch, so a worker killed mid-batch
# sends at most this many mails twice.
RECORD_EVERY = 10


def send_batch(
    runtime: Runtime, backend: MailBackend, recipient_ids: Sequence[str]
) -> dict[str, SendOutcome]:
    """Claim, render, send and record the emails of ``recipient_ids``; an outcome for each.

    One statement claims the batch and one reads its subscriptions; the mails then go out one
    after another on this thread's connection, and "sent" is recorded for several at once.
    """
    now = utcnow()
    claimed_at = time.monotonic()
    outcomes = {recipient_id: SendOutcome("skipped") for recipient_id in recipient_ids}
    with runtime.db.engine.begin() as conn:
        claimed = MAIL.claim(
            conn,
            recipient_ids,
            now=now,
            claim_timeout=runtime.settings.claim_timeout,
            returning=(Recipient.subscription_id, Recipient.address, Recipient.email_attempts),
        )
        if not claimed:
            return outcomes
        subscriptions = {
            row.id: row
            for row in conn.execute(
                select(
                    Subscription.id,
                    Subscription.client_id,
                    Subscription.status,
                    Subscription.options,
                    Subscription.message,
                ).where(Subscription.id.in_({c.subscription_id for c in claimed}))
            )
        }
        senders = senders_for(runtime, conn, {row.client_id for row in subscriptions.values()})
        to_send = []
        for claim in claimed:
            subscription = subscriptions[claim.subscription_id]
            if subscription.status == SubscriptionStatus.PENDING:
                to_send.append((claim, subscription))
            else:
                outcomes[claim.id] = _not_needed(conn, claim.id, subscription.status)
    with SEND_GATE.turn():
        _send_claimed(runtime, backend, to_send, senders, claimed_at, outcomes)
    return outcomes


def senders_for(runtime: Runtime, conn: Connection, client_ids: set[str]) -> dict[str, str]:
    """Graph sends from each client's default mailbox, or ``APPROVALS_GRAPH_MAILBOX`` for a
    client with none; the other backends from ``APPROVALS_MAIL_FROM`` (an empty map)."""
    if runtime.settings.mail_backend != "graph":
        return {}
    own = default_mailboxes(conn, client_ids)
    fallback = runtime.settings.graph_mailbox
    return {client_id: own.get(client_id, fallback) for client_id in client_ids}


def _send_claimed(
    runtime: Runtime,
    backend: MailBackend,
    to_send: list[tuple[Row[Any], Row[Any]]],
    senders: dict[str, str],
    claimed_at: float,
    outcomes: dict[str, SendOutcome],
) -> None:
    """Send one after another on this thread's connection; record "sent" a few at a time."""
    sent: list[str] = []
    for index, (claim, subscription) in enumerate(to_send):
        if time.monotonic() - claimed_at > runtime.settings.claim_timeout / 2:
            # A slow mail server: give the rest back before their claims could lapse and
            # another worker send them too.
            rest = [waiting.id for waiting, _ in to_send[index:]]
            _put_back(runtime, rest)
            outcomes.update((recipient_id, SendOutcome("retry", 0.0)) for recipient_id in rest)
            break
        try:
            message = build_message(
                compose(
                    runtime,
                    claim.subscription_id,
                    subscription.options,
                    subscription.message,
                    claim.id,
                    claim.address,
                    senders.get(subscription.client_id),
                )
            )
        except ValueError as exc:  # this recipient's mail cannot be written; the rest can
            error = PermanentMailError(f"cannot build the message: {exc}")
            outcomes[claim.id] = _record_failure(runtime, claim.id, claim.email_attempts, error)
            continue
        started = time.monotonic()
        try:
            backend.send(message, recipient_id=claim.id)
        except MailError as exc:
            outcomes[claim.id] = _record_failure(runtime, claim.id, claim.email_attempts, exc)
            continue
        finally:
            SEND_GATE.observe(time.monotonic() - started)
        sent.append(claim.id)
        EMAILS.labels(runtime.settings.mail_backend, "sent").inc()
        log.info(
            "email sent",
            extra={"subscription_id": claim.subscription_id, "recipient_id": claim.id},
        )
        outcomes[claim.id] = SendOutcome("sent")
        if len(sent) >= RECORD_EVERY:
            _record_sent(runtime, sent)
            sent = []
    _record_sent(runtime, sent)


def _not_needed(conn: Connection, recipient_id: str, status: str) -> SendOutcome:
    """Settle a claimed mail whose subscription is no longer pending."""
    answered_at = conn.scalar(
        select(Response.responded_at).where(Response.recipient_id == recipient_id)
    )
    if answered_at is not None:
        # A worker died after the server took this mail and before it said so, and the
        # recipient has answered through it since: it was certainly sent.
        values: dict[str, Any] = {
            "email_status": EmailStatus.SENT,
            "sent_at": answered_at,
            "email_error": None,
        }
    else:
        # Answered, cancelled or expired before this mail went out: nobody needs it.
        values = {
            "email_status": EmailStatus.CANCELLED,
            "email_error": f"not sent: subscription {status}",
        }
    conn.execute(update(Recipient).where(Recipient.id == recipient_id).values(**values))
    return SendOutcome(values["email_status"])


def _record_failure(
    runtime: Runtime, recipient_id: str, attempts: int, exc: MailError
) -> SendOutcome:
    delay = (
        None
        if isinstance(exc, PermanentMailError)
        else _retry_delay(
            runtime.settings.mail_retry_schedule, attempts, ours=isinstance(exc, OurSideMailError)
        )
    )
    values: dict[str, object] = {"email_error": str(exc)[:2000]}
    if delay is None:
        values["email_status"] = EmailStatus.FAILED
    else:
        next_at = utcnow() + timedelta(seconds=delay)
        values.update(
            email_status=EmailStatus.DUE,
            email_next_at=next_at,
            email_enqueued_at=expected_message_at(next_at, delay),
        )
    with runtime.db.engine.begin() as conn:
        conn.execute(
            update(Recipient)
            .where(Recipient.id == recipient_id, Recipient.email_status == EmailStatus.SENDING)
            .values(**values)
        )
    outcome = SendOutcome("failed") if delay is None else SendOutcome("retry", delay)
    EMAILS.labels(runtime.settings.mail_backend, outcome.status).inc()
    log.warning(
        "email not sent (%s): %s",
        outcome.status,
        str(exc)[:500],
        extra={"recipient_id": recipient_id},
    )
    return outcome


def _put_back(runtime: Runtime, recipient_ids: list[str]) -> None:
    """Undo claims without counting an attempt; the task enqueues them again at once."""
    with runtime.db.engine.begin() as conn:
        MAIL.give_back(conn, recipient_ids, due=utcnow(), message_expected=True)


def _record_sent(runtime: Runtime, recipient_ids: list[str]) -> None:
    if not recipient_ids:
        return
    with runtime.db.engine.begin() as conn:
        conn.execute(
            update(Recipient)
            .where(Recipient.id.in_(recipient_ids))
            .values(email_status=EmailStatus.SENT, sent_at=utcnow(), email_error=None)
        )
