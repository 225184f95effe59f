"""Mail backends behind one interface: ``outbox`` (kept in the database) and ``smtp``.

MailError
├── TransientMailError   try again later (connection refused, 4xx, timeout)
└── PermanentMailError   give up on this recipient (5xx, address refused)
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from approvals.config import Settings
from approvals.store.db import Database
from approvals.store.models import OutboxMessage


class MailError(Exception):
    """Sending failed; ``reason`` is what the recipient's row will show."""


class TransientMailError(MailError):
    pass


class PermanentMailError(MailError):
    pass


class MailBackend(Protocol):
    def send(self, message: EmailMessage, *, recipient_id: str | None = None) -> None:
        """Hand ``message`` over for delivery, or raise a :class:`MailError`."""


class OutboxBackend:
    """The embedded default: keeps each message as a row, readable by API and CLI."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def send(self, message: EmailMessage, *, recipient_id: str | None = None) -> None:
        with self.db.session() as session:
            session.add(
                OutboxMessage(
                    recipient_id=recipient_id,
                    to_address=str(message["To"]),
                    subject=str(message["Subject"]),
                    raw=message.as_string(),
                )
            )


class SmtpBackend:
    """smtplib with plain, STARTTLS or implicit TLS, and a timeout on every connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "tls":
            return smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout,
                context=ssl.create_default_context(),
            )
        client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        if s.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: EmailMessage, *, recipient_id: str | None = None) -> None:
        try:
            with self._connect() as client:
                if self.settings.smtp_username:
                    client.login(self.settings.smtp_username, self.settings.smtp_password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{c} {m.decode(errors='replace')}" for c, m in exc.recipients.values()
            )
            if all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {detail}") from exc
            raise TransientMailError(f"recipient deferred: {detail}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
            if exc.smtp_code >= 500:
                raise PermanentMailError(text) from exc
            raise TransientMailError(text) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc


def backend_for(settings: Settings, db: Database) -> MailBackend:
    if settings.mail_backend == "outbox":
        return OutboxBackend(db)
    if settings.mail_backend == "smtp":
        return SmtpBackend(settings)
    raise ValueError(f"APPROVALS_MAIL_BACKEND={settings.mail_backend!r} is not one of outbox, smtp")
