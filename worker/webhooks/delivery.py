"""Deliver due deliveries: claim them, sign them, POST them, log the attempts, schedule the next.

The schedule lives in the row (``next_attempt_at``); a beat sweeper re-enqueues due rows, so
neither a lost broker message nor a killed worker loses a callback.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy import insert, select, update

from approvals.clients import signing_secrets
from approvals.deliveries import claimable
from approvals.runtime import Runtime
from approvals.store.claims import expected_message_at
from approvals.store.models import ApiClient, Delivery, DeliveryAttempt, Subscription, utcnow
from worker.webhooks.guard import BlockedAddress, DnsFailure, guarded_transport, parse_networks
from worker.webhooks.signing import signed_headers

MAX_LOGGED_BODY = 20 * 1024
_clients: dict[tuple[str, float, float], httpx.Client] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error_code: str | None
    body: str | None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def http_client(runtime: Runtime) -> httpx.Client:
    """One keep-alive client per process and settings, behind the SSRF guard."""
    s = runtime.settings
    key = (s.webhook_allowed_networks, s.webhook_connect_timeout, s.webhook_timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            transport = guarded_transport(
                parse_networks(s.webhook_allowed_networks),
                connect_timeout=s.webhook_connect_timeout,
            )
            client = _clients[key] = httpx.Client(
                transport=transport,
                follow_redirects=False,
                timeout=httpx.Timeout(s.webhook_timeout, connect=s.webhook_connect_timeout),
            )
        return client


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
    client: httpx.Client, url: str, body: str, headers: dict[str, str], deadline: float
) -> AttemptResult:
    """One POST, read at most 20 KB of the answer, within ``deadline`` seconds overall."""
    started = time.monotonic()
    try:
        with client.stream("POST", url, content=body.encode(), headers=headers) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                if size < MAX_LOGGED_BODY:
                    chunks.append(chunk)
                    size += len(chunk)
                if time.monotonic() - started > deadline or size >= MAX_LOGGED_BODY:
                    break
            text = b"".join(chunks)[:MAX_LOGGED_BODY].decode("utf-8", errors="replace")
            code = response.status_code
            error = None if 200 <= code < 300 else "http_status"
            retry_after = parse_retry_after(response.headers.get("retry-after"), utcnow())
            return AttemptResult(code, error, text, retry_after)
    except BlockedAddress as exc:
        return AttemptResult(None, "blocked_address", str(exc))
    except DnsFailure as exc:
        return AttemptResult(None, "dns", str(exc))
    except httpx.TimeoutException as exc:
        return AttemptResult(None, "timeout", f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return AttemptResult(None, "connection", f"{type(exc).__name__}: {exc}")


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


class HostSlots:
    """At most ``limit`` requests in flight per receiver (host and port) in this process.

    A slow receiver then holds a few threads, never the whole pool, so callbacks to everyone
    else keep flowing. A request waits a moment for a slot; a delivery that still finds its
    host busy is put back, due a moment later.
    """

    def __init__(self) -> None:
        self._freed = threading.Condition()
        self._busy: dict[str, int] = {}

    def acquire(self, host: str, limit: int, timeout: float = 0.0) -> bool:
        with self._freed:
            if not self._freed.wait_for(lambda: self._busy.get(host, 0) < limit, timeout):
                return False
            self._busy[host] = self._busy.get(host, 0) + 1
            return True

    def release(self, host: str) -> None:
        with self._freed:
            self._busy[host] -= 1
            if not self._busy[host]:
                del self._busy[host]
            self._freed.notify_all()


host_slots = HostSlots()
# How long a request waits for its receiver to have a free slot before it is put back, and
# how soon a delivery put back for a busy host is tried again.
HOST_SLOT_WAIT_SECONDS = 0.25
BUSY_HOST_DELAY_SECONDS = 0.5
# Attempts are written after every this many requests to one receiver, so a worker killed in
# the middle of a batch repeats at most this many callbacks (with the same webhook-id).
RECORD_EVERY = 10

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def receivers_pool() -> ThreadPoolExecutor:
    """Threads that call the receivers of one batch side by side, one receiver each."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="receivers")
        return _pool


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker has claimed, with what it takes to sign and send it."""

    id: str
    url: str
    payload: str
    webhook_id: str
    attempt_number: int
    secrets: list[str]


def deliver_batch(runtime: Runtime, delivery_ids: Sequence[str]) -> dict[str, DeliveryOutcome]:
    """Make one attempt at each due delivery of ``delivery_ids`` this worker can claim.

    One transaction claims them and reads what they need; the receivers are then called side
    by side (one after another for each receiver, over its kept connection), and each
    receiver's attempts are recorded a batch at a time.
    """
    outcomes = {delivery_id: DeliveryOutcome("skipped") for delivery_id in delivery_ids}
    by_host: dict[str, list[Claimed]] = {}
    for item in _claim(runtime, delivery_ids, outcomes):
        by_host.setdefault(urlsplit(item.url).netloc, []).append(item)
    groups = list(by_host.items())
    if not groups:
        return outcomes
    others = [receivers_pool().submit(_deliver_to_host, runtime, *group) for group in groups[1:]]
    outcomes.update(_deliver_to_host(runtime, *groups[0]))
    for future in others:
        outcomes.update(future.result())
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
                claimable(now, runtime.settings.claim_timeout),
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
    runtime: Runtime, host: str, items: list[Claimed]
) -> dict[str, DeliveryOutcome]:
    """Call one receiver with each of ``items`` in turn, within its share of slots."""
    settings = runtime.settings
    client = http_client(runtime)
    outcomes: dict[str, DeliveryOutcome] = {}
    made: list[Attempt] = []
    for index, item in enumerate(items):
        if not host_slots.acquire(
            host, settings.webhook_host_concurrency, timeout=HOST_SLOT_WAIT_SECONDS
        ):
            rest = [waiting.id for waiting in items[index:]]
            _put_back(runtime, rest)
            outcomes.update((i, DeliveryOutcome("deferred", BUSY_HOST_DELAY_SECONDS)) for i in rest)
            break
        try:
            started = utcnow()
            clock = time.monotonic()
            result = post(
                client,
                item.url,
                item.payload,
                signed_headers(item.secrets, item.webhook_id, item.payload),
                settings.webhook_timeout,
            )
            duration_ms = int((time.monotonic() - clock) * 1000)
        finally:
            host_slots.release(host)
        made.append(Attempt(item, started, duration_ms, result))
        if len(made) >= RECORD_EVERY:
            outcomes.update(_record(runtime, made))
            made = []
    outcomes.update(_record(runtime, made))
    return outcomes


def _put_back(runtime: Runtime, delivery_ids: list[str]) -> None:
    """Undo claims without counting an attempt (the host was busy)."""
    next_at = utcnow() + timedelta(seconds=BUSY_HOST_DELAY_SECONDS)
    with runtime.db.engine.begin() as conn:
        conn.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), Delivery.status == "delivering")
            .values(
                status="due",
                claimed_at=None,
                attempt_count=Delivery.attempt_count - 1,
                next_attempt_at=next_at,
                enqueued_at=next_at,  # the task re-enqueues them with a countdown
            )
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
