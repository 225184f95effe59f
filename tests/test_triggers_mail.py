"""OnNewEmail and OnNewEmailV3 polled as Logic Apps polls them, against the Graph stand-in.

A test follows ``Location`` from answer to answer, as the engine does, while mail arrives in
the stand-in's mailbox, and checks what the engine would see: 202 while nothing is new, each
new message in exactly one 200 batch, an earlier ``Location`` answering its batch again, and
states that were not issued for this key and these parameters refused.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from approvals.mailboxes import set_mailboxes
from tests.support.api import ApiUser
from tests.support.graph.server import GraphStandIn
from tests.support.m365 import bound_key, tenant_with
from tests.support.stack import Stack

OWN = "inbox-owner@contoso.example"
TRIGGER = "/v3/Mail/OnNewEmail"


@pytest.fixture
def tenant(graph: GraphStandIn) -> GraphStandIn:
    return tenant_with(graph, [OWN])


@pytest.fixture
def m365(stack: Stack, tenant: GraphStandIn) -> Iterator[ApiUser]:
    user = bound_key(stack, "triggers", [OWN])
    yield user
    user.http.close()


def subjects(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["subject"] for item in answer.json()["value"]]


def state_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["triggerState"][0]


def first_poll(m365: ApiUser, path: str = TRIGGER, **params: str) -> str:
    """The first poll of a new trigger: nothing is new yet; where to poll next."""
    answer = m365.http.get(path, params=params)
    assert answer.status_code == 202, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    return answer.headers["Location"]


def test_mail_arriving_between_polls_is_returned_once_and_mail_from_before_never(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.deliver(OWN, subject="from before the trigger")
    location = first_poll(m365)
    tenant.deliver(OWN, subject="first", sender="alice@fabrikam.example")
    tenant.deliver(OWN, subject="second", importance="high")
    tenant.deliver(OWN, subject="elsewhere", folder="archive")  # another folder
    # Exchange's clock three minutes behind ours: stamped before the trigger began, yet new.
    lagging = datetime.now(UTC) - timedelta(minutes=3)
    tenant.deliver(OWN, subject="late clock", received=lagging)

    answer = m365.http.get(location)

    assert sorted(subjects(answer)) == ["first", "late clock", "second"]
    by_subject = {item["subject"]: item for item in answer.json()["value"]}
    assert by_subject["first"]["from"] == "alice@fabrikam.example"
    assert by_subject["second"]["importance"] == "high"
    # Reading a message changes it; it is not new again.
    mailbox = tenant.mailbox(OWN)
    with mailbox.lock:
        message = mailbox.message(by_subject["first"]["id"])
        message["isRead"] = True
        mailbox.touch_message(message)
    quiet = m365.http.get(answer.headers["Location"])
    assert quiet.status_code == 202, quiet.text
    assert quiet.headers["Location"] != answer.headers["Location"]


def test_25_messages_in_bursts_during_a_polling_loop_each_come_exactly_once(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.cap_page_size(3)  # several Graph pages per poll at times
    location = first_poll(m365)
    expected = [f"burst {n:02}" for n in range(25)]
    done = threading.Event()

    def arrive() -> None:
        pace = random.Random(14)
        for start in range(0, 25, 5):
            for subject in expected[start : start + 5]:
                tenant.deliver(OWN, subject=subject)
            done.wait(pace.uniform(0.05, 0.3))  # a pause between bursts, not a synchronisation
        done.set()

    arrival = threading.Thread(target=arrive)
    arrival.start()
    seen: list[str] = []
    polls = 0
    try:
        while polls < 400:  # an engine's loop: follow Location until everything has come
            answer = m365.http.get(location)
            polls += 1
            assert answer.status_code in (200, 202), answer.text
            if answer.status_code == 200:
                seen.extend(subjects(answer))
            location = answer.headers["Location"]
            if done.is_set() and len(seen) >= 25:
                break
        answer = m365.http.get(location)  # and one more after the last arrival
        if answer.status_code == 200:
            seen.extend(subjects(answer))
    finally:
        done.set()
        arrival.join()
    assert sorted(seen) == expected  # each exactly once: none skipped, none repeated


def test_more_new_mail_than_one_graph_page_comes_in_one_batch_in_the_deprecated_shape(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tenant.cap_page_size(2)
    location = first_poll(m365, "/Mail/OnNewEmail")
    for number in range(7):
        tenant.deliver(OWN, subject=f"page {number}", importance="high" if number else "low")
    before = len(tenant.requests())

    answer = m365.http.get(location)

    assert answer.status_code == 200, answer.text
    batch = answer.json()["value"]
    assert sorted(item["Subject"] for item in batch) == [f"page {n}" for n in range(7)]
    # ClientReceiveMessage numbers its importance: 0 low, 1 normal, 2 high.
    assert sorted(item["Importance"] for item in batch) == [0, 2, 2, 2, 2, 2, 2]
    delta_calls = [r for r in tenant.requests()[before:] if "/delta" in r.path]
    assert len(delta_calls) >= 4  # seven messages, two per page


def test_an_earlier_location_answers_the_same_batch_again(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    location = first_poll(m365)
    tenant.deliver(OWN, subject="A")
    tenant.deliver(OWN, subject="B")
    answer = m365.http.get(location)
    assert sorted(subjects(answer)) == ["A", "B"]
    tenant.deliver(OWN, subject="C")

    again = m365.http.get(location)  # the engine lost the answer and polls the same URL

    assert sorted(subjects(again)) == ["A", "B"]
    assert again.headers["Location"] == answer.headers["Location"]
    assert subjects(m365.http.get(again.headers["Location"])) == ["C"]


def test_a_state_not_issued_for_this_key_and_these_parameters_is_refused(
    m365: ApiUser, stack: Stack, tenant: GraphStandIn
) -> None:
    location = first_poll(m365, subjectFilter="invoice")
    state = state_of(location)
    tampered = state[:-3] + ("AAA" if state[-3:] != "AAA" else "BBB")
    other, other_http = stack.new_client("other key")
    with stack.db.session() as session:
        set_mailboxes(session, other.id, [OWN])

    forged = m365.http.get(TRIGGER, params={"subjectFilter": "invoice", "triggerState": tampered})
    foreign = other_http.get(TRIGGER, params={"subjectFilter": "invoice", "triggerState": state})
    reparametered = m365.http.get(TRIGGER, params={"subjectFilter": "memo", "triggerState": state})
    other_http.close()

    for refused in (forged, foreign, reparametered):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_trigger_state"
    assert m365.http.get(location).status_code == 202  # the genuine one still works
