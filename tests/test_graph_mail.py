"""The connector's mail operations through their routes, against the Graph stand-in.

Each test calls the service as a Logic App would (the connector's path, parameters and body)
and checks the effect where a user would see it: the answer, and the stand-in's mailboxes
(what was sent, deleted, marked). The real worker and the real msal run against the stand-in
over HTTPS, on both backends.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import GRAPH_APP_SECRET
from tests.support.api import ApiUser, answer
from tests.support.graph.server import GraphStandIn
from tests.support.m365 import bound_key, tenant_with
from tests.support.receiver import CallbackReceiver
from tests.support.stack import Stack, eventually

OWN = "requests@contoso.example"
SHARED = "team@contoso.example"
FOREIGN = "ceo@contoso.example"


@pytest.fixture
def tenant(graph: GraphStandIn) -> GraphStandIn:
    """The stand-in with the stack's app registered and three mailboxes."""
    return tenant_with(graph, (OWN, SHARED, FOREIGN))


@pytest.fixture
def m365(stack: Stack, tenant: GraphStandIn) -> Iterator[ApiUser]:
    """An API key bound to OWN (its default) and SHARED, never to FOREIGN."""
    user = bound_key(stack, "m365", [OWN, SHARED])
    yield user
    user.http.close()


def listed(m365: ApiUser, **params: object) -> list[dict]:
    answer = m365.http.get("/v3/Mail", params={"fetchOnlyUnread": "false", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def test_get_emails_v3_pages_through_graph_for_the_newest_matching_mail(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    for number in range(12):
        tenant.deliver(
            OWN,
            subject=f"report {number:02}",
            sender="alice@fabrikam.example" if number % 2 else "bob@fabrikam.example",
            is_read=number % 3 == 0,
            importance="high" if number % 4 == 0 else "normal",
        )
        time.sleep(0.01)  # distinct receivedDateTime, so "newest first" has one answer
    tenant.cap_page_size(3)  # Graph may answer fewer than $top: the service must follow on

    answer = m365.http.get("/v3/Mail", params={"top": "5"})  # defaults: Inbox, unread only

    assert answer.status_code == 200, answer.text
    subjects = [m["subject"] for m in answer.json()["value"]]
    unread = [f"report {n:02}" for n in range(11, -1, -1) if n % 3]
    assert subjects == unread[:5]
    assert len([r for r in tenant.requests() if r.path.endswith("/messages")]) >= 2
    first = answer.json()["value"][0]
    assert set(first) >= {"from", "toRecipients", "subject", "body", "id", "isRead", "isHtml"}
    assert first["toRecipients"] == OWN and first["isRead"] is False

    alice = listed(m365, **{"from": "alice@fabrikam.example", "top": "20"})
    assert {m["from"] for m in alice} == {"alice@fabrikam.example"} and len(alice) == 6
    high = listed(m365, importance="High", top="20")
    assert sorted(m["subject"] for m in high) == ["report 00", "report 04", "report 08"]


def test_get_email_v2_takes_ids_single_and_double_encoded_with_attachments(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    pdf = ("invoice.pdf", b"%PDF-1.7 x", "application/pdf")
    tenant.deliver(OWN, subject="invoice", attachments=[pdf])
    message_id = listed(m365)[0]["id"]
    assert any(c in message_id for c in "/+=")  # what real Exchange ids hold

    for encoded in (quote(message_id, safe=""), quote(quote(message_id, safe=""), safe="")):
        answer = m365.http.get(f"/v2/Mail/{encoded}", params={"includeAttachments": "true"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["id"] == message_id and body["subject"] == "invoice"
        [attachment] = body["attachments"]
        assert attachment["name"] == "invoice.pdf"
        assert base64.b64decode(attachment["contentBytes"]) == b"%PDF-1.7 x"

    unknown = m365.http.get(f"/v2/Mail/{quote('AAMkAGno/such+id=', safe='')}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ErrorItemNotFound"


def test_send_email_v2_goes_out_once_from_the_keys_mailbox(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    email = {
        "To": f"{SHARED};partner@fabrikam.example",
        "Cc": "auditor@fabrikam.example",
        "Subject": "Release 4.2",
        "Body": "<p>Ready to ship</p>",
        "Importance": "High",
        "Attachments": [{"Name": "notes.txt", "ContentBytes": base64.b64encode(b"n").decode()}],
    }
    key = {"Idempotency-Key": f"send-{uuid.uuid4()}"}

    first = m365.http.post("/v2/Mail", json=email, headers=key)
    again = m365.http.post("/v2/Mail", json=email, headers=key)

    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    [sent] = tenant.sent
    assert sent.mailbox.lower() == OWN
    assert sorted(sent.recipients) == sorted(
        [SHARED, "partner@fabrikam.example", "auditor@fabrikam.example"]
    )
    assert sent.message["importance"] == "high"
    assert [a["name"] for a in sent.attachments] == ["notes.txt"]
    inbox = m365.http.get("/v3/Mail", params={"mailboxAddress": SHARED})
    assert [m["subject"] for m in inbox.json()["value"]] == ["Release 4.2"]
    assert inbox.json()["value"][0]["importance"] == "high"


def test_mark_reply_and_delete_change_the_mailbox(m365: ApiUser, tenant: GraphStandIn) -> None:
    tenant.deliver(OWN, subject="question", sender="carol@fabrikam.example")
    message = listed(m365)[0]
    path = quote(message["id"], safe="")

    read = m365.http.patch(
        f"/codeless/v3/v1.0/me/messages/{path}/markAsRead", json={"isRead": True}
    )
    assert read.status_code == 200, read.text
    assert m365.http.get(f"/v2/Mail/{path}").json()["isRead"] is True
    unread = m365.http.patch(
        f"/codeless/v3/v1.0/me/messages/{path}/markAsRead", json={"isRead": False}
    )
    assert unread.status_code == 200
    assert m365.http.get(f"/v2/Mail/{path}").json()["isRead"] is False

    reply = m365.http.post(
        f"/v3/Mail/ReplyTo/{path}", json={"Body": "<p>Yes.</p>", "Importance": "Low"}
    )
    assert reply.status_code == 200, reply.text
    [sent] = tenant.sent
    assert sent.recipients == ["carol@fabrikam.example"]
    assert sent.message["conversationId"] == message["conversationId"]  # it threads

    deleted = m365.http.delete(f"/codeless/v1.0/me/messages/{path}")
    assert deleted.status_code == 200, deleted.text
    assert m365.http.get(f"/v2/Mail/{path}").status_code == 404
    assert all(m["id"] != message["id"] for m in listed(m365))


def test_attachments_come_as_bytes_or_as_the_connectors_json(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    tenant.deliver(OWN, subject="chart", attachments=[("chart.png", png, "image/png")])
    message = m365.http.get(
        f"/v2/Mail/{quote(listed(m365)[0]['id'], safe='')}", params={"includeAttachments": "true"}
    ).json()
    ids = quote(message["id"], safe=""), quote(message["attachments"][0]["id"], safe="")

    raw = m365.http.get(f"/Mail/{ids[0]}/Attachments/{ids[1]}")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "image/png" and raw.content == png

    shaped = m365.http.get(f"/codeless/v1.0/me/messages/{ids[0]}/attachments/{ids[1]}")
    assert shaped.status_code == 200
    assert shaped.json()["name"] == "chart.png" and shaped.json()["contentType"] == "image/png"
    assert base64.b64decode(shaped.json()["contentBytes"]) == png


def test_a_mailbox_the_key_is_not_bound_to_is_403_before_any_graph_call(
    stack: Stack, m365: ApiUser, api: ApiUser, tenant: GraphStandIn
) -> None:
    foreign = m365.http.get("/v3/Mail", params={"mailboxAddress": FOREIGN})
    unbound = api.http.post("/v2/Mail", json={"To": FOREIGN, "Subject": "hi", "Body": "<p>hi</p>"})

    assert foreign.status_code == 403 and unbound.status_code == 403
    assert foreign.json()["error"]["code"] == "mailbox_not_allowed"
    assert unbound.json()["error"]["code"] == "mailbox_not_allowed"
    assert tenant.requests(kind=None) == []  # neither Graph nor the token endpoint was asked
    assert tenant.sent == []


def test_throttling_is_waited_out(m365: ApiUser, tenant: GraphStandIn) -> None:
    tenant.deliver(OWN, subject="patience")
    tenant.throttle(2, retry_after=1)

    answer = m365.http.get("/v3/Mail")

    assert answer.status_code == 200, answer.text
    assert [m["subject"] for m in answer.json()["value"]] == ["patience"]
    statuses = [r.status for r in tenant.requests() if r.path.endswith("/messages")]
    # (a 401 may come first: the stand-in forgot the worker's token between tests)
    assert [s for s in statuses if s != 401] == [429, 429, 200]


def test_one_token_serves_many_calls(m365: ApiUser, tenant: GraphStandIn) -> None:
    tenant.deliver(OWN, subject="one")
    for _ in range(3):
        assert m365.http.get("/v3/Mail").status_code == 200
    # The stand-in forgot earlier tokens when this test began: at most one new token, reused.
    assert len(tenant.token_requests) <= 1
    assert all(
        r.path.endswith("/oauth2/v2.0/token")
        for r in tenant.requests(kind="identity")
        if r.method == "POST"
    )


def test_respond_async_answers_202_and_the_result_waits_at_its_location(
    m365: ApiUser, api: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(OWN, subject="later")

    accepted = m365.http.get("/v3/Mail", headers={"Prefer": "respond-async"})

    assert accepted.status_code == 202, accepted.text
    assert int(accepted.headers["Retry-After"]) >= 1
    location = accepted.headers["Location"]
    assert "/operations/" in location

    def finished() -> httpx.Response | None:
        polled = m365.http.get(location)
        return polled if polled.status_code != 202 else None

    result = eventually(finished)
    assert result.status_code == 200
    assert [m["subject"] for m in result.json()["value"]] == ["later"]
    assert api.http.get(location).status_code == 404  # another key never sees it


def test_a_worker_killed_mid_send_reports_outcome_unknown_and_sends_nothing_twice(
    stack: Stack, m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(OWN, subject="before the crash")
    tenant.hold(OWN)  # Graph takes the requests and answers none until released
    send = m365.http.post(
        "/v2/Mail",
        json={"To": "partner@fabrikam.example", "Subject": "crash", "Body": "<p>x</p>"},
        headers={"Prefer": "respond-async"},
    )
    read = m365.http.get("/v3/Mail", headers={"Prefer": "respond-async"})
    assert (send.status_code, read.status_code) == (202, 202)
    eventually(lambda: tenant.in_flight(OWN) >= 2)

    stack.worker.kill()
    tenant.release()
    stack.worker.start()

    def ended(location: str) -> httpx.Response | None:
        polled = m365.http.get(location)
        return polled if polled.status_code != 202 else None

    unknown = eventually(lambda: ended(send.headers["Location"]), timeout=30)
    assert unknown.status_code == 504
    assert unknown.json()["error"]["code"] == "outcome_unknown"
    reread = eventually(lambda: ended(read.headers["Location"]), timeout=30)
    assert reread.status_code == 200
    assert [m["subject"] for m in reread.json()["value"]] == ["before the crash"]
    assert [s.subject for s in tenant.sent] == ["crash"]  # Graph got it once; never again


def test_an_approval_email_sent_through_graph_completes_the_loop(
    stack: Stack, m365: ApiUser, tenant: GraphStandIn, receiver: CallbackReceiver
) -> None:
    path = receiver.new_path()
    graph_worker = {"APPROVALS_MAIL_BACKEND": "graph", "APPROVALS_GRAPH_MAILBOX": SHARED}
    with stack.worker_in_its_place("graph-mail", **graph_worker) as worker:
        worker.start()
        created = m365.subscribe(SHARED, receiver.url(path), Subject="Deploy 4.2?")

        sent = eventually(lambda: [s for s in tenant.sent if s.subject == "Deploy 4.2?"])
        # From the key's default mailbox (OWN), not the service's fallback (SHARED).
        assert [(s.mailbox.lower(), s.recipients) for s in sent] == [(OWN, [SHARED])]
        html = sent[0].message["body"]["content"]
        assert sent[0].message["body"]["contentType"].lower() == "html"
        links = [
            link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+/respond/[^"]+)"', html)
        ]
        assert len(links) == 2  # Approve, Reject

        assert answer(links[0], comment="ship it").status_code == 200
        [callback] = receiver.wait_for(path)

    body = json.loads(callback.body)
    assert body["SelectedOption"] == "Approve" and body["UserEmailAddress"] == SHARED
    assert m365.state(created["id"])["status"] == "completed"
    # The mail is in OWN's Sent Items and SHARED's inbox, as Graph keeps it.
    assert [m["subject"] for m in listed(m365, mailboxAddress=SHARED)] == ["Deploy 4.2?"]


CONNECTOR = json.loads(
    (
        Path(__file__).resolve().parent / "reference" / "office365-outlook-connector.swagger.json"
    ).read_text()
)["definitions"]


def _fields(definition: str) -> set[str]:
    return set(CONNECTOR[definition]["properties"])


def test_the_deprecated_operations_still_work_in_their_own_shapes(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(OWN, subject="old flow", sender="dave@fabrikam.example")
    tenant.deliver(OWN, subject="older", sender="erin@fabrikam.example", is_read=True)

    old = m365.http.get("/Mail", params={"fetchOnlyUnread": "false", "top": "5"})
    assert old.status_code == 200, old.text
    assert [m["Subject"] for m in old.json()] == ["older", "old flow"]
    assert set(old.json()[0]) <= _fields("ClientReceiveMessageStringEnums")
    assert old.json()[1]["From"] == "dave@fabrikam.example"
    assert [m["Subject"] for m in m365.http.get("/Mail", params={"skip": "1"}).json()] == []
    message_id = quote(old.json()[1]["Id"], safe="")

    assert m365.http.post(f"/Mail/MarkAsRead/{message_id}").status_code == 200
    assert m365.http.get(f"/v2/Mail/{message_id}").json()["isRead"] is True

    replied = m365.http.post(
        f"/Mail/ReplyTo/{message_id}", params={"comment": "Noted.", "replyAll": "false"}
    )
    assert replied.status_code == 200, replied.text
    sent = m365.http.post(
        "/Mail",
        json={"To": "frank@fabrikam.example", "Subject": "plain", "Body": "a < b", "IsHtml": False},
    )
    assert sent.status_code == 200, sent.text
    reply, plain = tenant.sent
    assert reply.recipients == ["dave@fabrikam.example"]
    assert plain.message["body"]["contentType"].lower() == "text"
    assert plain.message["body"]["content"] == "a < b"

    assert m365.http.delete(f"/Mail/{message_id}").status_code == 200
    assert m365.http.get(f"/v2/Mail/{message_id}").status_code == 404


def test_answers_use_the_connectors_field_names(m365: ApiUser, tenant: GraphStandIn) -> None:
    tenant.deliver(OWN, subject="shape", attachments=[("a.txt", b"a", "text/plain")])
    [message] = listed(m365, includeAttachments="true")
    assert set(message) <= _fields("GraphClientReceiveMessage")
    assert set(message["attachments"][0]) <= _fields("GraphClientReceiveFileAttachment")
    assert {"id", "subject", "from", "toRecipients", "receivedDateTime"} <= set(message)


def test_no_token_or_secret_reaches_the_logs(
    stack: Stack, m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(OWN, subject="private body text 7Q2")
    assert m365.http.get("/v3/Mail").status_code == 200
    assert (
        m365.http.post(
            "/v2/Mail", json={"To": SHARED, "Subject": "s", "Body": "<p>secret body 9X4</p>"}
        ).status_code
        == 200
    )
    tokens = list(tenant.identity.tokens)
    assert tokens
    logs = "\n".join(log.read_text(errors="replace") for log in stack.root.glob("*.log"))
    assert "/v3/Mail" in logs  # the access log is there
    for secret in (GRAPH_APP_SECRET, *tokens, "private body text 7Q2", "secret body 9X4"):
        assert secret not in logs


def test_an_attachment_of_3_mb_or_more_goes_through_an_upload_session(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    big = bytes(range(256)) * (3 * 4096 + 100)  # a little over 3 MB
    email = {
        "To": "partner@fabrikam.example",
        "Subject": "the build",
        "Body": "<p>attached</p>",
        "Attachments": [
            {"Name": "build.zip", "ContentBytes": base64.b64encode(big).decode()},
            {"Name": "notes.txt", "ContentBytes": base64.b64encode(b"small").decode()},
        ],
    }

    answer = m365.http.post("/v2/Mail", json=email, timeout=60)

    assert answer.status_code == 200, answer.text
    [sent] = tenant.sent
    sizes = {a["name"]: a.get("size") for a in sent.attachments}
    assert sizes == {"build.zip": len(big), "notes.txt": 5}
    assert [r.path.rsplit("/", 1)[-1] for r in tenant.requests()].count("createUploadSession") == 1
    uploads = tenant.requests(kind="upload")
    assert uploads and all("authorization" not in r.headers for r in uploads)


def test_throttling_that_outlasts_the_retries_is_a_429_with_retry_after(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.throttle(50, retry_after=1)

    answer = m365.http.get("/v3/Mail")

    assert answer.status_code == 429, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["error"]["code"] == "TooManyRequests"
    throttled = [r for r in tenant.requests() if r.status == 429]
    # Bounded: a few retries (5 calls), then the caller decides. The test stack's claim timeout
    # (4 s) is shorter than those waits, so a second worker may have run the read once more.
    assert 2 <= len(throttled) <= 10


def test_a_busy_mailbox_gets_its_limit_and_does_not_starve_the_others(
    stack: Stack, m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(OWN, subject="own")
    tenant.deliver(SHARED, subject="shared")
    with stack.worker_in_its_place("mailbox-limit", APPROVALS_GRAPH_MAILBOX_CONCURRENCY="2") as w:
        w.start()
        tenant.hold(OWN)
        busy = [
            m365.http.get("/v3/Mail", headers={"Prefer": "respond-async"}).headers["Location"]
            for _ in range(4)
        ]
        eventually(lambda: tenant.in_flight(OWN) == 2)

        # All four worker threads could be waiting on OWN; SHARED is answered all the same.
        other = m365.http.get("/v3/Mail", params={"mailboxAddress": SHARED})
        assert other.status_code == 200, other.text
        assert [m["subject"] for m in other.json()["value"]] == ["shared"]
        assert tenant.in_flight(OWN) == 2

        tenant.release()
        done = [eventually(lambda url=url: _ended(m365, url)) for url in busy]

    assert [r.status_code for r in done] == [200] * 4
    assert tenant.peak_concurrency(OWN) == 2


def _ended(m365: ApiUser, location: str) -> httpx.Response | None:
    polled = m365.http.get(location)
    return polled if polled.status_code != 202 else None


def test_an_id_from_another_mailbox_is_not_found_in_the_keys_own(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(FOREIGN, subject="board minutes")
    tenant.deliver(SHARED, subject="team notes")
    shared_id = listed(m365, mailboxAddress=SHARED)[0]["id"]

    # Asked in OWN (the key's default), the id of a message in SHARED does not exist.
    answer = m365.http.get(f"/v2/Mail/{quote(shared_id, safe='')}")
    assert answer.status_code == 404
    found = m365.http.get(
        f"/v2/Mail/{quote(shared_id, safe='')}", params={"mailboxAddress": SHARED}
    )
    assert found.status_code == 200 and found.json()["subject"] == "team notes"
