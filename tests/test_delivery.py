"""The callback to NotificationUrl: payload, signature, retries, and surviving failures.

DESIGN 5 "Callback to NotificationUrl" and DESIGN 6 (SSRF). The test stack retries on a short
schedule (0, 0.3, 0.3, 0.3 s), times a callback out after 2 s, reclaims a dead worker's claim
after 4 s and sweeps every second.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import BACKENDS, make_stack
from tests.support.api import APPROVAL, ApiUser
from tests.support.callbacks import (
    confirm,
    delivery,
    delivery_ends,
    holds,
    links_for,
    rescript,
)
from tests.support.receiver import HOLD_LIMIT, CallbackReceiver, Received, Reply
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually


def verify_signature(api: ApiUser, request: Received) -> dict[str, object]:
    """The Standard Webhooks check a subscriber would run; raises when it fails."""
    return Webhook(api.webhook_secret).verify(request.body, request.headers)


def test_callback_carries_the_documented_payload_signed_with_the_clients_secret(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path()
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    confirm(links[0], comment="ship it")

    request = receiver.wait_for(path)[0]
    state = api.state(subscription_id)
    payload = json.loads(request.body)
    assert payload == {
        "SelectedOption": "Approve",
        "UserEmailAddress": address,
        "UserTenantId": None,
        "UserId": state["recipients"][0]["id"],
        "SubscriptionId": subscription_id,
        "Comment": "ship it",
        "RespondedAt": state["response"]["RespondedAt"],
    }
    assert datetime.fromisoformat(payload["RespondedAt"]).tzinfo is not None
    assert request.headers["content-type"].split(";")[0].strip() == "application/json"
    assert request.headers["user-agent"].startswith("approvals/")
    assert verify_signature(api, request) == payload
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)

    done = delivery_ends(api, subscription_id, "delivered")
    assert done["attemptCount"] == 1
    assert [a["statusCode"] for a in done["attempts"]] == [200]
    assert done["webhookId"] == request.headers["webhook-id"]
    shown = api.http.get(f"/deliveries/{done['id']}")
    assert shown.status_code == 200
    assert shown.json()["status"] == "delivered"


def test_failed_attempts_are_retried_with_the_same_webhook_id_honouring_retry_after(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path(
        Reply(500, body=b"boom"),
        Reply(503, headers={"Retry-After": "1"}, body=b"busy"),
        Reply(200),
    )
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    confirm(links[1])

    done = delivery_ends(api, subscription_id, "delivered")
    assert done["attemptCount"] == 3
    assert [a["statusCode"] for a in done["attempts"]] == [500, 503, 200]
    assert [a["number"] for a in done["attempts"]] == [1, 2, 3]
    assert [a["responseBody"] for a in done["attempts"]] == ["boom", "busy", "ok"]
    requests = receiver.received(path)
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == {done["webhookId"]}
    for request in requests:
        assert json.loads(request.body)["SelectedOption"] == "Reject"
        verify_signature(api, request)
    # Retry-After: 1 outweighs the schedule's 0.3 s: the retry is not made before the instant
    # the 503 named (counted from when the receiver got the request, before it answered).
    not_before = requests[1].at + 1
    assert requests[2].at >= not_before


def test_410_gone_stops_delivery_after_one_attempt(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path(Reply(410, body=b"gone"))
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    confirm(links[0])

    done = delivery_ends(api, subscription_id, "stopped")
    assert done["attemptCount"] == 1
    assert [a["statusCode"] for a in done["attempts"]] == [410]
    # Several sweeps go by (one a second) and nothing asks the receiver again.
    holds(lambda: len(receiver.received(path)) == 1, seconds=3)
    assert delivery(api, subscription_id)["status"] == "stopped"


def test_redirects_are_not_followed_and_count_as_failures(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    elsewhere = receiver.new_path()
    path = receiver.new_path(Reply(307, headers={"Location": receiver.url(elsewhere)}))
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    confirm(links[0])

    failed = delivery_ends(api, subscription_id, "failed")
    assert [a["statusCode"] for a in failed["attempts"]] == [307] * 4
    assert len(receiver.received(path)) == 4
    assert receiver.received(elsewhere) == []


def test_timeouts_exhaust_the_schedule_then_a_manual_retry_delivers(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path(Reply(delay=3))
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    confirm(links[0])

    failed = delivery_ends(api, subscription_id, "failed", timeout=40)
    assert failed["attemptCount"] == 4
    assert [a["errorCode"] for a in failed["attempts"]] == ["timeout"] * 4
    assert [a["statusCode"] for a in failed["attempts"]] == [None] * 4
    assert all(isinstance(a["durationMs"], int) for a in failed["attempts"])
    # Every attempt reached the receiver (a timeout, not a refused connection).
    assert len(receiver.received(path)) == 4

    rescript(receiver, path, Reply(200))
    retried = api.http.post(f"/deliveries/{failed['id']}/retry")
    assert retried.status_code == 202, retried.text
    done = delivery_ends(api, subscription_id, "delivered")
    assert done["attempts"][-1]["statusCode"] == 200
    requests = receiver.wait_for(path, 5)
    assert {r.headers["webhook-id"] for r in requests} == {failed["webhookId"]}

    again = api.http.post(f"/deliveries/{failed['id']}/retry")
    assert again.status_code == 422, again.text
    assert again.json()["error"]["code"] == "delivery_not_retryable"


def test_a_worker_killed_mid_delivery_does_not_lose_the_callback(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path(Reply(delay=1.5), Reply(200))
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    try:
        confirm(links[0])
        first = receiver.wait_for(path)[0]
        stack.worker.kill()  # kill -9 while the receiver is still answering
        in_flight = delivery(api, subscription_id)
        assert in_flight["status"] == "delivering"
        assert in_flight["attempts"] == []
        stack.worker.start()

        second = receiver.wait_for(path, 2, timeout=40)[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        verify_signature(api, second)
        done = delivery_ends(api, subscription_id, "delivered")
        assert done["attempts"][-1]["statusCode"] == 200
    finally:
        if not stack.worker.running:
            stack.worker.start()


def redis_prefix(stack: Stack) -> str:
    options = json.loads(stack.env["APPROVALS_BROKER_TRANSPORT_OPTIONS"])
    return options["global_keyprefix"]


def test_a_broker_that_loses_its_messages_does_not_lose_the_callback(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    if stack.name != "postgres+redis":
        pytest.skip("only the Redis broker can lose messages this way")
    broker = redis.Redis.from_url(stack.env["APPROVALS_BROKER_URL"])
    prefix = redis_prefix(stack)
    path = receiver.new_path()
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    try:
        stack.worker.stop()
        confirm(links[0])
        delivery_id = delivery(api, subscription_id)["id"]

        def queued() -> bool:
            return any(
                delivery_id.encode() in message
                for message in broker.lrange(f"{prefix}callbacks", 0, -1)
            )

        assert eventually(queued, timeout=5)
        keys = list(broker.scan_iter(match=f"{prefix}*", count=500))
        assert keys
        broker.delete(*keys)
        assert not list(broker.scan_iter(match=f"{prefix}*", count=500))
        assert receiver.received(path) == []
        stack.worker.start()

        request = receiver.wait_for(path, timeout=30)[0]
        assert json.loads(request.body)["SubscriptionId"] == subscription_id
        delivery_ends(api, subscription_id, "delivered")
    finally:
        broker.close()
        if not stack.worker.running:
            stack.worker.start()


def test_unsubscribing_after_the_answer_drops_the_unsent_callback(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path()
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    try:
        stack.worker.stop()
        confirm(links[0])
        assert delivery(api, subscription_id)["status"] == "due"
        assert api.http.delete(f"{APPROVAL}/{subscription_id}").status_code == 200
        stack.worker.start()

        delivery_ends(api, subscription_id, "dropped")
        # The worker is back: it sends a new request's email while the dropped callback waits.
        other = address.replace("person-", "later-")
        api.subscribe(other, receiver.url(receiver.new_path()))
        smtp.wait_for(other, timeout=30)
        holds(lambda: receiver.received(path) == [], seconds=3)
        assert delivery(api, subscription_id)["status"] == "dropped"
        assert api.http.delete(f"{APPROVAL}/{subscription_id}").status_code == 200
    finally:
        if not stack.worker.running:
            stack.worker.start()


@pytest.fixture(scope="module")
def guarded_stack(smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own that allows no extra networks: loopback is refused like any other."""
    root: Path = tmp_path_factory.mktemp("guarded")
    running, _ = make_stack("embedded", root, smtp, {"APPROVALS_WEBHOOK_ALLOWED_NETWORKS": ""})
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def v6_receiver() -> Iterator[CallbackReceiver | None]:
    try:
        server = CallbackReceiver(host="::1")
    except OSError:
        yield None
        return
    yield server
    server.close()


