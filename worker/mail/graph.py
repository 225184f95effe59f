"""The ``graph`` mail backend: approval emails sent from a Microsoft 365 mailbox.

The message we built for SMTP is taken apart into Graph's ``message`` resource (HTML body,
recipients, importance, file attachments) and sent with ``POST /users/{mailbox}/sendMail``,
so it lands in the mailbox's Sent Items like any mail its owner sends. Attachments of 3 MB
and more cannot travel inline: the message is then created as a draft, each large file goes
through an upload session, and the draft is sent.
"""

from __future__ import annotations

import base64
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from typing import Any

from approvals.config import Settings
from approvals.errors import OurSideMailError, PermanentMailError, TransientMailError
from worker.graph.client import GraphClient, GraphError, graph_client, segment

# Graph takes attachments under 3 MB inline; larger ones need an upload session.
INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
UPLOAD_CHUNK = 320 * 1024 * 10  # upload sessions want multiples of 320 KiB
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


def graph_message(message: Message) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
    """Graph's ``message`` resource for ``message``, and the attachments too large for it."""
    html, text, attachments = _parts(message)
    resource: dict[str, Any] = {
        "subject": _text(message["Subject"] or ""),
        "body": {"contentType": "HTML", "content": html}
        if html
        else {"contentType": "Text", "content": text},
        "toRecipients": _recipients(message["To"] or ""),
        "importance": _IMPORTANCE.get(str(message["Importance"] or "normal").lower(), "normal"),
    }
    if message["Message-ID"]:
        resource["internetMessageId"] = str(message["Message-ID"])
    inline = [a for a in attachments if len(a[2]) < INLINE_ATTACHMENT_LIMIT]
    large = [a for a in attachments if len(a[2]) >= INLINE_ATTACHMENT_LIMIT]
    if inline:
        resource["attachments"] = [
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": name,
                "contentType": content_type,
                "contentBytes": base64.b64encode(content).decode("ascii"),
            }
            for name, content_type, content in inline
        ]
    return resource, large


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
        resource, large = graph_message(message)
        try:
            if not large:
                self.client.request(
                    "POST",
                    mailbox,
                    "/sendMail",
                    json={"message": resource, "saveToSentItems": True},
                )
                return
            self._send_with_uploads(mailbox, resource, large)
        except GraphError as exc:
            raise mail_error(exc) from None

    def _send_with_uploads(
        self, mailbox: str, resource: dict[str, Any], large: list[tuple[str, str, bytes]]
    ) -> None:
        draft = self.client.request("POST", mailbox, "/messages", json=resource).json()
        message_path = f"/messages/{segment(draft['id'])}"
        for name, content_type, content in large:
            session = self.client.request(
                "POST",
                mailbox,
                f"{message_path}/attachments/createUploadSession",
                json={
                    "AttachmentItem": {
                        "attachmentType": "file",
                        "name": name,
                        "size": len(content),
                        "contentType": content_type,
                    }
                },
            ).json()
            self._upload(session["uploadUrl"], content)
        self.client.request("POST", mailbox, f"{message_path}/send")

    def _upload(self, url: str, content: bytes) -> None:
        """PUT the bytes in ranges to the session's URL, which is pre-authorised."""
        for start in range(0, len(content), UPLOAD_CHUNK):
            chunk = content[start : start + UPLOAD_CHUNK]
            end = start + len(chunk) - 1
            self.client.upload(url, chunk, f"bytes {start}-{end}/{len(content)}")
