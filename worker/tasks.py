"""Celery tasks: thin, by id, ``acks_late``; the database says what is owed (DESIGN 4)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task

from approvals.deliveries import owed_delivery_ids
from approvals.runtime import Runtime, current_runtime
from approvals.store.models import utcnow
from approvals.subscriptions import expire_due
from worker.celery_app import DELIVER_CALLBACK, SEND_RECIPIENT_MAIL, SWEEP_TASK
from worker.mail.backends import MailBackend, backend_for
from worker.mail.sending import owed_recipient_ids, send_to_recipient
from worker.webhooks.delivery import deliver

log = logging.getLogger(__name__)

# Retries sooner than this ride on a Celery countdown; later ones wait for the sweeper.
MAX_COUNTDOWN_SECONDS = 120
SWEEP_BATCH = 500


def _again_soon(task: Task, item_id: str, delay: float | None) -> None:
    if delay is not None and delay <= MAX_COUNTDOWN_SECONDS:
        task.apply_async(args=(item_id,), countdown=delay)


_backends: dict[int, MailBackend] = {}


def mail_backend(runtime: Runtime) -> MailBackend:
    """One backend per process and runtime, so SMTP connections are kept between messages."""
    backend = _backends.get(id(runtime))
    if backend is None:
        backend = _backends[id(runtime)] = backend_for(runtime.settings, runtime.db)
    return backend


@shared_task(bind=True, acks_late=True, name=SEND_RECIPIENT_MAIL)
def send_recipient_mail(self: Task, recipient_id: str) -> str:
    runtime = current_runtime()
    outcome = send_to_recipient(runtime, mail_backend(runtime), recipient_id)
    _again_soon(self, recipient_id, outcome.retry_in)
    return outcome.status


@shared_task(bind=True, acks_late=True, name=DELIVER_CALLBACK)
def deliver_callback(self: Task, delivery_id: str) -> str:
    outcome = deliver(current_runtime(), delivery_id)
    _again_soon(self, delivery_id, outcome.retry_in)
    return outcome.status


@shared_task(acks_late=True, name=SWEEP_TASK)
def sweep() -> dict[str, int]:
    """Expire what is past due and re-enqueue every row that is owed but not in flight."""
    runtime = current_runtime()
    settings = runtime.settings
    # Rows due only a moment ago were just enqueued by whoever made them due.
    grace = min(settings.sweep_interval, 5.0)
    with runtime.db.session() as session:
        expired = expire_due(session)
        delivery_ids = owed_delivery_ids(
            session,
            now=utcnow() - timedelta(seconds=grace),
            claim_timeout=settings.claim_timeout,
            limit=SWEEP_BATCH,
        )
    recipient_ids = owed_recipient_ids(runtime, SWEEP_BATCH, grace)
    for recipient_id in recipient_ids:
        send_recipient_mail.delay(recipient_id)
    for delivery_id in delivery_ids:
        deliver_callback.delay(delivery_id)
    if expired or recipient_ids or delivery_ids:
        log.info(
            "sweep: expired %d, mail %d, callbacks %d",
            expired,
            len(recipient_ids),
            len(delivery_ids),
        )
    return {"expired": expired, "mail": len(recipient_ids), "callbacks": len(delivery_ids)}
