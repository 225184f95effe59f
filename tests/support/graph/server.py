"""The stand-in itself: one HTTPS server (trustme CA) for the identity platform and Graph v1.0.

``base_url`` is the authority host (``{base_url}/{tenant_id}`` is what MSAL is given),
``graph_url`` is ``{base_url}/v1.0``, ``ca_bundle_path`` the PEM of the CA that signed the
server's certificate. It runs in a thread of the test process (werkzeug's threaded server), so a
test can script faults and read what was asked between two calls of the code under test.
"""

from __future__ import annotations

import json
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import contacts, events, messages
from .errors import GraphError
from .identity import App, Identity, IssuedToken, TokenError
from .mailbox import Directory, Mailbox
from .messages import SentMail, UploadSession
from .routing import Call, Router, json_response, parse_prefer, split_path

GRAPH_VERSION = "v1.0"
# Headers never written to the request log: credentials stay out of test output.
SECRET_HEADERS = {"authorization", "cookie"}


@dataclass
class LoggedRequest:
    """One request as the stand-in saw it: header names lower-cased, ``authorization`` left out."""

    kind: str  # "identity", "graph", "upload" or "unknown"
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0
    mailbox: str | None = None


@dataclass
class Fault:
    """A scripted answer for the next ``remaining`` Graph requests."""

    remaining: int
    status: int
    retry_after: int | None
    code: str
    message: str
    mailbox: str | None = None


@dataclass
class Faults:
    queue: list[Fault] = field(default_factory=list)
    latency: float = 0.0
    concurrency_limit: int | None = None
    held: threading.Event | None = None  # while set to an unset Event, requests wait on it
    held_mailbox: str | None = None  # only requests to this mailbox wait, if given
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


