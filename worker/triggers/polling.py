"""Push trigger subscriptions: find the due ones, poll each against Graph, record the batch.

Beat runs :func:`due_polls` every few seconds; each due subscription becomes one message on
the ``graph`` queue. :func:`poll_batch` claims it (compare-and-set: never two polls of one
subscription at once), asks its trigger what is new since its cursor and writes the next
cursor and the batch's delivery in one transaction
(:func:`approvals.triggers.subscriptions.record_poll`). A worker killed after Graph answered
and before that commit has written nothing: the claim lapses, the poll runs again from the
same cursor, and the batch is delivered once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Row

from approvals.runtime import Runtime
from approvals.store.claims import TRIGGER_POLLS
from approvals.store.models import TriggerSubscription, utcnow
from approvals.triggers import subscriptions
from worker.graph.client import GraphError, graph_client
from worker.operations.runner import BUSY_MAILBOX_DELAY_SECONDS
from worker.triggers.catalog import TRIGGERS

log = logging.getLogger(__name__)

DUE_BATCH = 500


@dataclass(frozen=True)
class PollOutcome:
    """How one subscription's poll ended, and in how many seconds the next one is due (the
    task enqueues it with that countdown; None: beat will)."""

    status: str  # delivered, nothing_new, failed, busy, superseded
    retry_in: float | None = None


def due_polls(runtime: Runtime) -> list[str]:
    """Subscriptions whose poll is due (or whose poller vanished) and not yet enqueued."""
    with runtime.db.engine.begin() as conn:
        return TRIGGER_POLLS.take_for_enqueue(
            conn, now=utcnow(), claim_timeout=runtime.settings.claim_timeout, limit=DUE_BATCH
        )


def poll_batch(runtime: Runtime, subscription_ids: Sequence[str]) -> dict[str, PollOutcome]:
    """Poll whichever of ``subscription_ids`` are due; each one's outcome (``busy``: its
    mailbox had no free slot, so it was given back for the caller to enqueue again)."""
    settings = runtime.settings
    with runtime.db.engine.begin() as conn:
        claimed = TRIGGER_POLLS.claim(
            conn,
            subscription_ids,
            now=utcnow(),
            claim_timeout=settings.claim_timeout,
            returning=(
                TriggerSubscription.client_id,
                TriggerSubscription.trigger,
                TriggerSubscription.mailbox,
                TriggerSubscription.params,
                TriggerSubscription.cursor,
                TriggerSubscription.notification_url,
                TriggerSubscription.poll_claimed_at,
            ),
        )
    graph = graph_client(settings)
    outcomes: dict[str, PollOutcome] = {}
    busy: list[str] = []
    for row in claimed:
        if not graph.reserve(row.mailbox):
            busy.append(row.id)
            continue
        try:
            outcomes[row.id] = _poll(runtime, row)
        finally:
            graph.unreserve(row.mailbox)
    if busy:
        later = utcnow() + timedelta(seconds=BUSY_MAILBOX_DELAY_SECONDS)
        with runtime.db.engine.begin() as conn:
            TRIGGER_POLLS.give_back(conn, busy, due=later, message_expected=True)
        outcomes.update(
            (subscription_id, PollOutcome("busy", BUSY_MAILBOX_DELAY_SECONDS))
            for subscription_id in busy
        )
    return outcomes


def _poll(runtime: Runtime, row: Row[Any]) -> PollOutcome:
    settings = runtime.settings
    trigger = TRIGGERS.get(row.trigger)
    error: str | None = None
    retry_in = settings.trigger_interval
    try:
        if trigger is None:
            raise GraphError(501, "unknown_trigger", f"this worker cannot poll {row.trigger}")
        with runtime.db.session() as session:
            allowed = subscriptions.still_allowed(session, row.client_id, row.mailbox)
        if not allowed:
            raise GraphError(
                403, "mailbox_not_allowed", "the key is no longer bound to the mailbox"
            )
        batch = trigger(graph_client(settings), row.mailbox, row.params, row.cursor)
    except GraphError as exc:
        error, retry_in = str(exc), max(exc.retry_after or 0, settings.trigger_interval)
    except Exception:  # noqa: BLE001 - one subscription's failure must not take the batch along
        log.exception("polling trigger subscription %s failed", row.id)
        error = "internal_error: the poll failed; see the worker's log"
    with runtime.db.session() as session:
        if error is not None:
            due = subscriptions.record_failure(
                session, row.id, claimed_at=row.poll_claimed_at, error=error, retry_in=retry_in
            )
            status = "failed"
        else:
            due = subscriptions.record_poll(
                session,
                row,
                claimed_at=row.poll_claimed_at,
                items=batch.items,
                cursor=batch.cursor,
                interval=settings.trigger_interval,
            )
            status = "delivered" if batch.items else "nothing_new"
    if due is None:
        return PollOutcome("superseded")
    return PollOutcome(status, max(0.0, (due - utcnow()).total_seconds()))