@pytest.mark.parametrize("target", ["127.0.0.1", "::1", "localhost"])
def test_loopback_notification_urls_are_refused_on_the_wire(
    guarded_stack: Stack,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    v6_receiver: CallbackReceiver | None,
    address: str,
    target: str,
) -> None:
    listening = receiver
    if target == "::1":
        if v6_receiver is None:
            pytest.skip("cannot listen on ::1 here")
        listening = v6_receiver
    path = listening.new_path()
    url = listening.url(path, host="localhost" if target == "localhost" else None)
    assert f"//{'[::1]' if target == '::1' else target}:" in url
    created, http = guarded_stack.new_client()
    try:
        api = ApiUser(created.id, created.key, created.webhook_secret, http)
        subscription_id, links = links_for(api, smtp, address, url)
        confirm(links[0])

        failed = delivery_ends(api, subscription_id, "failed")
        assert failed["attemptCount"] == 1
        assert [a["errorCode"] for a in failed["attempts"]] == ["blocked_address"]
        assert [a["statusCode"] for a in failed["attempts"]] == [None]
        assert listening.received(path) == []
    finally:
        http.close()


def test_another_clients_delivery_cannot_be_seen_or_retried(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path(Reply(410))
    subscription_id, links = links_for(api, smtp, address, receiver.url(path))
    confirm(links[0])
    delivery_id = delivery_ends(api, subscription_id, "stopped")["id"]

    _, other = stack.new_client("other")
    try:
        assert other.get(f"/deliveries/{delivery_id}").status_code == 404
        assert other.post(f"/deliveries/{delivery_id}/retry").status_code == 404
        assert other.post("/deliveries/nope/retry").status_code == 404
    finally:
        other.close()
    assert delivery(api, subscription_id)["status"] == "stopped"
    assert len(receiver.received(path)) == 1


SLOW_ANSWER = 1.9  # under the test stack's 2 s timeout


@pytest.fixture(scope="module", params=BACKENDS)
def patient_stack(
    request: pytest.FixtureRequest, smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack of its own that waits 60 s for a receiver's answer (the shared one: 2 s), and
    takes over a claim only after longer than that (the shared one: 4 s)."""
    root: Path = tmp_path_factory.mktemp("patient-" + request.param.replace("+", "-"))
    patience = {
        "APPROVALS_WEBHOOK_TIMEOUT": str(int(HOLD_LIMIT)),
        "APPROVALS_CLAIM_TIMEOUT": str(int(HOLD_LIMIT * 3)),
    }
    running, database = make_stack(request.param, root, smtp, patience)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        if database is not None:
            database.drop()


def test_a_slow_receiver_does_not_hold_up_callbacks_to_others(
    patient_stack: Stack, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    """Six callbacks owed to a receiver that holds every answer; one to a quick receiver,
    confirmed once the slow receiver is holding, arrives while it still holds them all (a
    callback queued behind the slow receiver would wait until it answers, however long)."""
    created, http = patient_stack.new_client("patient")
    api = ApiUser(created.id, created.key, created.webhook_secret, http)
    released = threading.Event()
    slow_path = receiver.new_path(Reply(hold=released))
    quick = CallbackReceiver()
    try:
        slow = [links_for(api, smtp, f"{n}-{address}", receiver.url(slow_path)) for n in range(6)]
        quick_path = quick.new_path()
        quick_id, quick_links = links_for(api, smtp, f"q-{address}", quick.url(quick_path))
        for _, links in slow:
            confirm(links[0])
        receiver.wait_for(slow_path)  # the slow receiver is holding its first
        confirm(quick_links[0])
        quick.wait_for(quick_path, timeout=HOLD_LIMIT / 2)
        assert receiver.answered(slow_path) == [], "the slow receiver answered first"
        released.set()
        assert delivery_ends(api, quick_id, "delivered")["attemptCount"] == 1
        for subscription_id, _ in slow:
            assert delivery_ends(api, subscription_id, "delivered")["attemptCount"] == 1
    finally:
        released.set()
        quick.close()
        http.close()


def test_a_worker_stopped_leaves_no_callback_claimed(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    """SIGTERM while a slow receiver still has callbacks queued: each one is either delivered
    or given back (due again), none left claimed until its claim would lapse."""
    path = receiver.new_path(Reply(delay=SLOW_ANSWER))
    owed = [links_for(api, smtp, f"{n}-{address}", receiver.url(path)) for n in range(8)]
    try:
        for _, links in owed:
            confirm(links[0])
        receiver.wait_for(path)
        stack.worker.stop(timeout=30)
        states = {delivery(api, subscription_id)["status"] for subscription_id, _ in owed}
        assert states <= {"delivered", "due"}, states
    finally:
        stack.worker.start()
    for subscription_id, _ in owed:
        delivery_ends(api, subscription_id, "delivered")
