"""Deliver due deliveries: claim them, sign them, POST them, log the attempts, schedule the next.

The schedule lives in the row (``next_attempt_at``); a beat sweeper re-enqueues due rows, so
neither a lost broker message nor a killed worker loses a callback.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore
from sqlalchemy import insert, select, update

from approvals.clients import signing_secrets
from approvals.runtime import Runtime
from approvals.store.claims import DELIVERIES, expected_message_at
from approvals.store.models import ApiClient, Delivery, DeliveryAttempt, Subscription, utcnow
from worker.webhooks.guard import BlockedAddress, DnsFailure, guarded_pool, parse_networks
from worker.webhooks.receivers import Share, receivers
from worker.webhooks.signing import signed_headers

MAX_LOGGED_BODY = 20 * 1024
_pools: dict[tuple[str, float], httpcore.ConnectionPool] = {}
_pools_lock = threading.Lock()


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error_code: str | None
    body: str | None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def connection_pool(runtime: Runtime) -> httpcore.ConnectionPool:
    """One keep-alive pool per process and settings, behind the SSRF guard.

    httpcore rather than httpx: a callback needs no cookies, redirects or URL merging, and
    httpx's request and response models cost more CPU than the rest of a delivery.
    """
    s = runtime.settings
    key = (s.webhook_allowed_networks, s.webhook_connect_timeout)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = guarded_pool(
                parse_networks(s.webhook_allowed_networks),
                connect_timeout=s.webhook_connect_timeout,
            )
        return pool


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def post(
    pool: httpcore.ConnectionPool,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    connect_timeout: float,
) -> AttemptResult:
    """One POST, read at most 20 KB of the answer, within ``timeout`` seconds overall."""
    started = time.monotonic()
    extensions = {
        "timeout": {"connect": connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
    }
    try:
        with pool.stream(
            "POST", url, headers=list(headers.items()), content=body, extensions=extensions
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_stream():
                if size < MAX_LOGGED_BODY:
                    chunks.append(chunk)
                    size += len(chunk)
                if time.monotonic() - started > timeout or size >= MAX_LOGGED_BODY:
                    break
            text = b"".join(chunks)[:MAX_LOGGED_BODY].decode("utf-8", errors="replace")
            code = response.status
            error = None if 200 <= code < 300 else "http_status"
            retry_after = parse_retry_after(_header(response.headers, b"retry-after"), utcnow())
            return AttemptResult(code, error, text, retry_after)
    except BlockedAddress as exc:
        return AttemptResult(None, "blocked_address", str(exc))
    except DnsFailure as exc:
        return AttemptResult(None, "dns", str(exc))
    except httpcore.TimeoutException as exc:
        return AttemptResult(None, "timeout", f"{type(exc).__name__}: {exc}")
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        return AttemptResult(None, "connection", f"{type(exc).__name__}: {exc}")


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def next_delay(runtime: Runtime, attempts_made: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt, or None when the schedule is spent."""
    schedule = runtime.settings.webhook_retry_schedule
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made] * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, runtime.settings.webhook_retry_after_max))
    return delay


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # delivered | due | failed | stopped | dropped | skipped | deferred
    retry_in: float | None = None


