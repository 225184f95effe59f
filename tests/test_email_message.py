"""Tests for the approval email builder, checked on the bytes a mail server would receive."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from worker.mail.message import (
    FOOTER_TEXT,
    SMTP_POLICY,
    Attachment,
    MailContent,
    OptionLink,
    build_message,
    render_html,
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"

OPTIONS = (
    OptionLink("Approve", "https://approvals.example/c/abc?choice=1&sig=x1"),
    OptionLink("Reject", "https://approvals.example/c/abc?choice=2&sig=x2"),
    OptionLink("Ask later", "https://approvals.example/c/abc?choice=3&sig=x3"),
)


def make_content(**changes: object) -> MailContent:
    """A realistic request; each test changes only what it is about."""
    base = MailContent(
        to="alice@example.com",
        sender="approvals <approvals@localhost>",
        subject="Approve the Q3 budget",
        importance="Normal",
        header_text="Budget approval",
        body="Please review the attached budget.\nIt is due Friday.",
        selection_text="Choose an answer",
        options=OPTIONS,
    )
    return replace(base, **changes)


def roundtrip(content: MailContent) -> EmailMessage:
    """Parse the built message back from the bytes the SMTP backend sends, as a client would."""
    msg = build_message(content)
    return email.message_from_bytes(msg.as_bytes(policy=SMTP_POLICY), policy=email.policy.default)


@pytest.mark.parametrize(
    "subject",
    [
        "Short",
        "A long subject " * 12,
        "Budget für das dritte Quartal — bitte bis Freitag freigeben, danke! " * 3,
    ],
)
def test_headers_short_or_long_ascii_or_not_arrive_intact(subject: str) -> None:
    sender = "Zoë Approvals <approvals@example.com>"
    message = build_message(make_content(subject=subject, sender=sender))
    raw = message.as_bytes(policy=SMTP_POLICY)
    # The fast path for short ASCII headers writes exactly what compat32's folding writes.
    assert raw == message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert b"\n" not in head.replace(b"\r\n", b""), "only CRLF line ends"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject.strip()
    assert parsed["From"].addresses[0].display_name == "Zoë Approvals"


def part_of_type(msg: EmailMessage, content_type: str) -> EmailMessage:
    """The single non-attachment part with this content type."""
    parts = [
        p
        for p in msg.walk()
        if p.get_content_type() == content_type and p.get_content_disposition() != "attachment"
    ]
    assert len(parts) == 1, f"expected one {content_type} part, found {len(parts)}"
    return parts[0]


def html_of(msg: EmailMessage) -> str:
    return part_of_type(msg, "text/html").get_content()


def text_of(msg: EmailMessage) -> str:
    return part_of_type(msg, "text/plain").get_content().replace("\r\n", "\n")


class _Collector(HTMLParser):
    """Collects link targets and table-cell attributes so tests need not regex HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self.cells: list[dict[str, str | None]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        attributes = dict(attrs)
        if tag == "a":
            self.links.append(attributes)
            if attributes.get("href") is not None:
                self.hrefs.append(attributes["href"])
        if tag == "td":
            self.cells.append(attributes)


def parse_html(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def test_message_is_alternative_with_plain_text_first_and_html_second() -> None:
    msg = roundtrip(make_content())

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_basic_headers_are_set_and_message_id_uses_the_configured_domain() -> None:
    msg = roundtrip(make_content(message_id_domain="mail.example.org"))

    assert msg["From"] == "approvals <approvals@localhost>"
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == "Approve the Q3 budget"
    assert msg["Date"] is not None and msg["Date"].datetime is not None
    assert re.fullmatch(r"<[^<>@]+@mail\.example\.org>", msg["Message-ID"])


def test_each_option_link_appears_once_and_in_order_in_the_html_part() -> None:
    html = html_of(roundtrip(make_content()))

    assert parse_html(html).hrefs == [o.url for o in OPTIONS]


def test_each_option_appears_once_as_label_colon_url_line_in_order_in_the_text_part() -> None:
    text = text_of(roundtrip(make_content()))

    option_lines = [line for line in text.splitlines() if "https://" in line]
    assert option_lines == [f"{o.label}: {o.url}" for o in OPTIONS]
    for option in OPTIONS:
        assert text.count(option.url) == 1


def test_button_labels_are_the_link_texts_in_order() -> None:
    html = html_of(roundtrip(make_content()))

    labels = re.findall(r"<a\b[^>]*>(.*?)</a>", html, flags=re.S)
    assert labels == [o.label for o in OPTIONS]


def test_text_part_has_header_body_selection_then_options_then_footer_in_that_order() -> None:
    text = text_of(roundtrip(make_content()))

    positions = [
        text.index("Budget approval"),
        text.index("Please review the attached budget.\nIt is due Friday."),
        text.index("Choose an answer"),
        text.index("Approve: "),
        text.index(FOOTER_TEXT),
    ]
    assert positions == sorted(positions)


@pytest.mark.parametrize("hostile", [SCRIPT, IMG])
def test_markup_in_request_text_is_escaped_in_html_and_literal_in_text(hostile: str) -> None:
    content = make_content(
        subject=f"Subject {hostile}",
        header_text=f"Header {hostile}",
        body=f"Body {hostile}",
        selection_text=f"Select {hostile}",
        options=(OptionLink(f"Label {hostile}", "https://approvals.example/c/1"),),
    )
    msg = roundtrip(content)
    html = html_of(msg)
    text = text_of(msg)

    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    escaped = hostile.replace("<", "&lt;").replace(">", "&gt;")
    for prefix in ("Subject", "Header", "Body", "Select", "Label"):
        assert f"{prefix} {escaped}" in html
    for prefix in ("Header", "Body", "Select"):
        assert f"{prefix} {hostile}" in text
    assert f"Label {hostile}: https://approvals.example/c/1" in text


def test_markup_in_a_link_url_is_percent_encoded_in_both_parts_and_stays_in_the_href() -> None:
    url = 'https://approvals.example/c/1?a=1&b="><script>alert(1)</script>'
    encoded = "https://approvals.example/c/1?a=1&b=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
    msg = roundtrip(make_content(options=(OptionLink("Go", url),)))
    html = html_of(msg)

    assert "<script" not in html.lower()
    assert parse_html(html).hrefs == [encoded]
    assert f"Go: {encoded}" in text_of(msg).splitlines()


def test_line_breaks_in_body_become_br_in_html() -> None:
    html = html_of(roundtrip(make_content(body="first line\r\nsecond line\nthird line")))

    assert re.search(r"first line<br>\s*second line<br>\s*third line", html)


@pytest.mark.parametrize(
    ("importance", "header", "priority"),
    [("Low", "low", "5"), ("Normal", "normal", "3"), ("High", "high", "1")],
)
def test_importance_sets_importance_and_x_priority_headers(
    importance: str, header: str, priority: str
) -> None:
    msg = roundtrip(make_content(importance=importance))

    assert msg["Importance"] == header
    assert msg["X-Priority"] == priority


def test_unknown_importance_is_rejected() -> None:
    with pytest.raises(ValueError, match="importance"):
        build_message(make_content(importance="Urgent"))


def test_hide_html_message_leaves_out_header_and_body_but_keeps_selection_and_buttons() -> None:
    msg = roundtrip(make_content(hide_html_message=True))
    html = html_of(msg)
    text = text_of(msg)

    for part in (html, text):
        assert "Budget approval" not in part
        assert "Please review the attached budget." not in part
        assert "Choose an answer" in part
    assert parse_html(html).hrefs == [o.url for o in OPTIONS]
    assert "<h1" not in html


def test_footer_is_shown_by_default_in_both_parts() -> None:
    msg = roundtrip(make_content())

    assert FOOTER_TEXT in html_of(msg)
    assert FOOTER_TEXT in text_of(msg)


def test_hide_footer_leaves_out_the_footer_in_both_parts() -> None:
    msg = roundtrip(make_content(hide_footer=True))

    assert "Sent by approvals" not in html_of(msg)
    assert "Sent by approvals" not in text_of(msg)


def test_missing_selection_text_shows_no_selection_line() -> None:
    html = html_of(roundtrip(make_content(selection_text=None)))

    assert 'class="selection"' not in html
    assert "Select an option" not in html


def test_use_only_html_sends_a_single_html_part_without_plain_text() -> None:
    msg = roundtrip(make_content(use_only_html=True))

    assert msg.get_content_type() == "text/html"
    assert not msg.is_multipart()
    assert parse_html(msg.get_content()).hrefs == [o.url for o in OPTIONS]


def test_attachments_wrap_the_alternative_in_mixed_with_exact_bytes_and_filenames() -> None:
    pdf = b"%PDF-1.4\x00\xff\xfe binary"
    blob = bytes(range(256))
    msg = roundtrip(
        make_content(
            attachments=(Attachment("budget.pdf", pdf), Attachment("data.unknownext", blob))
        )
    )

    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["budget.pdf", "data.unknownext"]
    assert [a.get_content_type() for a in attachments] == [
        "application/pdf",
        "application/octet-stream",
    ]
    assert [a.get_payload(decode=True) for a in attachments] == [pdf, blob]


def test_use_only_html_with_attachment_gives_mixed_with_html_then_attachment() -> None:
    msg = roundtrip(
        make_content(use_only_html=True, attachments=(Attachment("notes.txt", b"hello\n"),))
    )

    assert msg.get_content_type() == "multipart/mixed"
    body, attachment = list(msg.iter_parts())
    assert body.get_content_type() == "text/html"
    assert attachment.get_filename() == "notes.txt"
    assert attachment.get_payload(decode=True) == b"hello\n"


def test_crlf_in_subject_cannot_inject_a_bcc_header() -> None:
    msg = roundtrip(make_content(subject="Hello\r\nBcc: evil@example.com"))

    assert msg["Bcc"] is None
    assert "evil@example.com" not in msg.get_all("To", [])
    assert msg["Subject"] == "Hello Bcc: evil@example.com"
    header_block = build_message(make_content(subject="Hi\nBcc: evil@example.com")).as_bytes()
    header_block = header_block.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?im)^bcc:", header_block)


@pytest.mark.parametrize("field", ["to", "sender"])
def test_line_breaks_in_address_headers_are_rejected(field: str) -> None:
    with pytest.raises(ValueError):
        build_message(make_content(**{field: "alice@example.com\r\nBcc: evil@example.com"}))


def test_html_has_no_script_and_no_style_block_but_button_cells_carry_inline_styles() -> None:
    html = render_html(make_content())
    parsed = parse_html(html)

    assert "<script" not in html.lower()
    assert "<style" not in html.lower()
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert "link" not in parsed.tags
    button_cells = [c for c in parsed.cells if "button-cell" in (c.get("class") or "")]
    assert len(button_cells) == len(OPTIONS)
    for cell in button_cells:
        assert cell.get("bgcolor")
        assert "background-color" in (cell.get("style") or "")
    for link in parsed.links:
        assert "padding" in (link.get("style") or "")


def test_html_layout_is_table_based_and_capped_at_600px() -> None:
    html = render_html(make_content())

    assert "<table" in html
    assert "max-width: 600px" in html
    assert "<div" not in html


@pytest.mark.parametrize("text", ["", "Short", "Grüße\n" * 40, "x" * 5000, "a\r\nb\n\nc ✓"])
@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_text_parts_are_the_bytes_mimetext_writes(text: str, subtype: str) -> None:
    from email.mime.text import MIMEText

    from worker.mail.message import _text_part

    ours = _text_part(text, subtype).as_bytes(policy=SMTP_POLICY)
    assert ours == MIMEText(text, subtype, "utf-8").as_bytes(policy=SMTP_POLICY)


@pytest.mark.parametrize(
    "to",
    ["bob@example.com", "Bob <bob@example.com>", '"Smith, Bob" <b@example.com>', "Zoë <z@x.org>"],
)
def test_addresses_arrive_as_given(to: str) -> None:
    name, addr_spec = email.utils.parseaddr(to)
    arrived = roundtrip(make_content(to=to))["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in arrived] == [(name, addr_spec)]


class _Nesting(HTMLParser):
    """Checks that table markup opens and closes in order, as written."""

    CHECKED = frozenset({"table", "tbody", "tr", "td", "p", "h1", "a"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.counts: dict[str, int] = {}
        self.misnested: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.CHECKED:
            self.open.append(tag)
            self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.CHECKED and (not self.open or self.open.pop() != tag):
            self.misnested.append(tag)


@pytest.mark.parametrize("count", [1, 2, 5])
@pytest.mark.parametrize("hide_footer", [False, True])
def test_html_tables_nest_properly_for_any_number_of_options(count: int, hide_footer: bool) -> None:
    options = tuple(OptionLink(f"Option {i}", f"https://a.example/{i}") for i in range(count))
    nesting = _Nesting()
    nesting.feed(render_html(make_content(options=options, hide_footer=hide_footer)))
    assert nesting.misnested == [] and nesting.open == []
    # The outer table, the content table and the buttons table (the Outlook-only one is a comment).
    assert nesting.counts["table"] == nesting.counts["tbody"] == 3
    assert nesting.counts["a"] == count
