"""A delivery's life in the worker: claimed, attempted, recorded, moved to its next state.

due -> delivering (claimed by compare-and-set, an attempt counted) -> delivered | stopped (410)
| failed (blocked, or the schedule spent) | due again (later, by the schedule) | dropped (its
owner closed first). A claim not finished in time is given back without counting an attempt.
Sending the request is the caller's; this module only reads and writes rows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from approvals.clients import signing_secrets
from approvals.delivery.owners import closed_owners
from approvals.runtime import Runtime
from approvals.store.claims import DELIVERIES, expected_message_at
from approvals.store.models import ApiClient, Delivery, DeliveryAttempt, utcnow
from approvals.store.status import DeliveryStatus

# How soon a delivery given back (its claim was running out, its worker stopping) is due again.
GIVE_BACK_DELAY_SECONDS = 0.5


@dataclass(frozen=True)
class AttemptResult:
    """What one request got: a status code, or an error code (timeout, dns, ...), and a body."""

    status_code: int | None
    error_code: str | None
    body: str | None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class DeliveryOutcome:
    """Where a delivery went: a :class:`DeliveryStatus`, or ``skipped`` (not owed now) or
    ``deferred`` (given back); ``retry_in`` seconds when it is due again."""

    status: str
    retry_in: float | None = None


Outcomes = dict[str, DeliveryOutcome]


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker has claimed, with what it takes to sign and send it."""

    id: str
    url: str
    payload: str
    webhook_id: str
    attempt_number: int
    secrets: list[str]


@dataclass(frozen=True)
class Attempt:
    item: Claimed
    started: datetime
    duration_ms: int
    result: AttemptResult


def claim(runtime: Runtime, delivery_ids: Sequence[str], outcomes: Outcomes) -> list[Claimed]:
    """Claim what is due of ``delivery_ids``; drop (into ``outcomes``) what a closed owner no
    longer wants. One transaction claims them and reads their clients' signing secrets."""
    now = utcnow()
    with runtime.db.engine.begin() as conn:
        rows = DELIVERIES.claim(
            conn,
            delivery_ids,
            now=now,
            claim_timeout=runtime.settings.claim_timeout,
            returning=(
                Delivery.url,
                Delivery.payload,
                Delivery.webhook_id,
                Delivery.attempt_count,
                Delivery.client_id,
                Delivery.owner_kind,
                Delivery.owner_id,
            ),
        )
        if not rows:
            return []
        owners = {(row.owner_kind, row.owner_id) for row in rows if row.owner_kind}
        closed = closed_owners(conn, owners) if owners else set()
        dropped = [row.id for row in rows if (row.owner_kind, row.owner_id) in closed]
        if dropped:
            conn.execute(
                update(Delivery)
                .where(Delivery.id.in_(dropped))
                .values(status=DeliveryStatus.DROPPED, finished_at=now, next_attempt_at=None)
            )
            outcomes.update((i, DeliveryOutcome(DeliveryStatus.DROPPED)) for i in dropped)
        clients = conn.execute(
            select(
                ApiClient.id,
                ApiClient.webhook_secret,
                ApiClient.previous_webhook_secret,
                ApiClient.previous_secret_until,
            ).where(ApiClient.id.in_({row.client_id for row in rows}))
        ).all()
    secrets = {
        c.id: signing_secrets(
            c.webhook_secret, c.previous_webhook_secret, c.previous_secret_until, runtime.box
        )
        for c in clients
    }
    return [
        Claimed(
            row.id, row.url, row.payload, row.webhook_id, row.attempt_count, secrets[row.client_id]
        )
        for row in rows
        if row.id not in dropped
    ]


def give_back(runtime: Runtime, delivery_ids: list[str], *, requeued: bool) -> None:
    """Undo claims without counting an attempt: they were not sent (in time, or at all).

    ``requeued``: the caller enqueues them again with a countdown; otherwise the sweeper will.
    """
    if not delivery_ids:
        return
    with runtime.db.engine.begin() as conn:
        DELIVERIES.give_back(
            conn,
            delivery_ids,
            due=utcnow() + timedelta(seconds=GIVE_BACK_DELAY_SECONDS),
            message_expected=requeued,
        )


def next_delay(runtime: Runtime, attempts_made: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt, or None when the schedule is spent."""
    schedule = runtime.settings.webhook_retry_schedule
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made] * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, runtime.settings.webhook_retry_after_max))
    return delay


def next_state(runtime: Runtime, attempt: Attempt) -> tuple[DeliveryStatus, float | None]:
    """Delivered on 2xx, stopped on 410, failed for a refused address or a spent schedule,
    else due again after the schedule's delay."""
    result = attempt.result
    if result.delivered:
        return DeliveryStatus.DELIVERED, None
    if result.status_code == 410:
        return DeliveryStatus.STOPPED, None
    if result.error_code == "blocked_address":
        return DeliveryStatus.FAILED, None
    delay = next_delay(runtime, attempt.item.attempt_number, result.retry_after)
    return (DeliveryStatus.FAILED if delay is None else DeliveryStatus.DUE), delay


def record(runtime: Runtime, attempts: list[Attempt]) -> Outcomes:
    """Log the attempts and move each delivery on; every delivered one by a single UPDATE, the
    rest, rarer, one by one. A delivery no longer claimed (given back meanwhile) keeps its state.
    """
    if not attempts:
        return {}
    finished = utcnow()
    outcomes: Outcomes = {}
    with runtime.db.engine.begin() as conn:
        conn.execute(
            insert(DeliveryAttempt.__table__),
            [
                {
                    "delivery_id": a.item.id,
                    "number": a.item.attempt_number,
                    "started_at": a.started,
                    "duration_ms": a.duration_ms,
                    "status_code": a.result.status_code,
                    "error_code": a.result.error_code,
                    "response_body": a.result.body,
                }
                for a in attempts
            ],
        )
        delivered = []
        for attempt in attempts:
            status, delay = next_state(runtime, attempt)
            outcomes[attempt.item.id] = DeliveryOutcome(status, delay)
            if status == DeliveryStatus.DELIVERED:
                delivered.append(attempt.item.id)
                continue
            next_at = finished + timedelta(seconds=delay) if delay is not None else None
            conn.execute(
                update(Delivery)
                .where(Delivery.id == attempt.item.id, Delivery.status == DeliveryStatus.DELIVERING)
                .values(
                    status=status,
                    claimed_at=None,
                    next_attempt_at=next_at,
                    enqueued_at=expected_message_at(next_at, delay) if next_at else None,
                    finished_at=None if status == DeliveryStatus.DUE else finished,
                )
            )
        if delivered:
            conn.execute(
                update(Delivery)
                .where(Delivery.id.in_(delivered), Delivery.status == DeliveryStatus.DELIVERING)
                .values(
                    status=DeliveryStatus.DELIVERED,
                    claimed_at=None,
                    next_attempt_at=None,
                    enqueued_at=None,
                    finished_at=finished,
                )
            )
    return outcomes
