"""Link scanners open every link of an email; only a person pressing Confirm records anything.

A real headless Chromium (Debian's ``chromium``, driven by Playwright) plays the scanner that
renders pages (Safe Links detonation and the like) and then the person who clicks; plain HEAD
and GET with scanner user agents play the rest. DESIGN 5 "Recipient pages", DESIGN 6.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import urljoin

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.support.api import ApiUser, html_part, option_links, text_part
from tests.support.browser import MISSING, chromium_available, headless_chromium
from tests.support.callbacks import holds
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack

pytestmark = pytest.mark.skipif(not chromium_available(), reason=MISSING)

# What mail security gateways send when they pre-open links (shapes seen in the wild).
SCANNER_AGENTS = {
    "safe-links": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 (Microsoft Defender Safe Links)"
    ),
    "office-discovery": "Microsoft Office Existence Discovery",
    "mimecast": "Mimecast-URL-Protect/1.0 (+https://www.mimecast.com)",
    "proofpoint": "Proofpoint URL Defense Sandbox/2.0",
    "barracuda": "Barracuda Sentinel Link Protection (EE)",
    "curl": "curl/8.5.0",
}
SETTLE_MS = 1000  # how long a rendering scanner lingers on each page after "load"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as running:
        yield running


def every_link(stack: Stack, message: EmailMessage) -> list[str]:
    """Every URL in the email, HTML hrefs and plain-text alike, in order, without repeats."""
    found = [
        href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html_part(message))
    ]
    found += re.findall(r"https?://\S+", text_part(message))
    links = list(dict.fromkeys(found))
    # Everything must point at the service itself (on 127.0.0.1): nothing else may be fetched.
    assert links and all(link.startswith(stack.base_url + "/") for link in links), links
    return links


def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name.lower()] = value.strip()
    return directives


def assert_untouched(
    api: ApiUser, receiver: CallbackReceiver, subscription_id: str, path: str
) -> None:
    state = api.state(subscription_id)
    assert state["status"] == "pending", state
    assert state["response"] is None and state["delivery"] is None, state
    assert receiver.received(path) == []


def scan_like_a_browser(page: Page, stack: Stack, links: list[str]) -> dict[str, int]:
    """Open every link and every same-site link those pages show, as a crawling scanner does.

    Each page stays open; the caller lets them all linger. Returns the status of each URL.
    """
    seen: dict[str, int] = {}
    queue = list(links)
    while queue and len(seen) < 30:
        url = queue.pop(0)
        if url in seen:
            continue
        tab = page if not seen else page.context.new_page()
        response = tab.goto(url, wait_until="load")
        assert response is not None
        seen[url] = response.status
        assert tab.evaluate("document.scripts.length") == 0
        for href in tab.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            absolute = urljoin(url, href)
            if absolute.startswith(stack.base_url + "/") and absolute not in seen:
                queue.append(absolute)
    return seen


def test_headless_chromium_opening_every_link_records_nothing_then_a_click_does(
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
    browser: Browser,
) -> None:
    path = receiver.new_path()
    other = address.replace("person-", "colleague-")
    created = api.subscribe(
        f"{address};{other}", receiver.url(path), Options="Approve, Reject, Defer"
    )
    mine = every_link(stack, smtp.wait_for(address)[0])
    theirs = every_link(stack, smtp.wait_for(other)[0])
    assert len(mine) == len(theirs) == 3

    scanner = browser.new_context(user_agent=SCANNER_AGENTS["safe-links"])
    try:
        opened = scan_like_a_browser(scanner.new_page(), stack, mine + theirs)
        # Every page stays open and its (absent) scripts get time to run.
        scanner.pages[0].wait_for_timeout(SETTLE_MS)
    finally:
        scanner.close()
    assert set(mine + theirs) <= opened.keys()
    assert set(opened.values()) == {200}, opened
    assert_untouched(api, receiver, created["id"], path)
    # The sweeper runs every second: a few sweeps later there is still nothing owed or sent.
    holds(lambda: receiver.received(path) == [], seconds=2)
    assert_untouched(api, receiver, created["id"], path)

    person = browser.new_context()
    try:
        page = person.new_page()
        page.goto(mine[1], wait_until="load")
        page.fill("textarea[name=comment]", "decided in a real browser")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name=re.compile("Confirm")).click()
        assert posted.value.status == 200
        page.wait_for_load_state("load")
        assert "Thank you" in page.content() and "Reject" in page.content()
    finally:
        person.close()

    state = api.state(created["id"])
    assert state["status"] == "completed"
    assert state["response"]["SelectedOption"] == "Reject"
    assert state["response"]["UserEmailAddress"] == address
    assert state["response"]["Comment"] == "decided in a real browser"
    callback = receiver.wait_for(path)[0]
    assert json.loads(callback.body)["SelectedOption"] == "Reject"
    assert callback.headers["webhook-id"] == state["delivery"]["webhookId"]

    # The scanner comes back later (they re-check links): it sees "already answered", no more.
    for link in mine + theirs:
        assert httpx.get(
            link, headers={"User-Agent": SCANNER_AGENTS["safe-links"]}
        ).status_code == (409)
    holds(lambda: len(receiver.received(path)) == 1, seconds=2)
    assert api.state(created["id"])["response"]["SelectedOption"] == "Reject"


@pytest.mark.parametrize("agent", sorted(SCANNER_AGENTS))
def test_head_and_get_from_scanner_agents_record_nothing(
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
    agent: str,
) -> None:
    path = receiver.new_path()
    created = api.subscribe(address, receiver.url(path), Options="Yes, No")
    links = every_link(stack, smtp.wait_for(address)[0])
    headers = {"User-Agent": SCANNER_AGENTS[agent], "Accept": "*/*"}
    with httpx.Client(headers=headers, follow_redirects=False, timeout=20) as scanner:
        for link in links:
            head = scanner.head(link)
            assert head.status_code == 200 and head.content == b""
            page = scanner.get(link)
            assert page.status_code == 200
            assert 'method="post"' in page.text and "<script" not in page.text.lower()
            # Some scanners also try the URL without its query, or with other option numbers.
            assert scanner.get(link.split("?")[0]).status_code == 400
            assert scanner.get(link.split("?")[0] + "?option=9").status_code == 400
    assert_untouched(api, receiver, created["id"], path)
    holds(lambda: receiver.received(path) == [], seconds=1.5)
    assert_untouched(api, receiver, created["id"], path)


def test_pages_forbid_scripts_and_framing_in_a_real_browser(
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
    browser: Browser,
) -> None:
    path = receiver.new_path()
    created = api.subscribe(address, receiver.url(path))
    link = option_links(smtp.wait_for(address)[0])[0]

    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(link, wait_until="load")
        assert response is not None and response.status == 200
        headers = response.all_headers()
        csp = csp_directives(headers["content-security-policy"])
        assert csp["default-src"] == "'none'"
        assert "script-src" not in csp and "script-src-elem" not in csp
        assert csp["frame-ancestors"] == "'none'"
        assert headers["x-frame-options"].upper() == "DENY"
        assert headers["referrer-policy"] == "no-referrer"

        # The browser enforces it: an injected inline script never runs.
        violations: list[str] = []
        page.on("console", lambda message: violations.append(message.text))
        with pytest.raises(Exception):  # noqa: B017 - Playwright reports the refusal as an Error
            page.add_script_tag(content="window.injected = 1;")
        assert page.evaluate("typeof window.injected") == "undefined"
        assert any("Content Security Policy" in text for text in violations), violations

        # A hostile page frames the Confirm button (clickjacking): the browser refuses to render
        # it. A control frame without those headers, served the same way, does render.
        control = f"{stack.base_url}/frame-control-{created['id']}"
        page = context.new_page()  # about:blank, without the response page's own CSP
        page.on("console", lambda message: violations.append(message.text))
        page.route(
            control,
            lambda route: route.fulfill(
                status=200,
                content_type="text/html",
                body='<form method="post"><button>control</button></form>',
            ),
        )
        fetched: dict[str, int] = {}
        refused: dict[str, str | None] = {}
        page.on("response", lambda r: fetched.setdefault(r.url, r.status))
        page.on("requestfailed", lambda r: refused.setdefault(r.url, r.failure))
        page.set_content(
            f'<iframe name="victim" src="{link}" width="600" height="400"></iframe>'
            f'<iframe name="control" src="{control}" width="600" height="400"></iframe>',
            wait_until="load",
        )
        # The page was fetched, then refused because of its own answer's headers ...
        assert fetched.get(link) == 200, (fetched, refused)
        assert refused.get(link) == "net::ERR_BLOCKED_BY_RESPONSE", (fetched, refused)
        assert any("frame-ancestors 'none'" in text for text in violations), violations
        frames = {frame.name: frame for frame in page.frames}
        assert frames["control"].locator("form").count() == 1
        victim = frames["victim"]
        # ... and not rendered: Chromium shows its own error page in the frame instead.
        assert victim.url.startswith("chrome-error://"), victim.url
        assert victim.locator("form").count() == 0
        assert victim.locator("input[name=nonce]").count() == 0
    finally:
        context.close()
    assert_untouched(api, receiver, created["id"], path)
