"""A real SMTP server (aiosmtpd) that keeps what it receives and can be told to refuse."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.sink.sender_refusal:
            return self.sink.sender_refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.sink.refusals.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.sink.lock:
            self.sink.in_data += 1
            self.sink.most_in_data = max(self.sink.most_in_data, self.sink.in_data)
        try:
            if self.sink.data_delay:
                await asyncio.sleep(self.sink.data_delay)
        finally:
            with self.sink.lock:
                self.sink.in_data -= 1
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.sink.lock:
            for rcpt in envelope.rcpt_tos:
                self.sink.received.append((rcpt.lower(), message))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """Start with :meth:`start`; ``refuse(address, "550 ...")`` makes RCPT fail for an address,
    ``data_delay`` makes every message take that many seconds to be accepted, and
    ``most_in_data`` is the most messages it was taking at once. ``sender_refusal`` is the
    reply to MAIL FROM while set; with ``login`` (user, password) the server requires AUTH
    and accepts only that pair."""

    def __init__(self, *, smtputf8: bool = True, login: tuple[str, str] | None = None) -> None:
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531): addresses that are not ASCII
        self.login = login
        self.sender_refusal: str | None = None
        self.received: list[tuple[str, EmailMessage]] = []
        self.refusals: dict[str, str] = {}
        self.data_delay = 0.0
        self.in_data = 0
        self.most_in_data = 0
        self.lock = threading.Lock()
        self.port = 0
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen on a free loopback port, or again on the same one after :meth:`stop`."""
        if not self.port:
            self.port = free_port()
        auth: dict[str, object] = {}
        if self.login is not None:
            auth = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # loopback only, and no certificate to offer
            }
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            enable_SMTPUTF8=self.smtputf8,
            **auth,
        )
        self._controller.start()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.login is None:
            return AuthResult(success=False, handled=False)
        given = (data.login.decode(), data.password.decode())
        return AuthResult(success=given == self.login, handled=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, reply: str) -> None:
        self.refusals[address.lower()] = reply

    def messages_for(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.received if rcpt == address.lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
        """Poll until ``count`` messages reached ``address``; fail loudly on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages_for(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{address} got {len(self.messages_for(address))} mails, want {count}")
