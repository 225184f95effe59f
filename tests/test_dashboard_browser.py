"""The dashboard in a real browser (Debian's Chromium, driven by Playwright), on both backends.

A newcomer's loop on the embedded default's outbox: sign in with the link the CLI prints,
send a request from the form, open its email in the outbox, press Approve, confirm, and see the
request completed with its callback delivered. Then cancelling one, and retrying a callback
that failed once its receiver is back. Every page is saved as a screenshot and must not be
blank (``APPROVALS_SCREENSHOTS=docs/screenshots`` refreshes the README's two).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import BACKENDS, make_stack
from tests.support.browser import MISSING, chromium_available, headless_chromium
from tests.support.dashboard import signin_link
from tests.support.receiver import CallbackReceiver, Reply
from tests.support.screens import shot
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.skipif(not chromium_available(), reason=MISSING),
    pytest.mark.timeout(180),
]

WAIT_MS = 30_000


@pytest.fixture(scope="module", params=BACKENDS)
def outbox_stack(
    request: pytest.FixtureRequest, smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The service as a newcomer runs it: mail kept in the outbox, not sent."""
    root = tmp_path_factory.mktemp("dashboard-" + request.param.replace("+", "-"))
    running, database = make_stack(request.param, root, smtp, {"APPROVALS_MAIL_BACKEND": "outbox"})
    running.start()
    yield running
    running.stop()
    if database:
        database.drop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser, outbox_stack: Stack) -> Iterator[Page]:
    """A fresh browser window signed in through a one-time link, as ``approvals run`` gives."""
    context = browser.new_context(viewport={"width": 1100, "height": 1700})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(signin_link(outbox_stack))
    expect(tab).to_have_url(f"{outbox_stack.base_url}/dashboard/requests")
    yield tab
    context.close()


def send_from_the_form(page: Page, to: str, subject: str, callback: str) -> str:
    """Fill in and send the new-request form; the request's page URL."""
    page.get_by_role("link", name="New request").click()
    page.fill("#f-To", to)
    page.fill("#f-Subject", subject)
    page.fill("#f-NotificationUrl", callback)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#request-status")).to_have_text("pending")
    return page.url


def reload_until(page: Page, selector: str, text: str) -> None:
    """Reload until ``selector`` shows ``text`` (the pages have no script to refresh them)."""
    for _ in range(WAIT_MS // 250):
        if text in (
            page.locator(selector).first.inner_text() if page.locator(selector).count() else ""
        ):
            return
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator(selector).first).to_contain_text(text)


def test_a_newcomer_sends_answers_and_sees_the_callback_land(
    page: Page, outbox_stack: Stack, receiver: CallbackReceiver, tmp_path: Path
) -> None:
    to = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    path = receiver.new_path()
    bad = page.context.new_page()  # first, a form with a mistake: the error beside its field
    bad.goto(f"{outbox_stack.base_url}/dashboard/new")
    bad.fill("#f-To", "not an address")
    bad.get_by_role("button", name="Send").click()
    expect(bad.locator("#error-To")).to_contain_text("not a valid email address")
    shot(bad, tmp_path, "new-request-error")
    bad.close()

    request_url = send_from_the_form(page, to, "Buy three laptops", receiver.url(path))
    shot(page, tmp_path, "request-pending")

    page.get_by_role("link", name="Outbox").click()
    reload_until(page, "table", to)
    shot(page, tmp_path, "outbox")
    page.get_by_role("row", name=to).get_by_role("link").click()
    shot(page, tmp_path, "outbox-message")
    page.get_by_role("link", name="Approve").click()
    expect(page.get_by_role("button", name="Confirm: Approve")).to_be_visible()
    shot(page, tmp_path, "confirm")
    page.get_by_role("button", name="Confirm: Approve").click()
    expect(page.locator("body")).to_contain_text("Approve")

    callback = receiver.wait_for(path)[0]
    assert json.loads(callback.body)["SelectedOption"] == "Approve"
    page.goto(request_url)
    reload_until(page, "[data-delivery-status]", "delivered")
    expect(page.locator("#request-status")).to_have_text("completed")
    expect(page.locator("#answers")).to_contain_text(to)
    # The email as its recipient sees it, inside a frame that may run nothing.
    expect(page.frame_locator("iframe").get_by_text("Reject")).to_be_visible()
    shot(page, tmp_path, "request", readme=True)

    page.get_by_role("link", name="Requests", exact=True).click()
    expect(page.get_by_role("link", name="Buy three laptops")).to_be_visible()
    shot(page, tmp_path, "requests", readme=True)
    page.get_by_role("link", name="Overview").click()
    shot(page, tmp_path, "overview", readme=True)

    # Readable on a phone: nothing wider than its screen.
    page.set_viewport_size({"width": 375, "height": 800})
    for where in ("/dashboard/requests", request_url.split(outbox_stack.base_url)[1]):
        page.goto(outbox_stack.base_url + where)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 375, f"{where} is {wide}px wide on a 375px screen"
    shot(page, tmp_path, "request-phone")


def test_cancelling_a_request_in_the_browser(
    page: Page, receiver: CallbackReceiver, tmp_path: Path
) -> None:
    to = f"cancel-{uuid.uuid4().hex[:8]}@example.com"
    send_from_the_form(page, to, "Withdrawn soon", receiver.url(receiver.new_path()))
    page.get_by_role("button", name="Cancel this request").click()
    expect(page.locator("#request-status")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel this request")).to_have_count(0)
    shot(page, tmp_path, "request-cancelled")


def test_retrying_a_failed_callback_once_its_receiver_is_back(
    page: Page, outbox_stack: Stack, receiver: CallbackReceiver, tmp_path: Path
) -> None:
    to = f"retry-{uuid.uuid4().hex[:8]}@example.com"
    path = receiver.new_path(Reply(status=503))  # down for every scheduled attempt
    request_url = send_from_the_form(page, to, "Receiver down", receiver.url(path))
    page.get_by_role("link", name="Outbox").click()
    reload_until(page, "table", to)
    page.get_by_role("row", name=to).get_by_role("link").click()
    page.get_by_role("link", name="Reject").click()
    page.get_by_role("button", name="Confirm: Reject").click()

    page.goto(f"{outbox_stack.base_url}/dashboard/callbacks?host=127.0.0.1")
    reload_until(page, f"tr:has(td:text-is('{receiver.url(path)}'))", "failed")
    shot(page, tmp_path, "callbacks-failed")
    tried = len(receiver.received(path))
    with receiver.lock:
        receiver.scripts[path] = [Reply()]  # the receiver is back
    row = page.locator(f"tr:has(td:text-is('{receiver.url(path)}'))")
    row.get_by_role("button", name="Retry now").click()
    assert len(receiver.wait_for(path, tried + 1)) == tried + 1
    page.goto(request_url)
    reload_until(page, "[data-delivery-status]", "delivered")
    shot(page, tmp_path, "request-retried")
