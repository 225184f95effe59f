"""The ``graph`` mail backend: approval emails sent from a Microsoft 365 mailbox.

The message we built for SMTP is taken apart into Graph's ``message`` resource (HTML body,
recipients, importance) and its files, and sent by :mod:`worker.graph.sending` (``sendMail``,
or a draft with upload sessions for files of 3 MB and more), so it lands in the mailbox's Sent
Items like any mail its owner sends.
"""

from __future__ import annotations

from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from typing import Any

from approvals.config import Settings
from approvals.errors import OurSideMailError, PermanentMailError, TransientMailError
from worker.graph import sending
from worker.graph.client import GraphClient, GraphError, graph_client
from worker.graph.sending import File

_IMPORTANCE = {"low": "low", "normal": "normal", "high": "high"}


def _text(value: object) -> str:
    return str(make_header(decode_header(str(value))))


def _recipients(header: object) -> list[dict[str, Any]]:
    return [
        {"emailAddress": {"address": address, **({"name": name} if name else {})}}
        for name, address in getaddresses([_text(header)])
        if address
    ]


def _parts(message: Message) -> tuple[str, str, list[tuple[str, str, bytes]]]:
    """The HTML (or text) body and the attachments (name, content type, bytes)."""
    html = text = ""
    attachments: list[tuple[str, str, bytes]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None or part.get_content_disposition() == "attachment":
            attachments.append((_text(filename or "attachment"), part.get_content_type(), payload))
        elif part.get_content_type() == "text/html" and not html:
            html = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
        elif part.get_content_type() == "text/plain" and not text:
            text = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return html, text, attachments


def graph_message(message: Message) -> tuple[dict[str, Any], list[File]]:
    """Graph's ``message`` resource for ``message`` (without attachments), and its files."""
    html, text, attachments = _parts(message)
    resource: dict[str, Any] = {
        "subject": _text(message["Subject"] or ""),
        "body": {"contentType": "HTML", "content": html}
        if html
        else {"contentType": "Text", "content": text},
        "toRecipients": _recipients(message["To"] or ""),
        "importance": _IMPORTANCE.get(str(message["Importance"] or "normal").lower(), "normal"),
    }
    return resource, [
        File(name, content, content_type) for name, content_type, content in attachments
    ]


def mail_error(error: GraphError) -> Exception:
    """What a Graph error means for the recipient's row."""
    if error.status in (401, 403) or error.code in ("token_unavailable", "ErrorInvalidUser"):
        return OurSideMailError(f"Graph refused our mailbox or app: {error}")
    if error.status == 404:
        return OurSideMailError(f"Graph does not know the sending mailbox: {error}")
    if error.status == 400:
        return PermanentMailError(f"Graph refused the message: {error}")
    return TransientMailError(str(error))


class GraphBackend:
    """Sends through ``POST /users/{mailbox}/sendMail`` from the message's sender mailbox."""

    def __init__(self, settings: Settings, client: GraphClient | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> GraphClient:
        return self._client or graph_client(self.settings)

    def send(self, message: Message, *, recipient_id: str | None = None) -> None:
        """From the mailbox in the message's From (the client's), else ``GRAPH_MAILBOX``."""
        senders = getaddresses([_text(message["From"] or "")])
        mailbox = senders[0][1] if senders and senders[0][1] else self.settings.graph_mailbox
        resource, files = graph_message(message)
        try:
            sending.send(self.client, mailbox, resource, files)
        except GraphError as exc:
            raise mail_error(exc) from None
