"""Callbacks against receivers that misbehave, and a worker that is told to stop.

A receiver that trickles its answer is cut off at ``APPROVALS_WEBHOOK_TIMEOUT`` for the whole
request; a callback that cannot even be sent fails alone, with its reason, while the others in
its batch go out; a worker stopped with SIGTERM finishes the request it is making and gives
back the rest at once, for the next worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from approvals.store.models import Delivery, utcnow
from approvals.store.status import DeliveryStatus
from tests.support.api import ApiUser
from tests.support.callbacks import rescript
from tests.support.receiver import CallbackReceiver, Reply
from tests.support.stack import Stack, eventually
from tests.support.trickle import TrickleReceiver


def owe(stack: Stack, api: ApiUser, *urls: str) -> list[str]:
    """Callbacks owed to ``urls`` as rows only (no message sent): the sweeper enqueues them
    together, in one batch, as it would after a restart."""
    rows = [
        Delivery(
            client_id=api.id,
            url=url,
            payload='{"SelectedOption":"Approve"}',
            webhook_id=f"msg_{uuid.uuid4().hex}",
            status=DeliveryStatus.DUE,
            next_attempt_at=utcnow(),
            enqueued_at=None,
        )
        for url in urls
    ]
    with stack.db.session() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def shown(api: ApiUser, delivery_id: str) -> dict[str, Any]:
    answer = api.http.get(f"/deliveries/{delivery_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def ends(api: ApiUser, delivery_id: str, status: str, timeout: float = 40) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        found = shown(api, delivery_id)
        return found if found["status"] == status else None

    return eventually(reached, timeout=timeout, interval=0.1)


@pytest.fixture
def trickle() -> Iterator[TrickleReceiver]:
    server = TrickleReceiver()
    yield server
    server.close()


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_timeout(
    stack: Stack, api: ApiUser, trickle: TrickleReceiver
) -> None:
    """Its answer would take about 25 s, a byte every 0.4 s; the timeout (2 s) is for it all."""
    (delivery_id,) = owe(stack, api, trickle.url())

    failed = ends(api, delivery_id, "failed")

    attempts = failed["attempts"]
    assert [a["errorCode"] for a in attempts] == ["timeout"] * len(attempts)
    assert len(attempts) == 4  # the whole test schedule
    eventually(lambda: trickle.hung_up == len(attempts))
    assert trickle.answered == 0


def test_a_callback_that_cannot_be_sent_fails_alone_and_its_batch_goes_out(
    stack: Stack, api: ApiUser, receiver: CallbackReceiver
) -> None:
    """A URL with a raw non-ASCII path (as rows written before intake normalised URLs hold)
    makes the HTTP layer raise; the callbacks beside it in the batch must not notice."""
    good_paths = [receiver.new_path() for _ in range(3)]
    bad = receiver.url("/hook/caf\u00e9-" + uuid.uuid4().hex)
    ids = owe(stack, api, receiver.url(good_paths[0]), bad, *map(receiver.url, good_paths[1:]))

    for path in good_paths:
        receiver.wait_for(path)
    for delivery_id in (ids[0], *ids[2:]):
        assert ends(api, delivery_id, "delivered")["attempts"][0]["statusCode"] == 200
    failed = ends(api, ids[1], "failed")
    assert {a["errorCode"] for a in failed["attempts"]} == {"invalid_request"}
    assert all(a["responseBody"] for a in failed["attempts"])  # the reason, for the operator
    for path in good_paths:
        assert len(receiver.received(path)) == 1


def test_sigterm_finishes_the_request_in_flight_and_gives_back_the_rest(
    stack: Stack, api: ApiUser, receiver: CallbackReceiver
) -> None:
    """Three callbacks to a receiver that takes 5 s each: stopped during the first, the worker
    records that one and gives the two others back at once, not after its claim lapses."""
    paths = [receiver.new_path(Reply(delay=5)) for _ in range(3)]
    host_url = receiver.url("")
    with stack.worker_in_its_place(
        "stopping-worker", APPROVALS_WEBHOOK_TIMEOUT="30", APPROVALS_CLAIM_TIMEOUT="600"
    ) as worker:
        worker.start()
        ids = owe(stack, api, *(host_url + path for path in paths))
        eventually(lambda: any(receiver.received(path) for path in paths))  # mid-answer

        worker.stop(timeout=30)

        states = {delivery_id: shown(api, delivery_id) for delivery_id in ids}
        assert sorted(s["status"] for s in states.values()) == ["delivered", "due", "due"]
        for state in states.values():
            if state["status"] == "due":
                assert state["attemptCount"] == 0 and state["attempts"] == []
        for path in paths:  # quick from now on: the stack's worker times out after 2 s
            rescript(receiver, path, Reply())
    # The stack's own worker, started again, sends what was given back.
    for delivery_id in ids:
        ends(api, delivery_id, "delivered")
    for path in paths:
        assert len(receiver.received(path)) == 1
