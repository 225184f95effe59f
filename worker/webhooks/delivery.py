"""Deliver one due delivery: claim it, sign it, POST it, log the attempt, schedule the next.

The schedule lives in the row (``next_attempt_at``); a beat sweeper re-enqueues due rows, so
neither a lost broker message nor a killed worker loses a callback.
"""

from __future__ import annotations

import random
import threading
import time
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
    else keep flowing; a delivery that finds its host busy is put back, due a moment later.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}

    def acquire(self, host: str, limit: int) -> bool:
        with self._lock:
            if self._busy.get(host, 0) >= limit:
                return False
            self._busy[host] = self._busy.get(host, 0) + 1
            return True

    def release(self, host: str) -> None:
        with self._lock:
            self._busy[host] -= 1
            if not self._busy[host]:
                del self._busy[host]


host_slots = HostSlots()
# How soon a delivery put back for a busy host is tried again.
BUSY_HOST_DELAY_SECONDS = 0.5


def deliver(runtime: Runtime, delivery_id: str) -> DeliveryOutcome:
    """Make one attempt at a due delivery, if this worker wins the claim.

    Three statements in all: claim and read (UPDATE ... RETURNING), the secrets and the
    subscription's state, then the attempt and the new state in one transaction.
    """
    settings = runtime.settings
    now = utcnow()
    with runtime.db.engine.begin() as conn:
        row = conn.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, claimable(now, settings.claim_timeout))
            .values(status="delivering", claimed_at=now, attempt_count=Delivery.attempt_count + 1)
            .returning(
                Delivery.url,
                Delivery.payload,
                Delivery.webhook_id,
                Delivery.attempt_count,
                Delivery.client_id,
                Delivery.subscription_id,
            )
        ).first()
        if row is None:
            return DeliveryOutcome("skipped")
        client = conn.execute(
            select(
                ApiClient.webhook_secret,
                ApiClient.previous_webhook_secret,
                ApiClient.previous_secret_until,
            ).where(ApiClient.id == row.client_id)
        ).one()
        if row.subscription_id is not None:
            state = conn.scalar(
                select(Subscription.status).where(Subscription.id == row.subscription_id)
            )
            if state in ("cancelled", "expired"):
                conn.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id)
                    .values(status="dropped", finished_at=now, next_attempt_at=None)
                )
                return DeliveryOutcome("dropped")
    host = urlsplit(row.url).netloc
    if not host_slots.acquire(host, settings.webhook_host_concurrency):
        _put_back(runtime, delivery_id)
        return DeliveryOutcome("deferred", BUSY_HOST_DELAY_SECONDS)
    try:
        secrets = signing_secrets(
            client.webhook_secret,
            client.previous_webhook_secret,
            client.previous_secret_until,
            runtime.box,
        )
        started = utcnow()
        clock = time.monotonic()
        result = post(
            http_client(runtime),
            row.url,
            row.payload,
            signed_headers(secrets, row.webhook_id, row.payload),
            settings.webhook_timeout,
        )
        duration_ms = int((time.monotonic() - clock) * 1000)
    finally:
        host_slots.release(host)
    return _record(runtime, delivery_id, row.attempt_count, started, duration_ms, result)


def _put_back(runtime: Runtime, delivery_id: str) -> None:
    """Undo a claim without counting an attempt (the host was busy)."""
    next_at = utcnow() + timedelta(seconds=BUSY_HOST_DELAY_SECONDS)
    with runtime.db.engine.begin() as conn:
        conn.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "delivering")
            .values(
                status="due",
                claimed_at=None,
                attempt_count=Delivery.attempt_count - 1,
                next_attempt_at=next_at,
                enqueued_at=next_at,  # the task re-enqueues it with a countdown
            )
        )


def _record(
    runtime: Runtime,
    delivery_id: str,
    attempt_number: int,
    started: datetime,
    duration_ms: int,
    result: AttemptResult,
) -> DeliveryOutcome:
    """Log the attempt and move the delivery on: delivered, stopped, failed or due again."""
    finished = utcnow()
    if result.delivered:
        status, delay = "delivered", None
    elif result.status_code == 410 or result.error_code == "blocked_address":
        status, delay = ("stopped" if result.status_code == 410 else "failed"), None
    else:
        delay = next_delay(runtime, attempt_number, result.retry_after)
        status = "failed" if delay is None else "due"
    next_at = finished + timedelta(seconds=delay) if delay is not None else None
    with runtime.db.engine.begin() as conn:
        conn.execute(
            insert(DeliveryAttempt).values(
                delivery_id=delivery_id,
                number=attempt_number,
                started_at=started,
                duration_ms=duration_ms,
                status_code=result.status_code,
                error_code=result.error_code,
                response_body=result.body,
            )
        )
        conn.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "delivering")
            .values(
                status=status,
                claimed_at=None,
                next_attempt_at=next_at,
                enqueued_at=expected_message_at(next_at, delay) if next_at else None,
                finished_at=None if status == "due" else finished,
            )
        )
    return DeliveryOutcome(status, delay)