# How soon a delivery put back (its claim was running out) is tried again.
PUT_BACK_DELAY_SECONDS = 0.5
# Attempts are written after every this many requests to one receiver, on a thread of their
# own while the next ones go out; a worker killed in the middle of a batch repeats at most
# twice this many callbacks (with the same webhook-id).
RECORD_EVERY = 10
RECORDER_THREADS = 2
Outcomes = dict[str, "DeliveryOutcome"]


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker has claimed, with what it takes to sign and send it."""

    id: str
    url: str
    payload: str
    webhook_id: str
    attempt_number: int
    secrets: list[str]


def deliver_batch(
    runtime: Runtime, delivery_ids: Sequence[str], then: Callable[[Outcomes], None]
) -> Outcomes:
    """Claim what is due of ``delivery_ids`` and have the receivers called; returns at once.

    One transaction claims them and reads what they need. Each receiver's share is then sent
    on the receivers' threads, one request after another over its kept connection, and its
    attempts are recorded a few at a time; ``then`` gets each share's outcomes when it is done.
    The outcomes returned are those settled without a request: skipped and dropped.
    """
    outcomes: Outcomes = {delivery_id: DeliveryOutcome("skipped") for delivery_id in delivery_ids}
    by_host: dict[str, list[Claimed]] = {}
    for item in _claim(runtime, delivery_ids, outcomes):
        outcomes.pop(item.id)
        by_host.setdefault(urlsplit(item.url).netloc, []).append(item)
    limit = runtime.settings.webhook_host_concurrency
    claimed_at = time.monotonic()
    for host, items in by_host.items():
        ids = [item.id for item in items]
        receivers().submit(
            Share(
                host,
                limit,
                work=functools.partial(_deliver_to_host, runtime, host, items, claimed_at),
                then=then,
                abandon=functools.partial(_put_back, runtime, ids, requeued=False),
            )
        )
    return outcomes


def _claim(
    runtime: Runtime, delivery_ids: Sequence[str], outcomes: dict[str, DeliveryOutcome]
) -> list[Claimed]:
    """Claim what is due, drop what a cancelled or expired subscription no longer owes."""
    now = utcnow()
    with runtime.db.engine.begin() as conn:
        rows = conn.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(list(delivery_ids)),
                DELIVERIES.owed_now(now, runtime.settings.claim_timeout),
            )
            .values(status="delivering", claimed_at=now, attempt_count=Delivery.attempt_count + 1)
            .returning(
                Delivery.id,
                Delivery.url,
                Delivery.payload,
                Delivery.webhook_id,
                Delivery.attempt_count,
                Delivery.client_id,
                Delivery.subscription_id,
            )
        ).all()
        if not rows:
            return []
        subscription_ids = {row.subscription_id for row in rows} - {None}
        closed = set(
            conn.scalars(
                select(Subscription.id).where(
                    Subscription.id.in_(subscription_ids),
                    Subscription.status.in_(("cancelled", "expired")),
                )
            )
            if subscription_ids
            else ()
        )
        dropped = [row.id for row in rows if row.subscription_id in closed]
        if dropped:
            conn.execute(
                update(Delivery)
                .where(Delivery.id.in_(dropped))
                .values(status="dropped", finished_at=now, next_attempt_at=None)
            )
            outcomes.update((delivery_id, DeliveryOutcome("dropped")) for delivery_id in dropped)
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
        if row.subscription_id not in closed
    ]


@dataclass(frozen=True)
class Attempt:
    item: Claimed
    started: datetime
    duration_ms: int
    result: AttemptResult


def _deliver_to_host(
    runtime: Runtime, host: str, items: list[Claimed], claimed_at: float
) -> Outcomes:
    """Call one receiver with each of ``items`` in turn, recording a few attempts at a time.

    What is left when half the claim timeout has gone (a slow receiver, a long queue) is put
    back, due again shortly, before the claim could lapse and another worker take it too.
    """
    settings = runtime.settings
    pool = connection_pool(runtime)
    outcomes: Outcomes = {}
    made: list[Attempt] = []
    recording: Future[Outcomes] | None = None

    def written() -> None:
        """Wait for the attempts being written; their outcomes join the rest."""
        nonlocal recording
        if recording is not None:
            outcomes.update(recording.result())
            recording = None

    def record(attempts: list[Attempt]) -> None:
        """Have ``attempts`` written while the next requests go out, once the last are."""
        nonlocal recording
        written()
        if not attempts:
            return
        try:
            recording = recorder().submit(_record, runtime, attempts)
        except RuntimeError:  # the worker is exiting and its executors are closed: write here
            outcomes.update(_record(runtime, attempts))

    for index, item in enumerate(items):
        if time.monotonic() - claimed_at > settings.claim_timeout / 2:
            rest = [waiting.id for waiting in items[index:]]
            _put_back(runtime, rest)
            later = DeliveryOutcome("deferred", PUT_BACK_DELAY_SECONDS)
            outcomes.update((delivery_id, later) for delivery_id in rest)
            break
        started = utcnow()
        clock = time.monotonic()
        result = post(
            pool,
            item.url,
            item.payload.encode(),
            signed_headers(item.secrets, item.webhook_id, item.payload),
            timeout=settings.webhook_timeout,
            connect_timeout=settings.webhook_connect_timeout,
        )
        took = time.monotonic() - clock
        receivers().observe(host, took)
        made.append(Attempt(item, started, int(took * 1000), result))
        if len(made) >= RECORD_EVERY:
            record(made)
            made = []
    record(made)
    written()
    return outcomes


_recorder: ThreadPoolExecutor | None = None
_recorder_lock = threading.Lock()


def recorder() -> ThreadPoolExecutor:
    """The threads that write attempts down, so a receiver's thread only sends (per process)."""
    global _recorder
    with _recorder_lock:
        if _recorder is None:
            _recorder = ThreadPoolExecutor(RECORDER_THREADS, thread_name_prefix="record-attempts")
        return _recorder


def _put_back(runtime: Runtime, delivery_ids: list[str], *, requeued: bool = True) -> None:
    """Undo claims without counting an attempt: they were not sent in time.

    ``requeued``: the caller enqueues them again with a countdown; otherwise the sweeper will.
    """
    with runtime.db.engine.begin() as conn:
        DELIVERIES.give_back(
            conn,
            delivery_ids,
            due=utcnow() + timedelta(seconds=PUT_BACK_DELAY_SECONDS),
            message_expected=requeued,
        )


def _next_state(runtime: Runtime, attempt: Attempt) -> tuple[str, float | None]:
    result = attempt.result
    if result.delivered:
        return "delivered", None
    if result.status_code == 410:
        return "stopped", None
    if result.error_code == "blocked_address":
        return "failed", None
    delay = next_delay(runtime, attempt.item.attempt_number, result.retry_after)
    return ("failed" if delay is None else "due"), delay


def _record(runtime: Runtime, attempts: list[Attempt]) -> dict[str, DeliveryOutcome]:
    """Log the attempts and move each delivery on: delivered, stopped, failed or due again.

    Every delivered one is marked by a single UPDATE; the rest, rarer, one by one.
    """
    if not attempts:
        return {}
    finished = utcnow()
    outcomes: dict[str, DeliveryOutcome] = {}
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
            status, delay = _next_state(runtime, attempt)
            outcomes[attempt.item.id] = DeliveryOutcome(status, delay)
            if status == "delivered":
                delivered.append(attempt.item.id)
                continue
            next_at = finished + timedelta(seconds=delay) if delay is not None else None
            conn.execute(
                update(Delivery)
                .where(Delivery.id == attempt.item.id, Delivery.status == "delivering")
                .values(
                    status=status,
                    claimed_at=None,
                    next_attempt_at=next_at,
                    enqueued_at=expected_message_at(next_at, delay) if next_at else None,
                    finished_at=None if status == "due" else finished,
                )
            )
        if delivered:
            conn.execute(
                update(Delivery)
                .where(Delivery.id.in_(delivered), Delivery.status == "delivering")
                .values(
                    status="delivered",
                    claimed_at=None,
                    next_attempt_at=None,
                    enqueued_at=None,
                    finished_at=finished,
                )
            )
    return outcomes
