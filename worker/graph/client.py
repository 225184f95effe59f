"""Calls to Microsoft Graph v1.0 for one mailbox at a time, as Graph asks clients to behave.

- At most ``APPROVALS_GRAPH_MAILBOX_CONCURRENCY`` (4) requests in flight per mailbox and
  process (Graph's ``MailboxConcurrency`` limit). An operation reserves its mailbox's slot up
  front (:meth:`GraphClient.reserve`) and, when none is free, goes back to the broker instead
  of holding a thread, so one busy mailbox does not starve the others.
- 429, 503 and 504 are retried after ``Retry-After`` (a few times, within a bounded total);
  then :class:`GraphError` carries Graph's answer and when to try again.
- ``Prefer: IdType="ImmutableId"`` on every request: an id a caller keeps survives the
  message moving between folders.
- A 401 drops the cached token and tries once with a new one.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from approvals.config import Settings
from approvals.observability.metrics import (
    GRAPH_REQUESTS,
    GRAPH_THROTTLE_SECONDS,
    GRAPH_THROTTLE_WAITS,
)
from worker.graph.credentials import Credentials, TokenError, trusted_cas

RETRIED = frozenset({429, 503, 504})
MAX_RETRIES = 4
# The most a call waits for Graph's throttling in all, before handing the wait to its caller.
MAX_THROTTLE_WAIT_SECONDS = 30.0
DEFAULT_RETRY_AFTER_SECONDS = 2.0
IMMUTABLE_IDS = 'IdType="ImmutableId"'


@dataclass
class GraphError(Exception):
    """Graph answered with an error (or not at all): its status, code and message."""

    status: int
    code: str
    message: str
    retry_after: float | None = field(default=None)

    def __str__(self) -> str:
        return f"Graph {self.status} {self.code}: {self.message}"


def _error(response: httpx.Response) -> GraphError:
    code, message = "unknown", response.reason_phrase
    try:
        body = response.json().get("error", {})
        code = str(body.get("code") or code)
        message = str(body.get("message") or message)
    except (ValueError, AttributeError):
        pass
    return GraphError(response.status_code, code, message, _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def mailbox_path(mailbox: str) -> str:
    """``/users/{mailbox}``, the address percent-encoded as one path segment."""
    return "/users/" + quote(mailbox, safe="@")


def segment(value: str) -> str:
    """A Graph id as one path segment: ids hold ``/``, ``+`` and ``=``."""
    return quote(value, safe="")


class GraphClient:
    """One per worker process: its token, its connection pool, its per-mailbox slots."""

    def __init__(self, settings: Settings, credentials: Credentials | None = None) -> None:
        self.settings = settings
        self.credentials = credentials or Credentials(settings)
        self.api_url = settings.graph_api_url
        self._http = httpx.Client(
            verify=_ssl_context(settings),
            timeout=httpx.Timeout(settings.graph_timeout),
            trust_env=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()
        self._held = threading.local()

    def _semaphore(self, mailbox: str) -> threading.BoundedSemaphore:
        key = mailbox.lower()
        with self._slots_lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(
                    self.settings.graph_mailbox_concurrency
                )
            return slot

    def reserve(self, mailbox: str) -> bool:
        """Take one of ``mailbox``'s slots for this thread's next calls, if one is free now.

        An operation reserves before it starts, and a busy mailbox's operation waits in the
        broker instead of holding a worker thread the other mailboxes need.
        """
        if not self._semaphore(mailbox).acquire(blocking=False):
            return False
        self._held.mailboxes = {*getattr(self._held, "mailboxes", set()), mailbox.lower()}
        return True

    def unreserve(self, mailbox: str) -> None:
        self._held.mailboxes = getattr(self._held, "mailboxes", set()) - {mailbox.lower()}
        self._semaphore(mailbox).release()

    @contextmanager
    def _slot(self, mailbox: str) -> Iterator[None]:
        if mailbox.lower() in getattr(self._held, "mailboxes", set()):
            yield  # this thread reserved a slot for its whole operation
            return
        with self._semaphore(mailbox):
            yield

    def request(
        self,
        method: str,
        mailbox: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """``method`` on ``{API_URL}/users/{mailbox}{path}``; a 2xx answer or a GraphError."""
        return self.call(
            method,
            self.api_url + mailbox_path(mailbox) + path,
            mailbox=mailbox,
            params=params,
            json=json,
            content=content,
            headers=headers,
        )

    def call(
        self,
        method: str,
        url: str,
        *,
        mailbox: str,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """``method`` on an absolute Graph ``url`` (a nextLink, say) counted against ``mailbox``."""
        waited = 0.0
        renewed = False
        attempt = 0
        while True:
            try:
                token = self.credentials.token()
            except TokenError as exc:
                raise GraphError(503, "token_unavailable", str(exc), 30.0) from None
            sent = {"Authorization": f"Bearer {token}", **(headers or {})}
            # Our preferences join the caller's (outlook.timezone, say) in one header.
            sent["Prefer"] = ", ".join(p for p in (IMMUTABLE_IDS, sent.get("Prefer")) if p)
            try:
                with self._slot(mailbox):
                    response = self._http.request(
                        method, url, params=params, json=json, content=content, headers=sent
                    )
            except httpx.TimeoutException:
                GRAPH_REQUESTS.labels("timeout").inc()
                raise GraphError(504, "timeout", "Graph did not answer in time") from None
            except httpx.HTTPError as exc:
                GRAPH_REQUESTS.labels("unreachable").inc()
                raise GraphError(502, "unreachable", f"{type(exc).__name__}: {exc}") from None
            GRAPH_REQUESTS.labels(str(response.status_code)).inc()
            if response.is_success:
                return response
            if response.status_code == 401 and not renewed:
                self.credentials.forget(token)
                renewed = True
                continue
            error = _error(response)
            if response.status_code not in RETRIED or attempt >= MAX_RETRIES:
                raise error
            delay = error.retry_after
            if delay is None:
                delay = DEFAULT_RETRY_AFTER_SECONDS * 2**attempt
            if waited + delay > MAX_THROTTLE_WAIT_SECONDS:
                raise error
            GRAPH_THROTTLE_WAITS.inc()
            GRAPH_THROTTLE_SECONDS.inc(delay)
            time.sleep(delay)
            waited += delay
            attempt += 1

    def collect(
        self,
        mailbox: str,
        path: str,
        params: dict[str, str],
        want: int,
        headers: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``want`` items of a list, following ``@odata.nextLink``: Graph may answer a
        page with fewer items than ``$top`` asked for."""
        items: list[dict[str, Any]] = []
        page = self.request("GET", mailbox, path, params=params, headers=headers).json()
        while True:
            items.extend(page.get("value", []))
            link = page.get("@odata.nextLink")
            if len(items) >= want or not link:
                return items[:want]
            page = self.call("GET", link, mailbox=mailbox, headers=headers).json()

    def upload(self, url: str, chunk: bytes, content_range: str) -> None:
        """One range of an upload session: its URL carries its own authorisation, so no token
        is sent there (Graph's documentation says an Authorization header fails the upload)."""
        try:
            response = self._http.put(url, content=chunk, headers={"Content-Range": content_range})
        except httpx.HTTPError as exc:
            raise GraphError(502, "upload_failed", f"{type(exc).__name__}: {exc}") from None
        if not response.is_success:
            raise _error(response)

    def close(self) -> None:
        self._http.close()


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    cafile = trusted_cas(settings)
    return ssl.create_default_context(cafile=cafile if isinstance(cafile, str) else None)


_client: GraphClient | None = None
_client_lock = threading.Lock()


def graph_client(settings: Settings) -> GraphClient:
    """This process's client, made on first use (a worker that never calls Graph makes none)."""
    global _client
    with _client_lock:
        if _client is None or _client.settings is not settings:
            _client = GraphClient(settings)
        return _client
