"""Build the approval/options email: one multipart message with a button per option.

Rendering is kept apart from sending so the exact bytes can be tested without an SMTP server.
"""

from __future__ import annotations

import base64
import mimetypes
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

import templates
from worker.mail.inlined import InlinedHtmlLoader

FOOTER_TEXT = (
    "Sent by approvals, a self-hosted approval service. "
    "The buttons open a page where you confirm your choice."
)

# Importance -> (Importance header value, X-Priority value). Both are sent because Outlook
# reads Importance while many other clients only look at X-Priority.
_IMPORTANCE = {"Low": ("low", "5"), "Normal": ("normal", "3"), "High": ("high", "1")}

# Everything str.splitlines() treats as a line break; any of them in a header could end it.
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


@dataclass(frozen=True)
class OptionLink:
    """One choice offered to the recipient; the URL opens the confirm page."""

    label: str
    url: str


@dataclass(frozen=True)
class Attachment:
    """A file sent along with the request, kept as raw bytes so it round-trips exactly."""

    name: str
    content: bytes


@dataclass(frozen=True)
class MailContent:
    """Everything needed to render one approval email for one recipient."""

    to: str
    sender: str
    subject: str
    importance: str
    header_text: str | None
    body: str | None
    selection_text: str | None
    options: tuple[OptionLink, ...]
    attachments: tuple[Attachment, ...] = ()
    use_only_html: bool = False
    hide_html_message: bool = False
    hide_footer: bool = False
    message_id_domain: str = "approvals.local"


def _one_line(value: str) -> str:
    """Collapse line breaks to a space so request text cannot start a new header or line."""
    return _LINE_BREAKS.sub(" ", value).strip()


