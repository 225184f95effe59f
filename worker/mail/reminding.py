"""Send due reminders: the recipient's own email again, "Reminder:" before its subject.

Claimed like mail (:mod:`approvals.policies.reminders`); a reminder whose request ended, or
whose recipient answered or handed on, is cancelled at the claim instead of sent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from approvals.errors import MailError
from approvals.policies.reminders import claim_reminders, give_back, record_sent
from approvals.runtime import Runtime
from approvals.store.models import utcnow
from worker.mail.backends import MailBackend
from worker.mail.message import build_message
from worker.mail.sending import compose, senders_for

REMINDER_PREFIX = "Reminder: "


def send_reminders(
    runtime: Runtime, backend: MailBackend, reminder_ids: Sequence[str]
) -> dict[str, str]:
    """Claim, send and record the reminders of ``reminder_ids``; an outcome for each."""
    outcomes = {reminder_id: "skipped" for reminder_id in reminder_ids}
    with runtime.db.engine.begin() as conn:
        claimed = claim_reminders(
            conn, reminder_ids, now=utcnow(), claim_timeout=runtime.settings.claim_timeout
        )
        senders = senders_for(runtime, conn, {r.client_id for r in claimed})
    for reminder in claimed:
        content = compose(
            runtime,
            reminder.subscription_id,
            reminder.options,
            dict(reminder.message),
            reminder.recipient_id,
            reminder.address,
            senders.get(reminder.client_id),
        )
        content = replace(content, subject=REMINDER_PREFIX + content.subject)
        try:
            backend.send(build_message(content), recipient_id=reminder.recipient_id)
        except (MailError, ValueError):
            # Tried again on the mail schedule's last step, by the sweeper.
            delay = runtime.settings.mail_retry_schedule[-1] * random.uniform(0.8, 1.2)
            with runtime.db.engine.begin() as conn:
                give_back(conn, reminder.id, utcnow() + timedelta(seconds=delay))
            outcomes[reminder.id] = "retry"
            continue
        with runtime.db.engine.begin() as conn:
            record_sent(conn, reminder, utcnow())
        outcomes[reminder.id] = "sent"
    return outcomes
