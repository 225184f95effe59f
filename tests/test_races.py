"""Races on the recipient pages: one outcome, consistent rows, at most one callback.

Requests are released together by a barrier from threads that each hold an open keep-alive
connection to the web process, so they reach it within a millisecond or so of each other.
DESIGN 5 "Recipient pages" and "Callback to NotificationUrl".
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.api import APPROVAL, ApiUser, confirm_form, option_links
from tests.support.callbacks import delivery_ends, holds
from tests.support.counts import rows
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually

RECIPIENTS = 10
DOUBLE_SUBMITS = 10
DELETE_RACES = 10
QUIET_SECONDS = 3  # three sweeps: long enough for a stray callback to show up


def release_together(
    base_url: str, calls: list[Callable[[httpx.Client], httpx.Response]]
) -> list[httpx.Response]:
    """Run every call on its own warm connection, all released by one barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            client.get("/openapi.json").raise_for_status()  # open the connection first
            barrier.wait(timeout=30)
            return call(client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def post_form(link: str, form: dict[str, str]) -> Callable[[httpx.Client], httpx.Response]:
    action = link.split("?")[0]
    return lambda client: client.post(action, data=form)


def settled(api: ApiUser, subscription_id: str) -> str | None:
    """The delivery's status once it can no longer change on its own (receiver answers 200)."""
    status = api.state(subscription_id)["delivery"]["status"]
    return status if status in ("delivered", "dropped") else None


def test_many_recipients_confirming_different_options_at_once_record_exactly_one(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    people = [address.replace("person-", f"r{i}-") for i in range(RECIPIENTS)]
    labels = [f"Option {i}" for i in range(RECIPIENTS)]
    path = receiver.new_path()
    created = api.subscribe(";".join(people), receiver.url(path), Options=", ".join(labels))
    calls = []
    for i, person in enumerate(people):
        link = option_links(smtp.wait_for(person)[0])[i]  # person i picks option i
        calls.append(post_form(link, confirm_form(httpx.get(link).text)))

    statuses = [r.status_code for r in release_together(stack.base_url, calls)]

    assert sorted(statuses) == [200] + [409] * (RECIPIENTS - 1), statuses
    winner = statuses.index(200)
    state = api.state(created["id"])
    assert state["status"] == "completed"
    assert state["response"]["SelectedOption"] == labels[winner]
    assert state["response"]["UserEmailAddress"] == people[winner]
    assert rows(stack, created["id"]) == (1, 1)
    done = delivery_ends(api, created["id"], "delivered")
    callbacks = receiver.wait_for(path)
    holds(lambda: len(receiver.received(path)) == 1, seconds=QUIET_SECONDS)
    assert [c.headers["webhook-id"] for c in receiver.received(path)] == [done["webhookId"]]
    payload = json.loads(callbacks[0].body)
    assert (payload["SelectedOption"], payload["UserEmailAddress"]) == (
        labels[winner],
        people[winner],
    )


def test_one_recipient_double_submitting_the_same_form_records_once(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path()
    created = api.subscribe(address, receiver.url(path))
    link = option_links(smtp.wait_for(address)[0])[1]
    form = {**confirm_form(httpx.get(link).text), "comment": "clicked twice"}

    answers = release_together(stack.base_url, [post_form(link, form)] * DOUBLE_SUBMITS)

    statuses = [r.status_code for r in answers]
    assert sorted(statuses) == [200] + [409] * (DOUBLE_SUBMITS - 1), statuses
    for answer in answers:
        if answer.status_code == 409:
            assert "Already answered" in answer.text and address in answer.text
    state = api.state(created["id"])
    assert state["response"]["SelectedOption"] == "Reject"
    assert state["response"]["Comment"] == "clicked twice"
    assert rows(stack, created["id"]) == (1, 1)
    done = delivery_ends(api, created["id"], "delivered")
    receiver.wait_for(path)
    holds(lambda: len(receiver.received(path)) == 1, seconds=QUIET_SECONDS)
    assert receiver.received(path)[0].headers["webhook-id"] == done["webhookId"]


def test_delete_racing_a_confirmation_ends_in_exactly_one_consistent_outcome(
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
    record_property: Callable[[str, object], None],
) -> None:
    runs: list[dict[str, Any]] = []
    for i in range(DELETE_RACES):
        person = address.replace("person-", f"d{i}-")
        path = receiver.new_path()
        created = api.subscribe(person, receiver.url(path))
        runs.append({"id": created["id"], "person": person, "path": path})
    key = api.http.headers["Authorization"]
    for run in runs:
        link = option_links(smtp.wait_for(run["person"])[0])[0]
        confirm = post_form(link, confirm_form(httpx.get(link).text))
        cancel = f"{APPROVAL}/{run['id']}"
        posted, deleted = release_together(
            stack.base_url,
            [
                confirm,
                lambda client, url=cancel: client.delete(url, headers={"Authorization": key}),
            ],
        )
        assert deleted.status_code == 200, deleted.text
        run["post"], run["delete"] = posted.status_code, deleted.json()["status"]

    for run in runs:
        state = api.state(run["id"])
        run["responses"], run["deliveries"] = rows(stack, run["id"])
        if run["post"] == 200:
            # The confirmation came first: it stands, and DELETE found the request answered.
            run["outcome"] = "completed"
            assert run["delete"] == "completed", run
            assert state["status"] == "completed" and state["response"] is not None, state
            assert state["response"]["SelectedOption"] == "Approve"
            assert (run["responses"], run["deliveries"]) == (1, 1), run
            # DELETE drops a callback still owed; one already claimed by a worker goes out.
            run["delivery"] = eventually(lambda run=run: settled(api, run["id"]), timeout=30)
        else:
            # DELETE came first: the confirmation was refused and nothing is owed.
            run["outcome"] = "cancelled"
            assert run["post"] == 410, run
            assert run["delete"] == "cancelled", run
            assert state["status"] == "cancelled" and state["response"] is None, state
            assert (run["responses"], run["deliveries"]) == (0, 0), run
            run["delivery"] = None

    def callbacks_agree() -> bool:
        for run in runs:
            got = receiver.received(run["path"])
            expected = 1 if run["delivery"] == "delivered" else 0
            if len(got) != expected:
                return False
        return True

    eventually(callbacks_agree, timeout=10)
    holds(callbacks_agree, seconds=QUIET_SECONDS)
    for run in runs:
        if run["delivery"] == "delivered":
            sent = receiver.received(run["path"])[0]
            assert sent.headers["webhook-id"] == api.state(run["id"])["delivery"]["webhookId"]
    outcomes = Counter(f"{r['outcome']}/{r['delivery'] or 'no callback'}" for r in runs)
    record_property("outcomes", dict(outcomes))
    print(f"\n[{stack.name}] DELETE vs confirm, {DELETE_RACES} races: {dict(outcomes)}")