def _normalise_newlines(value: str) -> str:
    """Turn CRLF/CR into LF so line handling is the same whatever the caller sent."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _nl2br(value: str) -> Markup:
    """Escape first, then add <br>, so user text keeps its line breaks but never its tags."""
    escaped = escape(_normalise_newlines(value))
    return Markup("<br>\n").join(escaped.split("\n"))


def _safe_url(value: str) -> str:
    """Percent-encode characters a URL may not hold (<, >, quotes, spaces, non-ASCII).

    Browsers do the same encoding before following a link, so the target does not change, and
    markup in an href, even escaped, would look like an injection to spam filters and to
    anyone reading the source.
    """
    return quote(_one_line(value), safe="%:/?#[]@!$&'()*+,;=~")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """One Jinja environment: autoescape for .html (request text is untrusted), off for .txt."""
    folder = Path(templates.__file__).parent / "email"
    env = Environment(
        loader=InlinedHtmlLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates ship with the code: no stat() of their files for every message.
        auto_reload=False,
    )
    env.filters["nl2br"] = _nl2br
    env.filters["one_line"] = _one_line
    env.filters["safe_url"] = _safe_url
    return env


def _context(content: MailContent) -> dict[str, object]:
    """Values shared by both templates; hide_html_message drops the message in both parts."""
    show_message = not content.hide_html_message
    return {
        "subject": _one_line(content.subject),
        "header_text": content.header_text if show_message and content.header_text else None,
        "body": _normalise_newlines(content.body) if show_message and content.body else None,
        "selection_text": content.selection_text or None,
        "options": content.options,
        "footer": None if content.hide_footer else FOOTER_TEXT,
    }


def render_html(content: MailContent) -> str:
    """Render the HTML part (its CSS was inlined when the template was loaded)."""
    return _environment().get_template("message.html").render(**_context(content))


def render_text(content: MailContent) -> str:
    """Render the plain-text part for clients (and filters) that do not read HTML."""
    text = _environment().get_template("message.txt").render(**_context(content))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text + "\n"


def _check_header(name: str, value: str) -> str:
    """Refuse address headers with line breaks rather than guess what the caller meant."""
    if _LINE_BREAKS.search(value):
        raise ValueError(f"{name} must not contain line breaks")
    return value


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def is_bare_address(value: str) -> bool:
    """A ``local@domain`` with nothing to quote or parse, as intake stores every recipient.

    It may hold letters that are not ASCII (RFC 6531): such an address is written as UTF-8 in
    the header (see :class:`MailPolicy`) and sent only to a server that offers SMTPUTF8.
    """
    return value.count("@") == 1 and _NOT_BARE.search(value) is None


_NOT_BARE = re.compile(r'[\s<>()\[\]",;:\\]')


def _address(value: str) -> str:
    """An address header, its display name encoded if it is not ASCII."""
    return value if is_bare_address(value) else _parsed_address(value)


@lru_cache(maxsize=4096)
def _parsed_address(value: str) -> str:
    return formataddr(parseaddr(value), charset="utf-8")


def build_message(content: MailContent) -> Message:
    """Assemble headers, the text/HTML alternatives and any attachments into one message.

    Built with the ``compat32`` MIME classes: the ``email.policy`` header registry costs three
    times as much per message, and a worker builds one message per recipient.
    """
    try:
        importance, priority = _IMPORTANCE[content.importance]
    except KeyError:
        raise ValueError(
            f"importance must be one of {', '.join(_IMPORTANCE)}, not {content.importance!r}"
        ) from None

    html = _text_part(render_html(content), "html")
    if content.use_only_html:
        body: Message = html
    else:
        body = MIMEMultipart("alternative", boundary=_boundary())
        body.attach(_text_part(render_text(content), "plain"))
        body.attach(html)
    if content.attachments:
        msg: Message = MIMEMultipart("mixed", boundary=_boundary())
        msg.attach(body)
        for attachment in content.attachments:
            msg.attach(_attachment_part(attachment))
    else:
        msg = body

    msg["From"] = _address(_check_header("sender", content.sender))
    msg["To"] = _address(_check_header("to", content.to))
    msg["Subject"] = _header(_one_line(content.subject))
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=content.message_id_domain)
    msg["Importance"] = importance
    msg["X-Priority"] = priority
    return msg


def _text_part(text: str, subtype: str) -> Message:
    """A UTF-8 text part in base64: the bytes ``MIMEText(text, subtype, "utf-8")`` gives, with
    the body encoded by one call to binascii instead of a Python loop over 57-byte chunks."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(text.encode("utf-8")).decode("ascii"))
    return part


def _boundary() -> str:
    """A part boundary that cannot occur in the parts: they are all base64 or quoted-printable
    (whose "=" is always followed by hex digits), and "=_" is neither. Given up front, it also
    spares the generator a regular expression compiled per message to look for a clash."""
    return "=_" + uuid.uuid4().hex


class MailPolicy(Compat32):
    """compat32 that writes short ASCII headers as they are instead of folding each one.

    Longer or non-ASCII values are folded (and encoded) exactly as compat32 does, except an
    address header holding one bare address that is not ASCII: RFC 2047 cannot encode an
    address, so it is written as UTF-8 (RFC 6532), as a server offering SMTPUTF8 takes it.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        if name in _ADDRESS_HEADERS and not value.isascii() and is_bare_address(value):
            return f"{name}: {value}{self.linesep}".encode()
        return super().fold_binary(name, value)

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= MAX_HEADER_LINE
            and not _LINE_BREAKS.search(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


MAX_HEADER_LINE = 78
_ADDRESS_HEADERS = frozenset({"From", "To"})
# What the SMTP backend flattens with: CRLF line ends, as SMTP wants.
SMTP_POLICY = MailPolicy(linesep="\r\n")


def _attachment_part(attachment: Attachment) -> Message:
    filename = _one_line(attachment.name)
    guessed, _ = mimetypes.guess_type(filename)
    maintype, subtype = (guessed or "application/octet-stream").split("/", 1)
    part = MIMEBase(maintype, subtype)
    part.set_payload(attachment.content)
    encoders.encode_base64(part)
    name: str | tuple[str, str, str] = filename if filename.isascii() else ("utf-8", "", filename)
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part
