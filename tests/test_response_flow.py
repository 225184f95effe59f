"""A recipient's email, its links and the confirmation page (DESIGN 5 "Recipient pages")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import ApiUser, answer, confirm_form, html_part, option_links, text_part
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually

SCANNERS = [
    "Mozilla/5.0 (compatible; Microsoft Office Protocol Discovery)",
    "Mimecast-URL-Protect/1.0",
    "Proofpoint-URLDefense",
    "python-requests/2.32",
]


def all_mail_sent(api: ApiUser, subscription_id: str) -> list[dict] | None:
    """The subscription's recipients once every one's mail is sent, else None."""
    rows = api.state(subscription_id)["recipients"]
    return rows if all(r["emailStatus"] == "sent" for r in rows) else None


def test_each_recipient_gets_one_email_with_a_button_per_option(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    other = address.replace("person-", "other-")
    api.subscribe(
        f"{address};{other}",
        receiver.url(receiver.new_path()),
        Options="Ship it, Wait, Abort",
        Subject="Release 4.2?",
        Importance="High",
    )
    message = smtp.wait_for(address)[0]
    assert smtp.wait_for(other)
    assert message["Subject"] == "Release 4.2?"
    assert message["X-Priority"] == "1"
    assert message.get_content_type() == "multipart/alternative"
    links = option_links(message)
    assert len(links) == 3
    assert all(link.startswith(stack.base_url + "/respond/") for link in links)
    assert [link.rsplit("option=", 1)[1] for link in links] == ["0", "1", "2"]
    for label, link in zip(["Ship it", "Wait", "Abort"], links, strict=True):
        assert f"{label}: {link}" in text_part(message)
    assert option_links(smtp.wait_for(other)[0]) != links  # each recipient has their own token


def test_opening_links_records_nothing_and_confirming_records_once(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    links = option_links(smtp.wait_for(address)[0])
    for link in links:
        for agent in SCANNERS:
            assert httpx.head(link, headers={"User-Agent": agent}).status_code == 200
            page = httpx.get(link, headers={"User-Agent": agent})
            assert page.status_code == 200
            assert 'method="post"' in page.text
            assert "<script" not in page.text
    assert api.state(created["id"])["status"] == "pending"

    confirmed = answer(links[1], comment="not this week")
    assert confirmed.status_code == 200
    assert "Reject" in confirmed.text
    state = api.state(created["id"])
    assert state["status"] == "completed"
    assert state["response"]["SelectedOption"] == "Reject"
    assert state["response"]["Comment"] == "not this week"
    assert state["response"]["UserEmailAddress"] == address

    again = httpx.get(links[0])
    assert again.status_code == 409
    assert "already answered" in again.text.lower()
    assert address in again.text and "Reject" in again.text
    assert api.state(created["id"])["response"]["SelectedOption"] == "Reject"


def test_second_click_sees_already_answered(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    api.subscribe(address, receiver.url(receiver.new_path()))
    link = option_links(smtp.wait_for(address)[0])[0]
    page = httpx.get(link)
    form = confirm_form(page.text)
    assert httpx.post(link.split("?")[0], data=form).status_code == 200
    repeat = httpx.post(link.split("?")[0], data=form)
    assert repeat.status_code == 409
    assert "Already answered" in repeat.text


def test_post_without_the_pages_nonce_records_nothing(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    link = option_links(smtp.wait_for(address)[0])[0]
    for data in ({"option": "0"}, {"option": "0", "nonce": "forged"}):
        assert httpx.post(link.split("?")[0], data=data).status_code == 400
    form = confirm_form(httpx.get(link).text)
    assert httpx.post(link.split("?")[0], data={**form, "option": "1"}).status_code == 400
    assert api.state(created["id"])["status"] == "pending"


def test_tampered_unknown_and_bad_option_links_get_clear_pages(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    api.subscribe(address, receiver.url(receiver.new_path()))
    link = option_links(smtp.wait_for(address)[0])[0]
    token = link.split("/respond/")[1].split("?")[0]
    tampered = link.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    for url, status in [
        (tampered, 404),
        (f"{stack.base_url}/respond/garbage?option=0", 404),
        (link.replace("option=0", "option=7"), 400),
        (link.replace("option=0", "option=-1"), 400),
    ]:
        page = httpx.get(url)
        assert page.status_code == status, url
        assert "Traceback" not in page.text and "<h1>" in page.text


def test_cancelled_request_links_stop_working(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    link = option_links(smtp.wait_for(address)[0])[0]
    form = confirm_form(httpx.get(link).text)
    assert api.http.delete(f"/approvalmail/$subscriptions/{created['id']}").status_code == 200
    assert httpx.get(link).status_code == 410
    assert httpx.post(link.split("?")[0], data=form).status_code == 410
    assert api.state(created["id"])["response"] is None


def test_expired_request_links_stop_working(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from approvals.store.models import Subscription, utcnow

    created = api.subscribe(address, receiver.url(receiver.new_path()))
    link = option_links(smtp.wait_for(address)[0])[0]
    with stack.db.session() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert httpx.get(link).status_code == 410
    eventually(lambda: api.state(created["id"])["status"] == "expired", timeout=15)


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_hostile_text_is_escaped_in_email_and_page(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    api.subscribe(
        address,
        receiver.url(receiver.new_path()),
        Subject=f"S {HOSTILE}",
        Body=f"B {HOSTILE}\nsecond line",
        HeaderText=f"H {HOSTILE}",
        Options=f"Yes {HOSTILE}, No",
    )
    message = smtp.wait_for(address)[0]
    html = html_part(message)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "second line" in html and "<br" in html
    page = httpx.get(option_links(message)[0]).text
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_refused_recipient_is_marked_failed_with_the_reason(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    smtp.refuse(address, "550 5.1.1 No such user")
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    recipient = eventually(
        lambda: next(
            (r for r in api.state(created["id"])["recipients"] if r["emailStatus"] == "failed"),
            None,
        )
    )
    assert "550" in recipient["emailError"]
    assert recipient["emailAttempts"] == 1
    assert smtp.messages_for(address) == []


def test_deferred_recipient_is_retried_until_sent(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    smtp.refuse(address, "451 4.3.0 Try again later")
    created = api.subscribe(address, receiver.url(receiver.new_path()))
    eventually(lambda: api.state(created["id"])["recipients"][0]["emailAttempts"] >= 2)
    smtp.refusals.pop(address)
    assert len(smtp.wait_for(address)) == 1
    recipient = eventually(
        lambda: next(
            (r for r in api.state(created["id"])["recipients"] if r["emailStatus"] == "sent"), None
        )
    )
    assert recipient["emailAttempts"] >= 2


def test_killed_worker_sends_every_owed_mail_once_after_restart(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    stack.worker.kill()
    try:
        addresses = [address.replace("person-", f"p{i}-") for i in range(5)]
        created = api.subscribe(";".join(addresses), receiver.url(receiver.new_path()))
        assert all(smtp.messages_for(a) == [] for a in addresses)
    finally:
        stack.worker.start()
    for a in addresses:
        smtp.wait_for(a, timeout=30)
    eventually(lambda: all_mail_sent(api, created["id"]), timeout=30)
    assert [len(smtp.messages_for(a)) for a in addresses] == [1] * 5


def test_a_slow_mail_server_gets_each_mail_once(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    """Eight recipients in one batch, 0.7 s per mail: longer than the test stack's 4 s claim.
    The worker gives back what it cannot send in time instead of letting the claims lapse
    (another worker thread would then send those mails too)."""
    addresses = [address.replace("person-", f"p{i}-") for i in range(8)]
    smtp.data_delay = 0.7
    try:
        created = api.subscribe(";".join(addresses), receiver.url(receiver.new_path()))
        for a in addresses:
            smtp.wait_for(a, timeout=30)
        recipients = eventually(lambda: all_mail_sent(api, created["id"]), timeout=30)
    finally:
        smtp.data_delay = 0.0
    assert [len(smtp.messages_for(a)) for a in addresses] == [1] * 8
    assert [r["emailAttempts"] for r in recipients] == [1] * 8


def more_than(stack: Stack, queue: str, count: int) -> int | None:
    """How many messages wait in ``queue`` if more than ``count``, else None."""
    waiting = stack.queued(queue)
    return waiting if waiting > count else None


def test_a_slow_mail_server_is_sent_to_on_many_connections(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    """Eight requests of three recipients each, owed to a server taking 0.5 s per mail, and a
    worker with twelve threads: all eight batches are sent at once, not a few at a time (as
    they are while the server answers quickly)."""
    smtp.data_delay = 0.5
    try:
        with stack.worker_in_its_place("w12", APPROVALS_WORKER_CONCURRENCY="12") as worker:
            owed = []
            published = stack.queued("mail")
            for n in range(8):
                people = [address.replace("person-", f"b{n}r{i}-") for i in range(3)]
                created = api.subscribe(";".join(people), receiver.url(receiver.new_path()))
                owed.append((created, people))
                # Each request its own batch: its mail is published before the next is made.
                published = eventually(lambda after=published: more_than(stack, "mail", after))
            with smtp.lock:
                smtp.most_in_data = 0
            worker.start()
            for _, people in owed:
                for person in people:
                    smtp.wait_for(person, timeout=30)
            most_at_once = smtp.most_in_data
        recipients = [r for created, _ in owed for r in api.state(created["id"])["recipients"]]
    finally:
        smtp.data_delay = 0.0
    assert most_at_once >= 6, f"at most {most_at_once} mails were being sent at once"
    assert [len(smtp.messages_for(p)) for _, people in owed for p in people] == [1] * 24
    assert [r["emailAttempts"] for r in recipients] == [1] * 24


def test_an_address_that_is_not_ascii_gets_its_mail_over_smtputf8(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    other = address.replace("person-", "jörg-")
    created = api.subscribe(f"{other};{address}", receiver.url(receiver.new_path()))
    assert smtp.wait_for(other) and smtp.wait_for(address)
    recipients = eventually(lambda: all_mail_sent(api, created["id"]))
    assert [r["emailAttempts"] for r in recipients] == [1, 1]


def test_a_server_without_smtputf8_fails_that_address_only(
    stack: Stack, api: ApiUser, receiver: CallbackReceiver, address: str
) -> None:
    """Its row says why, at once, and the other recipient of the request still gets the mail."""
    plain = SmtpSink(smtputf8=False)
    plain.start()
    other = address.replace("person-", "jörg-")
    try:
        with stack.worker_in_its_place("w7", APPROVALS_SMTP_PORT=str(plain.port)) as worker:
            worker.start()
            created = api.subscribe(f"{other};{address}", receiver.url(receiver.new_path()))
            plain.wait_for(address)

            def settled() -> dict[str, dict] | None:
                rows = api.state(created["id"])["recipients"]
                done = all(r["emailStatus"] in ("sent", "failed") for r in rows)
                return {r["address"]: r for r in rows} if done else None

            rows = eventually(settled, timeout=30)
    finally:
        plain.stop()
    assert rows[address]["emailStatus"] == "sent"
    assert rows[other]["emailStatus"] == "failed"
    assert "SMTPUTF8" in rows[other]["emailError"]
    assert rows[other]["emailAttempts"] == 1
    assert plain.messages_for(other) == []


@pytest.mark.parametrize("separator", [";", ","])
def test_both_separators_reach_every_recipient(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str, separator: str
) -> None:
    second = address.replace("person-", "second-")
    api.subscribe(f"{address}{separator} {second}", receiver.url(receiver.new_path()))
    assert smtp.wait_for(address) and smtp.wait_for(second)


def test_simultaneous_confirmations_record_exactly_one(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    people = [address.replace("person-", f"r{i}-") for i in range(6)]
    created = api.subscribe(
        ";".join(people), receiver.url(receiver.new_path()), Options="A, B, C, D, E, F"
    )
    forms = []
    for i, person in enumerate(people):
        link = option_links(smtp.wait_for(person)[0])[i]
        forms.append((link.split("?")[0], confirm_form(httpx.get(link).text)))
    with ThreadPoolExecutor(len(forms)) as pool:
        statuses = list(pool.map(lambda f: httpx.post(f[0], data=f[1]).status_code, forms))
    assert sorted(statuses) == [200] + [409] * 5
    winner = statuses.index(200)
    state = api.state(created["id"])
    assert state["response"]["SelectedOption"] == "ABCDEF"[winner]
    assert state["response"]["UserEmailAddress"] == people[winner]


@pytest.mark.parametrize("problem", ["login refused", "sender refused"])
def test_a_mail_server_refusing_our_login_or_sender_is_retried_until_it_is_fixed(
    stack: Stack, api: ApiUser, receiver: CallbackReceiver, address: str, problem: str
) -> None:
    """Our credentials or sender are a configuration problem of ours, not the recipient's:
    the mail stays owed, shows the reason, and goes out once the server takes it."""
    server = SmtpSink(login=("approvals", "right-password"))
    if problem == "sender refused":
        server.sender_refusal = "553 5.7.1 sender address not allowed"
    server.start()
    password = "wrong-password" if problem == "login refused" else "right-password"
    try:
        with stack.worker_in_its_place(
            "w-config",
            APPROVALS_SMTP_PORT=str(server.port),
            APPROVALS_SMTP_USERNAME="approvals",
            APPROVALS_SMTP_PASSWORD=password,
        ) as worker:
            worker.start()
            created = api.subscribe(address, receiver.url(receiver.new_path()))

            def retried() -> dict[str, Any] | None:
                row = api.state(created["id"])["recipients"][0]
                return row if row["emailAttempts"] >= 3 else None

            row = eventually(retried, timeout=30)
            assert row["emailStatus"] in ("due", "sending")
            assert ("535" if problem == "login refused" else "553") in row["emailError"]
            assert server.messages_for(address) == []
            worker.stop()  # the operator fixes the configuration and restarts the worker
            server.sender_refusal = None
            worker.env = {**worker.env, "APPROVALS_SMTP_PASSWORD": "right-password"}
            worker.start()
            server.wait_for(address, timeout=30)
            sent = eventually(lambda: all_mail_sent(api, created["id"]), timeout=30)
    finally:
        server.stop()
    assert sent[0]["emailError"] is None
    assert len(server.messages_for(address)) == 1
