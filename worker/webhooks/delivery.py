"""Send claimed callbacks: sign them, POST them on the receivers' threads, have them recorded.

What happens to a delivery before and after its request (claim, drop, record, next state,
give back) is :mod:`approvals.delivery.lifecycle`; this module only sends. Each request is
bounded as a whole by ``APPROVALS_WEBHOOK_TIMEOUT``, and whatever one callback raises is
recorded as its own failed attempt (``invalid_request``), never its neighbours'.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore

from approvals.delivery import lifecycle
from approvals.delivery.lifecycle import (
    GIVE_BACK_DELAY_SECONDS,
    Attempt,
    AttemptResult,
    Claimed,
    DeliveryOutcome,
    Outcomes,
)
from approvals.observability.metrics import CALLBACK_ATTEMPTS, CALLBACK_LATENCY
from approvals.runtime import Runtime
from approvals.store.models import utcnow
from worker.webhooks.deadline import within
from worker.webhooks.guard import BlockedAddress, DnsFailure, guarded_pool, parse_networks
from worker.webhooks.receivers import Share, receivers
from worker.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

MAX_LOGGED_BODY = 20 * 1024
_pools: dict[tuple[str, float], httpcore.ConnectionPool] = {}
_pools_lock = threading.Lock()


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


DEFAULT_PORTS = {"http": 80, "https": 443}


def host_header(url: str) -> str:
    """The ``Host`` header for ``url``: its host (an IPv6 literal in brackets) and its port
    unless that is the scheme's default (RFC 9110 7.2); no user information."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"


def post(
    pool: httpcore.ConnectionPool,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    connect_timeout: float,
) -> AttemptResult:
    """One POST, read at most 20 KB of the answer, within ``timeout`` seconds in all (connect,
    send, headers and body: a receiver that trickles its answer is cut off at ``timeout``)."""
    extensions = {
        "timeout": {"connect": connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
    }
    # httpcore would write an IPv6 host without its brackets ("::1:8080"), which receivers
    # cannot parse, so the header is set here.
    sent = list(headers.items())
    if not any(name.lower() == "host" for name, _ in sent):
        sent.insert(0, ("Host", host_header(url)))
    try:
        with (
            within(timeout),
            pool.stream("POST", url, headers=sent, content=body, extensions=extensions) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_stream():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_LOGGED_BODY:
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


# Attempts are written after every this many requests to one receiver, on a thread of their
# own while the next ones go out; a worker killed in the middle of a batch repeats at most
# twice this many callbacks (with the same webhook-id).
RECORD_EVERY = 10
RECORDER_THREADS = 2


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
    for item in lifecycle.claim(runtime, delivery_ids, outcomes):
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
                abandon=functools.partial(lifecycle.give_back, runtime, ids, requeued=False),
            )
        )
    return outcomes


def _deliver_to_host(
    runtime: Runtime, host: str, items: list[Claimed], claimed_at: float
) -> Outcomes:
    """Call one receiver with each of ``items`` in turn, recording a few attempts at a time.

    What is left when half the claim timeout has gone (a slow receiver, a long queue) is given
    back, due again shortly, before the claim could lapse and another worker take it too; so is
    what is left when the worker is stopping (then the sweeper enqueues it again).
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

    def write_down(attempts: list[Attempt]) -> None:
        """Have ``attempts`` written while the next requests go out, once the last are."""
        nonlocal recording
        written()
        if not attempts:
            return
        try:
            recording = recorder().submit(lifecycle.record, runtime, attempts)
        except RuntimeError:  # the worker is exiting and its executors are closed: write here
            outcomes.update(lifecycle.record(runtime, attempts))

    for index, item in enumerate(items):
        stopping = receivers().stopping
        if stopping or time.monotonic() - claimed_at > settings.claim_timeout / 2:
            rest = [waiting.id for waiting in items[index:]]
            lifecycle.give_back(runtime, rest, requeued=not stopping)
            if not stopping:
                later = DeliveryOutcome("deferred", GIVE_BACK_DELAY_SECONDS)
                outcomes.update((delivery_id, later) for delivery_id in rest)
            break
        started = utcnow()
        clock = time.monotonic()
        result = _attempt(pool, item, settings.webhook_timeout, settings.webhook_connect_timeout)
        took = time.monotonic() - clock
        receivers().observe(host, took)
        outcome = "delivered" if result.delivered else result.error_code or "http_status"
        CALLBACK_ATTEMPTS.labels(outcome).inc()
        CALLBACK_LATENCY.observe(took)
        log.info(
            "callback attempt %s: %s",
            item.attempt_number,
            outcome,
            extra={"delivery_id": item.id, "status_code": result.status_code},
        )
        made.append(Attempt(item, started, int(took * 1000), result))
        if len(made) >= RECORD_EVERY:
            write_down(made)
            made = []
    write_down(made)
    written()
    return outcomes


def _attempt(
    pool: httpcore.ConnectionPool, item: Claimed, timeout: float, connect_timeout: float
) -> AttemptResult:
    """Sign and send one callback; whatever it raises is this callback's failed attempt."""
    try:
        return post(
            pool,
            item.url,
            item.payload.encode(),
            signed_headers(item.secrets, item.webhook_id, item.payload),
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
    except Exception as exc:  # noqa: BLE001 - one bad callback must not take its batch along
        log.warning("callback %s could not be sent", item.id, exc_info=True)
        return AttemptResult(None, "invalid_request", f"{type(exc).__name__}: {exc}")


_recorder: ThreadPoolExecutor | None = None
_recorder_lock = threading.Lock()


def recorder() -> ThreadPoolExecutor:
    """The threads that write attempts down, so a receiver's thread only sends (per process)."""
    global _recorder
    with _recorder_lock:
        if _recorder is None:
            _recorder = ThreadPoolExecutor(RECORDER_THREADS, thread_name_prefix="record-attempts")
        return _recorder
