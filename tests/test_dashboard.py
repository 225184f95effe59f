"""The dashboard over HTTP against the running service: who may see and do what.

Browser tests of the same pages are in ``test_dashboard_browser.py``.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

from approvals.config import load_settings
from approvals.store.db import database_for
from approvals.store.migrate import upgrade
from approvals.web.app import create_app
from approvals.web.dashboard import PREFIX, RULES
from tests.support.api import ApiUser, answer, option_links
from tests.support.dashboard import csrf_of, signed_in, signin_link
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually


def _pages_with(path_values: dict[str, str]) -> list[tuple[str, str]]:
    """Every dashboard URL (method, path), path parameters filled in (integers with 1)."""

    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "", match.group(2)
        return "1" if converter.startswith("int") else path_values[name]

    found = []
    for rule, _endpoint, _view, methods in RULES:
        path = PREFIX + re.sub(r"<(?:([^:>]+):)?(\w+)>", fill, rule)
        found += [(method, path) for method in methods]
    return found


def test_without_a_session_every_page_leads_to_sign_in(
    stack: Stack, api: ApiUser, address: str, receiver: CallbackReceiver
) -> None:
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    values = {"id": created["id"], "recipient_id": "r", "token": "t"}
    anonymous = httpx.Client(base_url=stack.base_url, timeout=20)
    for method, path in _pages_with(values):
        if path.startswith("/dashboard/signin"):
            continue
        answer = anonymous.request(method, path)
        if method == "GET":
            assert answer.status_code == 302, (method, path, answer.status_code)
            assert answer.headers["Location"].startswith("/dashboard/signin?next="), path
        else:  # a POST without a session is never carried out
            assert answer.status_code in (302, 403), (method, path, answer.status_code)
    assert api.state(created["id"])["status"] == "pending"


def test_one_clients_session_never_shows_another_clients_request(
    stack: Stack, api: ApiUser, address: str, receiver: CallbackReceiver
) -> None:
    theirs = api.subscribe(address, receiver.url(receiver.new_path()), Subject="Their secret plan")
    _, other_http = stack.new_client("someone else")
    other_key = other_http.headers["Authorization"].split()[1]
    other_http.close()
    me = signed_in(stack, other_key)
    listing = me.get("/dashboard/requests", params={"q": "secret plan"})
    assert listing.status_code == 200
    assert "Their secret plan" not in listing.text
    # Guessing the URL: not found, never "forbidden" (which would confirm the id exists).
    page = me.get(f"/dashboard/requests/{theirs['id']}")
    assert page.status_code == 404
    assert "Their secret plan" not in page.text
    recipient = api.state(theirs["id"])["recipients"][0]["id"]
    assert me.get(f"/dashboard/requests/{theirs['id']}/email/{recipient}").status_code == 404
    token = csrf_of(me.get("/dashboard/requests"))
    cancel = me.post(f"/dashboard/requests/{theirs['id']}/cancel", data={"csrf_token": token})
    assert cancel.status_code == 404
    assert api.state(theirs["id"])["status"] == "pending"
    # The owner sees it.
    mine = signed_in(stack, api.key)
    assert "Their secret plan" in mine.get(f"/dashboard/requests/{theirs['id']}").text


def test_a_form_without_a_valid_csrf_token_is_refused(
    stack: Stack, api: ApiUser, address: str, receiver: CallbackReceiver
) -> None:
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    me = signed_in(stack, api.key)
    cancel = f"/dashboard/requests/{created['id']}/cancel"
    assert me.post(cancel).status_code == 403
    assert me.post(cancel, data={"csrf_token": "made-up"}).status_code == 403
    # Another session's token does not fit this session.
    other = signed_in(stack, api.key)
    foreign = csrf_of(other.get("/dashboard/requests"))
    assert me.post(cancel, data={"csrf_token": foreign}).status_code == 403
    assert api.state(created["id"])["status"] == "pending"
    assert (
        me.post(cancel, data={"csrf_token": csrf_of(me.get(cancel.rsplit("/", 1)[0]))}).status_code
        == 303
    )
    assert api.state(created["id"])["status"] == "cancelled"


def test_request_text_with_html_shows_as_text(
    stack: Stack, api: ApiUser, address: str, receiver: CallbackReceiver
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    created = api.subscribe(
        address, receiver.url(receiver.new_path()), Subject=hostile, Body=hostile
    )
    me = signed_in(stack, api.key)
    for path in ("/dashboard/requests", f"/dashboard/requests/{created['id']}"):
        page = me.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert" in page.text
        assert "script-src" not in page.headers["Content-Security-Policy"]  # no script runs
    recipient = api.state(created["id"])["recipients"][0]["id"]
    email = me.get(f"/dashboard/requests/{created['id']}/email/{recipient}")
    assert "<script>alert" not in email.text
    assert email.headers["Content-Security-Policy"].startswith("sandbox")


def test_a_sign_in_link_works_once_and_sign_out_ends_the_session(stack: Stack) -> None:
    link = signin_link(stack)
    browser = httpx.Client(timeout=20)
    first = browser.get(link)
    assert first.status_code == 303 and first.headers["Location"] == "/dashboard/requests"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
    assert browser.get(f"{stack.base_url}/dashboard/requests").status_code == 200
    assert httpx.get(link, timeout=20).status_code == 410  # a second use
    token = csrf_of(browser.get(f"{stack.base_url}/dashboard/requests"))
    assert (
        browser.post(f"{stack.base_url}/dashboard/signout", data={"csrf_token": token}).status_code
        == 303
    )
    assert browser.get(f"{stack.base_url}/dashboard/requests").status_code == 302


def test_a_revoked_keys_sessions_end_and_keys_are_for_admins(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver
) -> None:
    me = signed_in(stack, api.key)
    assert me.get("/dashboard/keys").status_code == 403  # not an admin
    admin = httpx.Client(timeout=20)
    admin.get(signin_link(stack))
    keys = admin.get(f"{stack.base_url}/dashboard/keys")
    assert keys.status_code == 200 and api.id in keys.text and api.key not in keys.text
    revoke = f"{stack.base_url}/dashboard/keys/{api.id}/revoke"
    assert admin.post(revoke, data={"csrf_token": csrf_of(keys)}).status_code == 303
    assert me.get("/dashboard/requests").status_code == 302  # back to sign-in
    created = admin.post(
        f"{stack.base_url}/dashboard/keys",
        data={"csrf_token": csrf_of(keys), "name": "made in the dashboard"},
    )
    key = re.search(r'id="new-key">([^<]+)<', created.text).group(1)
    assert (
        httpx.get(
            f"{stack.base_url}/approvalmail/$subscriptions/x",
            headers={"Authorization": f"Bearer {key}"},
            timeout=20,
        ).status_code
        == 404
    )
    # The key is shown that once: the list has only its prefix.
    listing = admin.get(f"{stack.base_url}/dashboard/keys")
    assert key not in listing.text
    # A new webhook secret, shown once; the key's callbacks are signed with it.
    row = re.search(
        rf"<code>{re.escape(key[:10])}…</code>.*?/dashboard/keys/([0-9a-f]{{32}})/rotate-secret",
        listing.text,
        re.S,
    )
    rotated = admin.post(
        f"{stack.base_url}/dashboard/keys/{row.group(1)}/rotate-secret",
        data={"csrf_token": csrf_of(listing)},
    )
    secret = re.search(r'id="new-secret">(whsec_[^<]+)<', rotated.text).group(1)
    assert secret not in admin.get(f"{stack.base_url}/dashboard/keys").text
    to, path = f"rotated-{uuid.uuid4().hex[:8]}@example.com", receiver.new_path()
    user = ApiUser(row.group(1), key, secret, httpx.Client(base_url=stack.base_url, timeout=20))
    user.http.headers["Authorization"] = f"Bearer {key}"
    user.subscribe(to, receiver.url(path))
    answer(option_links(smtp.wait_for(to)[0])[0])
    callback = receiver.wait_for(path)[0]
    Webhook(secret).verify(callback.body, callback.headers)  # raises unless signed with it


# --- the app alone: limits and cookie flags --------------------------------------------------


def _app(tmp_path: Path, **settings: str):
    loaded = load_settings(
        {"APPROVALS_INSTANCE_PATH": str(tmp_path)}
        | {f"APPROVALS_{name.upper()}": value for name, value in settings.items()}
    )
    upgrade(database_for(loaded.database_url))
    return create_app(loaded).test_client()


def test_sign_in_attempts_are_rate_limited_per_address(tmp_path: Path) -> None:
    web = _app(tmp_path, auth_failure_rate_limit="3/minute")
    token = csrf_of_text(web.get("/dashboard/signin").text)
    statuses = [
        web.post(
            "/dashboard/signin", data={"key": f"apv_wrong{n}", "csrf_token": token}
        ).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_the_session_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    web = _app(tmp_path, base_url="https://approvals.example.test")
    from approvals.cli.signin import new_signin_link

    link = new_signin_link(
        load_settings(
            {
                "APPROVALS_INSTANCE_PATH": str(tmp_path),
                "APPROVALS_BASE_URL": "https://approvals.example.test",
            }
        )
    )
    answer = web.get(link.removeprefix("https://approvals.example.test"))
    assert answer.status_code == 303
    assert "Secure" in answer.headers["Set-Cookie"]


def csrf_of_text(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def test_resending_one_recipients_email_sends_it_again_with_the_same_links(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver
) -> None:
    first, second = (f"resend-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in (1, 2))
    created = api.subscribe(f"{first};{second}", receiver.url(receiver.new_path()))
    original = smtp.wait_for(first)[0]
    smtp.wait_for(second)
    state = api.state(created["id"])
    recipient = next(r["id"] for r in state["recipients"] if r["address"] == first)
    me = signed_in(stack, api.key)
    page = f"/dashboard/requests/{created['id']}"
    resend = me.post(
        f"{page}/recipients/{recipient}/resend", data={"csrf_token": csrf_of(me.get(page))}
    )
    assert resend.status_code == 303
    again = smtp.wait_for(first, 2)[1]
    assert option_links(again) == option_links(original)
    assert len(smtp.messages_for(second)) == 1  # only the one asked for
    # Once the request is over, nothing is sent again.
    answer(option_links(again)[0])
    closed = me.post(
        f"{page}/recipients/{recipient}/resend", data={"csrf_token": csrf_of(me.get(page))}
    )
    assert closed.status_code == 422
    assert len(smtp.messages_for(first)) == 2


def test_the_list_filters_and_pages_through_every_request_once(
    stack: Stack, receiver: CallbackReceiver
) -> None:
    created, http = stack.new_client("lister")
    user = ApiUser(created.id, created.key, created.webhook_secret, http)
    tag = uuid.uuid4().hex[:8]
    url = receiver.url(receiver.new_path())
    ids = [
        user.subscribe(f"p{n}-{tag}@example.com", url, Subject=f"Build {tag} number {n}")["id"]
        for n in range(53)
    ]
    special = user.subscribe(f"Ann.Smith-{tag}@Example.com", url, Subject=f"Odd one {tag}")["id"]
    me = signed_in(stack, created.key)

    def listed(**params: str) -> list[str]:
        found, after = [], None
        while True:
            page = me.get(
                "/dashboard/requests", params={**params, **({"after": after} if after else {})}
            )
            assert page.status_code == 200
            found += re.findall(r'href="/dashboard/requests/([0-9a-f]{32})"', page.text)
            more = re.search(r'href="/dashboard/requests\?after=([^"&]+)', page.text)
            if not more:
                return found
            after = more.group(1)

    every = listed()
    assert sorted(every) == sorted([*ids, special]) and len(set(every)) == len(every)
    assert every[0] == special  # newest first
    assert listed(recipient=f"ann.smith-{tag}@example.com") == [special]  # case ignored
    assert listed(q=f"{tag} NUMBER 7") == [ids[7]]
    assert listed(status="completed") == []
    counts = me.get("/dashboard/requests").text
    assert re.search(r'data-status="pending">pending <strong>54</strong>', counts)
    assert me.get("/dashboard/requests", params={"after": "not-a-cursor"}).status_code == 400
    assert me.get("/dashboard/requests", params={"since": "yesterday"}).status_code == 400
    http.close()


def test_the_overview_counts_what_this_client_asked_and_got(
    stack: Stack, smtp: SmtpSink, receiver: CallbackReceiver
) -> None:
    created, http = stack.new_client("overview")
    user = ApiUser(created.id, created.key, created.webhook_secret, http)
    path = receiver.new_path()
    answered, waiting = (f"ov-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in (1, 2))
    user.subscribe(answered, receiver.url(path))
    user.subscribe(waiting, receiver.url(receiver.new_path()))
    answer(option_links(smtp.wait_for(answered)[0])[0])
    receiver.wait_for(path)
    me = signed_in(stack, created.key)

    def delivered() -> str | None:
        page = me.get("/dashboard/overview").text
        return page if "<title>delivered: 1</title>" in page.replace("\n", "") else None

    page = eventually(delivered)
    figures = re.findall(r'<div class="figure"[^>]*>([^<]+)</div>', page)
    assert figures[2] == "1"  # answers
    assert page.count("<svg") == 3
    assert re.search(r"<title>\d\d-\d\d: 1 completed</title>", page)
    assert re.search(r"<title>\d\d-\d\d: 1 pending</title>", page)
    http.close()