class GraphStandIn:
    """Microsoft identity platform + Graph v1.0 mail, calendar and contacts, over real HTTPS.

    Use as a context manager (or ``start()``/``stop()``); see ``tests/support/graph/fixtures.py``.
    """

    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        token_lifetime: int = 3599,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.default_token_lifetime = token_lifetime
        self.identity = Identity(self.tenant_id, token_lifetime=token_lifetime)
        self.directory = Directory()
        self.faults = Faults()
        self.page_cap: int | None = None
        # Delta rounds' state tokens carry the generation they were made in; forgetting the
        # sync states (Graph does, after a while) makes every older token 410 SyncStateNotFound.
        self.sync_generation = 0
        self.upload_sessions: dict[str, UploadSession] = {}
        self.sent: list[SentMail] = []
        self.log: list[LoggedRequest] = []
        # Exceptions the stand-in raised while answering (each also answered as a 500); the
        # ``graph`` fixture fails a test that caused one.
        self.internal_errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.router = Router()
        for module in (messages, events, contacts):
            self.router.routes.extend(module.router.routes)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._directory: Path | None = None
        self.ca = trustme.CA()
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> GraphStandIn:
        self._directory = Path(tempfile.mkdtemp(prefix="graph-standin-"))
        self.ca_bundle_path = str(self._directory / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_bundle_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(self.host, "localhost", "127.0.0.1", "::1").configure_cert(context)
        self._server = make_server(
            self.host,
            0,
            self._wsgi,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=context,
        )
        self.port = self._server.server_port
        self.identity.resources.add(self.base_url)  # this stand-in's own Graph resource URI
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="graph-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> GraphStandIn:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def authority(self) -> str:
        """What MSAL takes as ``authority``: the instance and the tenant."""
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/{GRAPH_VERSION}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the stand-in's CA (httpx's ``verify=``)."""
        return ssl.create_default_context(cafile=self.ca_bundle_path)

    def upload_url(self, session: UploadSession) -> str:
        session_id = quote(session.id, safe="")
        return f"{self.base_url}/upload/AttachmentSessions/{session_id}?authtoken={session.token}"

    # -- arranging --------------------------------------------------------------------------

    def register_app(
        self,
        client_id: str | None = None,
        *,
        secret: str | None = None,
        certificate_pem: bytes | None = None,
    ) -> App:
        """Register (or add a credential to) an application allowed the client credentials flow."""
        return self.identity.register_app(client_id, secret=secret, certificate_pem=certificate_pem)

    def add_mailbox(self, address: str, display_name: str | None = None) -> Mailbox:
        return self.directory.add(address, display_name)

    def mailbox(self, key: str) -> Mailbox:
        mailbox = self.directory.find(key)
        if mailbox is None:
            raise KeyError(key)
        return mailbox

    def deliver(
        self,
        to: str,
        *,
        subject: str = "",
        body: str = "",
        body_type: str = "text",
        sender: str = "someone@example.com",
        sender_name: str | None = None,
        folder: str = "inbox",
        is_read: bool = False,
        importance: str = "normal",
        received: datetime | None = None,
        attachments: list[tuple[str, bytes, str]] | None = None,
        cc: list[str] | None = None,
    ) -> dict[str, Any]:
        """Put a received message straight into a mailbox, as if it came from the internet.

        Returns a snapshot of the message resource (its ``id`` is the default id at delivery).
        """
        mailbox = self.mailbox(to)
        with mailbox.lock:
            message = messages.build_message(
                mailbox,
                {
                    "subject": subject,
                    "body": {"contentType": body_type, "content": body},
                    "importance": importance,
                    "from": {"emailAddress": {"address": sender, "name": sender_name or sender}},
                    "toRecipients": [{"emailAddress": {"address": mailbox.address}}],
                    "ccRecipients": [{"emailAddress": {"address": a}} for a in cc or []],
                },
                draft=False,
            )
            message["isRead"] = is_read
            if received is not None:
                moment = received.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                message.update(receivedDateTime=moment, sentDateTime=moment, createdDateTime=moment)
            for name, content, content_type in attachments or []:
                message["_attachments"].append(messages.new_attachment(name, content, content_type))
            message["hasAttachments"] = bool(message["_attachments"])
            mailbox.add_message(message, folder)
            return {key: value for key, value in message.items() if key[0] != "_"}

    # -- faults -----------------------------------------------------------------------------

    def throttle(
        self,
        count: int = 1,
        *,
        retry_after: int | None = 1,
        status: int = 429,
        code: str | None = None,
        message: str | None = None,
        mailbox: str | None = None,
    ) -> None:
        """The next ``count`` Graph requests (to ``mailbox`` if given) get this error.

        429 answers as Graph's throttling guidance shows it (https://learn.microsoft.com/graph/
        throttling): code ``TooManyRequests`` and a ``Retry-After`` header; 503 and 504 as the
        error page lists them (https://learn.microsoft.com/graph/errors).
        """
        defaults = {
            429: ("TooManyRequests", "Please retry again later."),
            503: ("serviceNotAvailable", "The service is temporarily unavailable."),
            504: ("UnknownError", "The gateway did not receive a timely response."),
        }
        default_code, default_message = defaults.get(status, ("UnknownError", "Injected fault."))
        with self.lock:
            self.faults.queue.append(
                Fault(
                    count,
                    status,
                    retry_after,
                    code or default_code,
                    message or default_message,
                    mailbox.lower() if mailbox else None,
                )
            )

    def limit_mailbox_concurrency(self, limit: int | None = 4) -> None:
        """More than ``limit`` requests in flight to one mailbox answer 429 ApplicationThrottled.

        Outlook runs at most 4 concurrent requests per app and mailbox
        (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits); the
        answer's code and message are the ones reported in
        https://learn.microsoft.com/answers/questions/734143. ``None`` switches it off.
        """
        self.faults.concurrency_limit = limit

    def set_latency(self, seconds: float) -> None:
        """Each Graph request waits this long (inside its mailbox concurrency slot)."""
        self.faults.latency = seconds

    def forget_sync_states(self) -> None:
        """Graph forgot every delta round so far: their links answer 410 SyncStateNotFound
        (https://learn.microsoft.com/graph/delta-query-overview: Outlook's older delta tokens are
        dropped once its token cache is full)."""
        self.sync_generation += 1

    def cap_page_size(self, items: int | None) -> None:
        """Answer pages of at most ``items`` whatever ``$top`` asked (Graph may page shorter)."""
        self.page_cap = items

    def hold(self, mailbox: str | None = None) -> None:
        """Keep admitted Graph requests (to ``mailbox``, or all) waiting until ``release``.

        They wait inside their concurrency slot, so a test can have requests in flight for
        certain, with no timing involved.
        """
        self.faults.held_mailbox = mailbox.lower() if mailbox else None
        self.faults.held = threading.Event()

    def release(self) -> None:
        held, self.faults.held = self.faults.held, None
        if held is not None:
            held.set()

    def in_flight(self, mailbox: str) -> int:
        """Requests to ``mailbox`` being answered right now."""
        with self.lock:
            return self.faults.in_flight.get(mailbox.lower(), 0)

    def peak_concurrency(self, mailbox: str) -> int:
        """The most requests that were ever in flight at once for ``mailbox``."""
        with self.lock:
            return self.faults.peak.get(mailbox.lower(), 0)

    def set_token_lifetime(self, seconds: int) -> None:
        """``expires_in`` of the tokens issued from now on (MSAL renews within 5 minutes of it)."""
        self.identity.token_lifetime = seconds

    def revoke_tokens(self) -> None:
        """Every issued token is now refused (401), as after a credential reset."""
        self.identity.revoke_all()

    def expire_tokens(self) -> None:
        self.identity.expire_all()

    # -- observing --------------------------------------------------------------------------

    def requests(self, kind: str | None = "graph") -> list[LoggedRequest]:
        """The logged requests of one kind (``None``: all), oldest first."""
        with self.lock:
            return [entry for entry in self.log if kind is None or entry.kind == kind]

    @property
    def token_requests(self) -> list[Any]:
        return list(self.identity.token_requests)

    def record_sent(self, mail: SentMail) -> None:
        with self.lock:
            self.sent.append(mail)

    def reset(self) -> None:
        """Forget mailboxes, apps, tokens, faults and logs (the server keeps running)."""
        with self.lock:
            self.directory.clear()
            self.identity.apps.clear()
            self.identity.tokens.clear()
            self.identity.token_requests.clear()
            self.identity.token_lifetime = self.default_token_lifetime
            self.faults.queue.clear()
            self.faults.latency = 0.0
            self.faults.concurrency_limit = None
            self.faults.peak.clear()
            self.release()
            self.page_cap = None
            self.sync_generation = 0
            self.upload_sessions.clear()
            self.sent.clear()
            self.log.clear()
            self.internal_errors.clear()

    # -- serving ----------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or request.full_path
        parts = urlsplit(raw)
        raw_path = parts.path
        segments = split_path(raw_path)
        entry = LoggedRequest(
            kind=_kind(segments),
            method=request.method,
            path=raw_path,
            query=_redacted(dict(parse_qsl(parts.query, keep_blank_values=True))),
            headers={
                k.lower(): v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS
            },
            body=_redacted_body(request),
            at=time.time(),
        )
        with self.lock:
            self.log.append(entry)
        request_id = str(uuid.uuid4())
        try:
            if entry.kind == "identity":
                response = self._identity(request, segments)
            elif entry.kind == "upload":
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                response = self._upload(request, segments, query)
            elif entry.kind == "graph":
                response = self._graph(request, segments[1:], raw_path, entry)
            else:
                response = Response("Not Found", status=404)
        except GraphError as error:
            response = self._graph_error(error, request, request_id)
        except Exception as error:  # a bug of the stand-in, not an answer of Graph's
            with self.lock:
                self.internal_errors.append(error)
            failure = GraphError(500, "generalException", f"Stand-in failure: {error!r}")
            response = self._graph_error(failure, request, request_id)
        response.headers.setdefault("request-id", request_id)
        client_request_id = request.headers.get("client-request-id")
        if client_request_id:
            response.headers.setdefault("client-request-id", client_request_id)
        entry.status = response.status_code
        return response(environ, start_response)

    def _graph_error(self, error: GraphError, request: Request, request_id: str) -> Response:
        # Error resource: https://learn.microsoft.com/graph/errors
        inner = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": request.headers.get("client-request-id", request_id),
            **error.inner,
        }
        body = {"error": {"code": error.code, "message": error.message, "innerError": inner}}
        return json_response(body, error.status, headers=dict(error.headers))

    # -- identity ---------------------------------------------------------------------------

    def _identity(self, request: Request, segments: list[str]) -> Response:
        tenant = segments[0]
        if segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            # https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
            if request.method != "GET":
                return Response(status=405)
            if not self.identity.knows_tenant(tenant):
                error = TokenError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
                return Response(json.dumps(error.body()), 400, content_type="application/json")
            document = self.identity.openid_configuration(self.base_url, tenant)
            return Response(json.dumps(document), 200, content_type="application/json")
        if segments[1:] == ["discovery", "v2.0", "keys"]:
            return Response(json.dumps({"keys": []}), 200, content_type="application/json")
        # segments[1:] == ["oauth2", "v2.0", "token"]
        # https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
        if request.method != "POST":
            return Response(status=405)
        form = {key: value for key, value in request.form.items()}
        basic = None
        if request.authorization is not None and request.authorization.type == "basic":
            basic = (request.authorization.username or "", request.authorization.password or "")
        endpoint = f"{self.base_url}/{tenant}/oauth2/v2.0/token"
        try:
            body = self.identity.token(form, basic, tenant, endpoint)
        except TokenError as error:
            return Response(json.dumps(error.body()), error.status, content_type="application/json")
        return Response(
            json.dumps(body),
            200,
            content_type="application/json; charset=utf-8",
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    # -- Graph ------------------------------------------------------------------------------

    def _graph(
        self, request: Request, segments: list[str], raw_path: str, entry: LoggedRequest
    ) -> Response:
        self._authenticate(request)
        if segments and segments[0] == "me":
            # App-only tokens have no signed-in user; Graph refuses /me for them.
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        mailbox_key = None
        if len(segments) > 1 and segments[0] == "users":
            known = self.directory.find(segments[1])
            mailbox_key = (known.address if known else segments[1]).lower()
        entry.mailbox = mailbox_key
        self._scripted_fault(mailbox_key)
        self._enter(mailbox_key)
        try:
            if self.faults.latency:
                time.sleep(self.faults.latency)
            held = self.faults.held
            if held is not None and self.faults.held_mailbox in (None, mailbox_key):
                held.wait(timeout=30)
            handler, params = self.router.match(request.method, segments)
            call = Call(
                request=request,
                standin=self,
                params=params,
                args={key: value for key, value in request.args.items()},
                raw_path=raw_path,
                prefer=parse_prefer(request.headers.getlist("Prefer")),
            )
            if "user" in params:
                call.mailbox = self.directory.get(params["user"])
            return handler(call)
        finally:
            self._leave(mailbox_key)

    def _authenticate(self, request: Request) -> IssuedToken:
        # "401 Unauthorized: Required authentication information is either missing or not valid
        # for the resource" (https://learn.microsoft.com/graph/errors).
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            reason: IssuedToken | str = "Access token is empty."
        else:
            reason = self.identity.check(token.strip())
        if isinstance(reason, IssuedToken):
            return reason
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            reason,
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="", authorization_uri="{self.authority}/oauth2/authorize", '
                    'client_id="00000003-0000-0000-c000-000000000000"'
                )
            },
        )

    def _scripted_fault(self, mailbox: str | None) -> None:
        with self.lock:
            fault = next(
                (f for f in self.faults.queue if f.mailbox is None or f.mailbox == mailbox), None
            )
            if fault is None:
                return
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.queue.remove(fault)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        inner = {"code": str(fault.status), "status": str(fault.status)}
        if fault.status == 429:
            inner["message"] = "Please retry after"
        raise GraphError(fault.status, fault.code, fault.message, headers=headers, inner=inner)

    def _enter(self, mailbox: str | None) -> None:
        if mailbox is None:
            return
        with self.lock:
            self.faults.in_flight[mailbox] += 1
            in_flight = self.faults.in_flight[mailbox]
            self.faults.peak[mailbox] = max(self.faults.peak[mailbox], in_flight)
            limit = self.faults.concurrency_limit
        if limit is not None and in_flight > limit:
            self._leave(mailbox)
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                headers={"Retry-After": "1"},
            )

    def _leave(self, mailbox: str | None) -> None:
        if mailbox is None:
            return
        with self.lock:
            self.faults.in_flight[mailbox] -= 1

    # -- large attachment uploads -----------------------------------------------------------

    def _upload(self, request: Request, segments: list[str], query: dict[str, str]) -> Response:
        """PUT byte ranges to an upload session (outlook-large-attachments, steps 2 to 4)."""
        session = self.upload_sessions.get(segments[-1]) if len(segments) == 3 else None
        if session is None or not secrets.compare_digest(query.get("authtoken", ""), session.token):
            raise GraphError(404, "ErrorItemNotFound", "The upload session was not found.")
        # The uploadUrl is pre-authenticated: "Do not specify an Authorization request header".
        if "Authorization" in request.headers:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "The upload URL is pre-authenticated; an Authorization header must not be sent.",
            )
        if session.expires_at < time.time():
            raise GraphError(404, "ErrorItemNotFound", "The upload session has expired.")
        if request.method == "DELETE":
            self.upload_sessions.pop(session.id, None)
            return json_response(None, 204)
        if request.method != "PUT":
            raise GraphError(405, "BadRequest", "Only PUT and DELETE go to an upload URL.")
        start, end, total = _content_range(request.headers.get("Content-Range", ""))
        data = request.get_data()
        if total != session.size:
            raise GraphError(
                400, "fragmentLengthMismatch", "Declared total size differs from the session's."
            )
        if start != len(session.received):
            raise GraphError(416, "invalidRange", "Uploaded fragment overlaps with existing data.")
        if end - start + 1 != len(data) or end >= total:
            raise GraphError(400, "invalidRange", "The Content-Range does not match the body.")
        session.received.extend(data)
        expires = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(session.received) < session.size:
            return json_response(
                {"expirationDateTime": expires, "nextExpectedRanges": [str(len(session.received))]}
            )
        mailbox = session.mailbox
        with mailbox.lock:
            message = mailbox.messages.get(session.message_immutable_id)
            if message is None:
                raise GraphError(404, "ErrorItemNotFound", "The message no longer exists.")
            attachment = messages.new_attachment(
                session.name,
                bytes(session.received),
                session.content_type,
                is_inline=session.is_inline,
            )
            message["_attachments"].append(attachment)
            message["hasAttachments"] = True
            mailbox.touch_message(message)
            location = (
                f"{self.graph_url}/users('{quote(mailbox.id)}')/messages('"
                f"{quote(message['id'], safe='')}')/attachments('"
                f"{quote(attachment['id'], safe='')}')"
            )
        self.upload_sessions.pop(session.id, None)
        return json_response(None, 201, headers={"Location": location})


SECRET_FIELDS = {"client_secret", "client_assertion", "authtoken"}


def _redacted(fields: dict[str, str]) -> dict[str, str]:
    return {k: "***" if k.lower() in SECRET_FIELDS else v for k, v in fields.items()}


def _redacted_body(request: Request) -> bytes:
    """The request body for the log; a token request's credentials are starred out."""
    data = request.get_data(cache=True)
    if request.mimetype != "application/x-www-form-urlencoded":
        return data
    fields = parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True)
    return urlencode([(k, "***" if k.lower() in SECRET_FIELDS else v) for k, v in fields]).encode()


def _content_range(value: str) -> tuple[int, int, int]:
    try:
        unit, _, spec = value.partition(" ")
        span, _, total = spec.partition("/")
        start, _, end = span.partition("-")
        if unit != "bytes":
            raise ValueError(unit)
        return int(start), int(end), int(total)
    except ValueError as error:
        raise GraphError(
            400, "invalidRange", f"Content-Range '{value}' is not 'bytes start-end/total'."
        ) from error


def _kind(segments: list[str]) -> str:
    if segments and segments[0] == GRAPH_VERSION:
        return "graph"
    if segments[:2] == ["upload", "AttachmentSessions"]:
        return "upload"
    if len(segments) == 4 and segments[1:] in (
        ["v2.0", ".well-known", "openid-configuration"],
        ["oauth2", "v2.0", "token"],
        ["discovery", "v2.0", "keys"],
    ):
        return "identity"
    return "unknown"


def encode_id(identifier: str) -> str:
    """An id as a path segment: ``/``, ``+`` and ``=`` percent-encoded."""
    return quote(identifier, safe="")


__all__ = [
    "GraphStandIn",
    "LoggedRequest",
    "SentMail",
    "encode_id",
]
