"""Celery tasks: thin, by id, ``acks_late``; the database says what is owed (DESIGN 4)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Protocol

from celery import Task, shared_task
from celery.signals import worker_ready

from approvals.policies.escalation import escalate_due
from approvals.policies.expiry import expire_due
from approvals.policies.reminders import REMINDERS
from approvals.runtime import Runtime
from approvals.store.claims import DELIVERIES, MAIL, MAX_COUNTDOWN_SECONDS, OPERATIONS
from approvals.store.jobs import Job
from approvals.store.models import utcnow
from worker.celery_app import batches
from worker.mail.backends import MailBackend, backend_for
from worker.mail.reminding import send_reminders as send_reminder_batch
from worker.mail.sending import send_batch
from worker.operations.runner import (
    BUSY_MAILBOX_DELAY_SECONDS,
    fail_unknown_outcomes,
    forget_expired,
    run_batch,
)
from worker.runtime import current_runtime
from worker.triggers.polling import due_polls, poll_batch
from worker.webhooks.delivery import connection_pool, deliver_batch, recorder
from worker.webhooks.receivers import receivers

log = logging.getLogger(__name__)

SWEEP_BATCH = 500


class Retryable(Protocol):
    status: str
    retry_in: float | None


def _again_soon(task: Task, outcomes: Mapping[str, Retryable]) -> None:
    """Re-enqueue with a countdown what is due again soon; later retries wait for the sweeper."""
    by_delay: dict[float, list[str]] = {}
    for item_id, outcome in outcomes.items():
        if outcome.retry_in is not None and outcome.retry_in <= MAX_COUNTDOWN_SECONDS:
            by_delay.setdefault(outcome.retry_in, []).append(item_id)
    for delay, ids in by_delay.items():
        for batch in batches(ids):
            task.apply_async(args=(batch,), countdown=delay)


def _ids(value: str | list[str]) -> list[str]:
    """A message carries a list of ids (one id alone, from before batches, is still read)."""
    return [value] if isinstance(value, str) else list(value)


def _tally(outcomes: Mapping[str, Retryable]) -> dict[str, int]:
    return dict(Counter(outcome.status for outcome in outcomes.values()))


_backends: dict[int, MailBackend] = {}


def mail_backend(runtime: Runtime) -> MailBackend:
    """One backend per process and runtime, so SMTP connections are kept between messages."""
    backend = _backends.get(id(runtime))
    if backend is None:
        backend = _backends[id(runtime)] = backend_for(runtime.settings, runtime.db)
    return backend


@shared_task(bind=True, acks_late=True, name=Job.SEND_MAIL)
def send_recipient_mail(self: Task, recipient_ids: str | list[str]) -> dict[str, int]:
    runtime = current_runtime()
    outcomes = send_batch(runtime, mail_backend(runtime), _ids(recipient_ids))
    _again_soon(self, outcomes)
    return _tally(outcomes)


@shared_task(bind=True, acks_late=True, name=Job.SEND_REMINDER)
def send_reminders(self: Task, reminder_ids: str | list[str]) -> dict[str, int]:
    """Reminders of a policy request (issue 17); a failed one waits for the sweeper."""
    runtime = current_runtime()
    outcomes = send_reminder_batch(runtime, mail_backend(runtime), _ids(reminder_ids))
    return dict(Counter(outcomes.values()))


@shared_task(bind=True, acks_late=True, name=Job.DELIVER_CALLBACK)
def deliver_callback(self: Task, delivery_ids: str | list[str]) -> dict[str, int]:
    """Claim the batch and hand it to the receivers' threads; returns without waiting.

    A delivery claimed here and then lost with the process is due again once its claim lapses.
    """
    settled = deliver_batch(
        current_runtime(), _ids(delivery_ids), then=lambda outcomes: _again_soon(self, outcomes)
    )
    return _tally(settled)


@shared_task(bind=True, acks_late=True, name=Job.RUN_OPERATION)
def run_operations(self: Task, operation_ids: str | list[str]) -> dict[str, int]:
    """Run connector operations against Graph, one after another on this thread; those whose
    mailbox is busy come back shortly."""
    outcomes = run_batch(current_runtime(), _ids(operation_ids))
    busy = [operation_id for operation_id, status in outcomes.items() if status == "busy"]
    if busy:
        self.apply_async(args=(busy,), countdown=BUSY_MAILBOX_DELAY_SECONDS)
    return dict(Counter(outcomes.values()))


@shared_task(bind=True, acks_late=True, name=Job.POLL_TRIGGER)
def poll_trigger_subscriptions(self: Task, subscription_ids: str | list[str]) -> dict[str, int]:
    """Poll push trigger subscriptions against Graph, then enqueue each one's next poll for
    when it is due (a busy mailbox's shortly); beat enqueues what no message is expected for."""
    outcomes = poll_batch(current_runtime(), _ids(subscription_ids))
    for subscription_id, outcome in outcomes.items():
        if outcome.retry_in is not None and outcome.retry_in <= MAX_COUNTDOWN_SECONDS:
            self.apply_async(args=([subscription_id],), countdown=outcome.retry_in)
    return _tally(outcomes)


@shared_task(bind=True, acks_late=True, name=Job.SCHEDULE_TRIGGER_POLLS)
def schedule_trigger_polls(self: Task) -> int:
    """Beat's look for push trigger subscriptions due a poll: one message each."""
    due = due_polls(current_runtime())
    with self.app.producer_or_acquire() as producer:
        for subscription_id in due:
            poll_trigger_subscriptions.apply_async(([subscription_id],), producer=producer)
    return len(due)


@worker_ready.connect
def warm_up(**_kwargs: object) -> None:
    """Build the callbacks' connection pool and threads before the first message, not for it.

    The pool's TLS context alone takes 20-100 ms: the first person to confirm after a start
    would wait for it.
    """
    runtime = current_runtime()
    connection_pool(runtime)
    receivers()
    recorder()


@shared_task(bind=True, acks_late=True, name=Job.SWEEP)
def sweep(self: Task) -> dict[str, int]:
    """Expire what is past due and enqueue every owed row whose broker message went missing."""
    runtime = current_runtime()
    settings = runtime.settings
    now = utcnow()
    with runtime.db.session() as session:
        expired = expire_due(session, now)
    with runtime.db.session() as session:
        escalated = escalate_due(session, now)
    with runtime.db.engine.begin() as conn:
        delivery_ids = DELIVERIES.take_for_enqueue(
            conn, now=now, claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH
        )
        recipient_ids = MAIL.take_for_enqueue(
            conn, now=now, claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH
        )
        operation_ids = OPERATIONS.take_for_enqueue(
            conn, now=now, claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH
        )
        reminder_ids = REMINDERS.take_for_enqueue(
            conn, now=now, claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH
        )
    unknown = fail_unknown_outcomes(runtime)
    forgotten = forget_expired(runtime)
    with self.app.producer_or_acquire() as producer:
        for batch in batches(delivery_ids):
            deliver_callback.apply_async((batch,), producer=producer)
        for batch in batches(recipient_ids):
            send_recipient_mail.apply_async((batch,), producer=producer)
        for operation_id in operation_ids:
            run_operations.apply_async(([operation_id],), producer=producer)
        for batch in batches(reminder_ids):
            send_reminders.apply_async((batch,), producer=producer)
    counts = {
        "expired": expired,
        "escalated": escalated,
        "reminders": len(reminder_ids),
        "mail": len(recipient_ids),
        "callbacks": len(delivery_ids),
        "operations": len(operation_ids),
        "outcome_unknown": unknown,
        "results_forgotten": forgotten,
    }
    if any(counts.values()):
        log.info("sweep: %s", ", ".join(f"{name} {n}" for name, n in counts.items()))
    return counts
