"""Mail backends behind one interface: ``outbox`` (kept in the database), ``smtp`` and
``graph`` (:mod:`worker.mail.graph`).

Each raises one of :class:`approvals.errors.MailError`'s kinds.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from email.message import Message
from email.utils import getaddresses
from functools import lru_cache
from typing import Protocol, cast

from approvals.config import Settings
from approvals.errors import OurSideMailError, PermanentMailError, TransientMailError
from approvals.store.db import Database
from approvals.store.models import OutboxMessage
from worker.mail.message import SMTP_POLICY, is_bare_address


class MailBackend(Protocol):
    def send(self, message: Message, *, recipient_id: str | None = None) -> None:
        """Hand ``message`` over for delivery, or raise a :class:`MailError`."""


class OutboxBackend:
    """The embedded default: keeps each message as a row, readable by API and CLI."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def send(self, message: Message, *, recipient_id: str | None = None) -> None:
        with self.db.session() as session:
            session.add(
                OutboxMessage(
                    recipient_id=recipient_id,
                    to_address=str(message["To"]),
                    subject=str(message["Subject"]),
                    raw=message.as_string(),
                )
            )


def envelope_addresses(header: str) -> tuple[str, ...]:
    """The bare addresses of an address header."""
    return (header,) if is_bare_address(header) else _parsed_addresses(header)


@lru_cache(maxsize=4096)
def _parsed_addresses(header: str) -> tuple[str, ...]:
    # The same From is parsed once per process.
    return tuple(address for _, address in getaddresses([header]))


class _BareEnvelope:
    """MAIL FROM and RCPT TO written from bare addresses as given.

    smtplib's own ``mail`` and ``rcpt`` parse every address again with ``email.utils``, a
    tenth of a message's CPU in a worker; ours come from :func:`envelope_addresses`.
    """

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        return self._command("mail", f"FROM:<{sender}>", options)

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        return self._command("rcpt", f"TO:<{recip}>", options)

    def _command(self, verb: str, argument: str, options: Sequence[str]) -> tuple[int, bytes]:
        client = cast(smtplib.SMTP, self)
        if options and client.does_esmtp:
            argument += " " + " ".join(options)
            if any(option.lower() == "smtputf8" for option in options):
                client.command_encoding = "utf-8"  # as smtplib does; RSET sets it back
        client.putcmd(verb, argument)
        return client.getreply()


class _Smtp(_BareEnvelope, smtplib.SMTP):
    pass


class _SmtpSsl(_BareEnvelope, smtplib.SMTP_SSL):
    pass


class SmtpBackend:
    """smtplib with plain, STARTTLS or implicit TLS, and a timeout on every connection.

    Each worker thread keeps its connection open between messages (a handshake costs more
    than a message); one idle for a while is checked with NOOP, and one the server dropped
    is replaced before the next message, never in the middle of one.
    """

    IDLE_CHECK_SECONDS = 5.0
    MAX_MESSAGES_PER_CONNECTION = 100

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "tls":
            client: smtplib.SMTP = _SmtpSsl(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = _Smtp(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            try:
                client.login(s.smtp_username, s.smtp_password or "")
            except BaseException:
                with contextlib.suppress(OSError):
                    client.close()
                raise
        return client

    def _connection(self) -> smtplib.SMTP:
        local = self._local
        client: smtplib.SMTP | None = getattr(local, "client", None)
        if client is not None:
            stale = local.sent >= self.MAX_MESSAGES_PER_CONNECTION
            if not stale and time.monotonic() - local.used > self.IDLE_CHECK_SECONDS:
                try:
                    stale = client.noop()[0] != 250
                except (smtplib.SMTPException, OSError):
                    stale = True
            if not stale:
                return client
            self._close()
        local.client, local.sent, local.used = self._connect(), 0, time.monotonic()
        return local.client

    def _close(self) -> None:
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            with contextlib.suppress(OSError):
                client.close()

    def send(self, message: Message, *, recipient_id: str | None = None) -> None:
        try:
            client = self._connection()
            # One flattening, and the envelope from the headers we wrote ourselves.
            sender = envelope_addresses(str(message["From"]))[0]
            recipients = envelope_addresses(str(message["To"]))
            client.sendmail(
                sender,
                recipients,
                message.as_bytes(policy=SMTP_POLICY),
                mail_options=_envelope_options(client, (sender, *recipients)),
            )
            self._local.sent += 1
            self._local.used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            self._local.used = time.monotonic()
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{c} {m.decode(errors='replace')}" for c, m in exc.recipients.values()
            )
            if all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {detail}") from exc
            raise TransientMailError(f"recipient deferred: {detail}") from exc
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as exc:
            self._close()
            what = "login" if isinstance(exc, smtplib.SMTPAuthenticationError) else "sender"
            text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
            raise OurSideMailError(f"the mail server refused our {what}: {text}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._close()
            raise OurSideMailError(f"the mail server does not support: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            self._close()
            text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
            if exc.smtp_code >= 500:
                raise PermanentMailError(text) from exc
            raise TransientMailError(text) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._close()
            raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc


def _envelope_options(client: smtplib.SMTP, addresses: Sequence[str]) -> tuple[str, ...]:
    """SMTPUTF8 when an address is not ASCII (RFC 6531); a server without it cannot take one."""
    if all(address.isascii() for address in addresses):
        return ()
    client.ehlo_or_helo_if_needed()  # what the server supports is known after EHLO
    if not client.has_extn("smtputf8"):
        raise PermanentMailError(
            "the mail server does not accept addresses that are not ASCII (no SMTPUTF8)"
        )
    return ("SMTPUTF8",)


def backend_for(settings: Settings, db: Database) -> MailBackend:
    if settings.mail_backend == "outbox":
        return OutboxBackend(db)
    if settings.mail_backend == "smtp":
        return SmtpBackend(settings)
    if settings.mail_backend == "graph":
        from worker.mail.graph import GraphBackend  # msal and its requests only when used

        return GraphBackend(settings)
    raise ValueError(f"APPROVALS_MAIL_BACKEND={settings.mail_backend!r} is not one of outbox, smtp")
