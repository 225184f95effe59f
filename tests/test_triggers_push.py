"""Push subscriptions to OnNewEmailV3: batches POSTed, signed, to a real receiver.

The service polls Graph (the stand-in) every ``APPROVALS_TRIGGER_INTERVAL`` (1 s in tests)
and sends each batch as one callback through the delivery engine. A worker killed while its
poll is at Graph neither loses the batch nor sends it twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from approvals.mailboxes import set_mailboxes
from tests.support.api import ApiUser
from tests.support.graph.server import GraphStandIn
from tests.support.m365 import tenant_with
from tests.support.receiver import CallbackReceiver
from tests.support.stack import Stack, eventually, stop_polling

OWN = "pushed-inbox@contoso.example"
SUBSCRIPTIONS = "/v3/Mail/OnNewEmail/$subscriptions"


@pytest.fixture
def tenant(graph: GraphStandIn) -> GraphStandIn:
    return tenant_with(graph, [OWN])


@pytest.fixture
def m365(stack: Stack, tenant: GraphStandIn) -> Iterator[ApiUser]:
    created, http = stack.new_client("push triggers")
    with stack.db.session() as session:
        set_mailboxes(session, created.id, [OWN])
    yield ApiUser(created.id, created.key, created.webhook_secret, http)
    http.close()
    stop_polling(stack, created.id)


def subscribe(m365: ApiUser, url: str, **parameters: Any) -> str:
    answer = m365.http.post(SUBSCRIPTIONS, json={"NotificationUrl": url, "parameters": parameters})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["notificationType"] == "OnNewEmailV3" and body["notificationUrl"] == url
    assert answer.headers["Location"] == body["resource"]
    return body["id"]


def state(m365: ApiUser, subscription_id: str) -> dict[str, Any]:
    answer = m365.http.get(f"{SUBSCRIPTIONS}/{subscription_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def polled(m365: ApiUser, subscription_id: str, more_than: int = 0) -> dict[str, Any]:
    """The subscription once it has finished more than ``more_than`` polls."""
    return eventually(
        lambda: (s := state(m365, subscription_id))["lastPollAt"] and s["polls"] > more_than and s
    )


def test_a_new_batch_arrives_signed_at_the_receiver_and_delete_ends_it(
    m365: ApiUser, stack: Stack, tenant: GraphStandIn, receiver: CallbackReceiver
) -> None:
    tenant.deliver(OWN, subject="before the subscription")
    path = receiver.new_path()
    subscription_id = subscribe(m365, receiver.url(path), subjectFilter="order")
    polled(m365, subscription_id)  # started: what was there is the baseline

    tenant.deliver(OWN, subject="order 1", sender="shop@fabrikam.example")
    tenant.deliver(OWN, subject="newsletter")  # filtered out by subjectFilter
    tenant.deliver(OWN, subject="order 2")

    (callback,) = receiver.wait_for(path)
    payload = Webhook(m365.webhook_secret).verify(callback.body, callback.headers)
    assert sorted(item["subject"] for item in payload["value"]) == ["order 1", "order 2"]
    assert {item["from"] for item in payload["value"]} >= {"shop@fabrikam.example"}
    shown = eventually(
        lambda: (
            (s := state(m365, subscription_id))["deliveries"]
            and s["deliveries"][0]["status"] == "delivered"
            and s
        )
    )
    assert shown["deliveries"][0]["webhookId"] == callback.headers["webhook-id"]
    assert shown["parameters"]["subjectFilter"] == "order"

    # The key unbound from the mailbox: polls fail, saying why, and nothing more is sent.
    with stack.db.session() as session:
        set_mailboxes(session, m365.id, [])
    eventually(lambda: "mailbox_not_allowed" in (state(m365, subscription_id)["lastError"] or ""))
    tenant.deliver(OWN, subject="order 3")
    started = state(m365, subscription_id)["polls"]
    polled(m365, subscription_id, more_than=started + 1)  # a whole poll since the delivery
    assert len(state(m365, subscription_id)["deliveries"]) == 1
    assert len(receiver.received(path)) == 1

    ended = m365.http.delete(f"{SUBSCRIPTIONS}/{subscription_id}")
    again = m365.http.delete(f"{SUBSCRIPTIONS}/{subscription_id}")
    assert ended.status_code == again.status_code == 200, ended.text
    assert ended.json() == {"id": subscription_id, "status": "deleted"}
    assert state(m365, subscription_id)["nextPollAt"] is None
    assert m365.http.get(f"{SUBSCRIPTIONS}/nope").status_code == 404
    other, other_http = stack.new_client("someone else")
    assert other_http.get(f"{SUBSCRIPTIONS}/{subscription_id}").status_code == 404
    other_http.close()


def test_bad_subscriptions_are_refused_and_keep_nothing(m365: ApiUser) -> None:
    unknown = m365.http.post(
        SUBSCRIPTIONS, json={"NotificationUrl": "http://127.0.0.1/x", "parameters": {"top": 3}}
    )
    wrong = m365.http.post(
        SUBSCRIPTIONS,
        json={"NotificationUrl": "http://127.0.0.1/x", "parameters": {"importance": "Urgent"}},
    )
    no_url = m365.http.post(SUBSCRIPTIONS, json={"NotificationUrl": "ftp://x", "parameters": {}})
    assert unknown.status_code == wrong.status_code == no_url.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_parameter"
    assert wrong.json()["error"]["field"] == "importance"


def test_a_worker_killed_while_its_poll_is_at_graph_neither_loses_nor_repeats_the_batch(
    m365: ApiUser, stack: Stack, tenant: GraphStandIn, receiver: CallbackReceiver
) -> None:
    path = receiver.new_path()
    subscription_id = subscribe(m365, receiver.url(path))
    polled(m365, subscription_id)
    tenant.hold(OWN)  # the next poll reaches Graph and waits there
    for number in range(3):
        tenant.deliver(OWN, subject=f"while dying {number}")
    try:
        eventually(lambda: tenant.in_flight(OWN) >= 1)
        stack.worker.kill()  # after its poll went out, before it could record anything
    finally:
        tenant.release()
        stack.worker.start()

    (callback,) = receiver.wait_for(path)
    body = json.loads(callback.body)
    assert sorted(item["subject"] for item in body["value"]) == [
        f"while dying {n}" for n in range(3)
    ]
    # Two more polls after the one that delivered: still that one callback.
    polls = state(m365, subscription_id)["polls"]
    polled(m365, subscription_id, more_than=polls + 1)
    assert len(receiver.received(path)) == 1
    assert len(state(m365, subscription_id)["deliveries"]) == 1
