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

import httpx
from sqlalchemy import update

from approvals.clients import signing_secrets
from approvals.deliveries import claimable
from approvals.runtime import Runtime
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
    status: str  # delivered | due | failed | stopped | dropped | skipped
    retry_in: float | None = None


def deliver(runtime: Runtime, delivery_id: str) -> DeliveryOutcome:
    """Make one attempt at a due delivery, if this worker wins the claim."""
    settings = runtime.settings
    now = utcnow()
    with runtime.db.session() as session:
        claimed = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, claimable(now, settings.claim_timeout))
            .values(status="delivering", claimed_at=now, attempt_count=Delivery.attempt_count + 1)
        ).rowcount
        if not claimed:
            return DeliveryOutcome("skipped")
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        if delivery.subscription_id is not None:
            subscription = session.get(Subscription, delivery.subscription_id)
            if subscription is not None and subscription.status in ("cancelled", "expired"):
                delivery.status, delivery.finished_at = "dropped", now
                delivery.next_attempt_at = None
                return DeliveryOutcome("dropped")
        client = session.get(ApiClient, delivery.client_id)
        assert client is not None
        secrets = signing_secrets(client, runtime.box)
        url, body, webhook_id = delivery.url, delivery.payload, delivery.webhook_id
        attempt_number = delivery.attempt_count
    started = utcnow()
    clock = time.monotonic()
    result = post(
        http_client(runtime),
        url,
        body,
        signed_headers(secrets, webhook_id, body),
        settings.webhook_timeout,
    )
    duration_ms = int((time.monotonic() - clock) * 1000)
    finished = utcnow()
    if result.delivered:
        status, delay = "delivered", None
    elif result.status_code == 410 or result.error_code == "blocked_address":
        status, delay = ("stopped" if result.status_code == 410 else "failed"), None
    else:
        delay = next_delay(runtime, attempt_number, result.retry_after)
        status = "failed" if delay is None else "due"
    with runtime.db.session() as session:
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                number=attempt_number,
                started_at=started,
                duration_ms=duration_ms,
                status_code=result.status_code,
                error_code=result.error_code,
                response_body=result.body,
            )
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "delivering")
            .values(
                status=status,
                claimed_at=None,
                next_attempt_at=finished + timedelta(seconds=delay) if delay is not None else None,
                finished_at=None if status == "due" else finished,
            )
        )
    return DeliveryOutcome(status, delay)
