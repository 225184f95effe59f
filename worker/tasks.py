"""Celery tasks: thin, by id, ``acks_late``; the database says what is owed (DESIGN 4)."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from flask import current_app

from approvals.deliveries import deliveries_to_enqueue
from approvals.runtime import Runtime, current_runtime
from approvals.store.claims import MAX_COUNTDOWN_SECONDS
from approvals.store.models import utcnow
from approvals.subscriptions import expire_due
from worker.celery_app import DELIVER_CALLBACK, SEND_RECIPIENT_MAIL, SWEEP_TASK
from worker.mail.backends import MailBackend, backend_for
from worker.mail.sending import recipients_to_enqueue, send_to_recipient
from worker.webhooks.delivery import deliver

log = logging.getLogger(__name__)

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
    """Expire what is past due and enqueue every owed row whose broker message went missing."""
    runtime = current_runtime()
    settings = runtime.settings
    now = utcnow()
    with runtime.db.session() as session:
        expired = expire_due(session, now)
    with runtime.db.engine.begin() as conn:
        delivery_ids = deliveries_to_enqueue(
            conn, now=now, claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH
        )
        recipient_ids = recipients_to_enqueue(
            conn, now=now, claim_timeout=settings.claim_timeout, limit=SWEEP_BATCH
        )
    with current_app.extensions["celery"].producer_or_acquire() as producer:
        for delivery_id in delivery_ids:
            deliver_callback.apply_async((delivery_id,), producer=producer)
        for recipient_id in recipient_ids:
            send_recipient_mail.apply_async((recipient_id,), producer=producer)
    if expired or recipient_ids or delivery_ids:
        log.info(
            "sweep: expired %d, mail %d, callbacks %d",
            expired,
            len(recipient_ids),
            len(delivery_ids),
        )
    return {"expired": expired, "mail": len(recipient_ids), "callbacks": len(delivery_ids)}
