"""A worker killed (``kill -9``) while Quorum requests are being decided and called back.

Each request asks three people and is decided when two choose the same option; the answers of
two people per request arrive while the worker dies part way through the callbacks. Nothing may
be lost or decided twice: every request ends completed with one callback (one ``webhook-id``;
the same callback may arrive again after the kill, as at-least-once delivery allows), that
callback says ``decided`` with both answers, and the database holds one delivery per request.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.harness import FaultEnv
from tests.support.api import APPROVAL, answer, option_links
from tests.support.counts import rows
from tests.support.receiver import Reply
from tests.support.stack import eventually

pytestmark = pytest.mark.timeout(300)

REQUESTS = 40


def test_worker_killed_while_quorum_requests_are_decided(env: FaultEnv) -> None:
    created, http = env.stack.new_client("quorum")
    path = env.receiver.new_path(Reply(delay=0.3))
    tag = uuid.uuid4().hex[:8]
    plans: dict[str, list[str]] = {}
    for n in range(REQUESTS):
        people = [f"q{n}-{i}-{tag}@example.com" for i in range(3)]
        answer_ = http.post(
            APPROVAL,
            json={
                "NotificationUrl": env.receiver.url(path),
                "Message": {"To": ";".join(people), "Subject": f"Quorum {n}"},
                "Policy": {"Type": "Quorum", "Count": 2},
            },
        )
        assert answer_.status_code == 201, answer_.text
        plans[answer_.json()["id"]] = people
    links = {
        p: option_links(env.smtp.wait_for(p, timeout=60)[0]) for ps in plans.values() for p in ps
    }

    def approve(person: str) -> int:
        return answer(links[person][0]).status_code

    with ThreadPoolExecutor(8) as pool:
        first = [pool.submit(approve, people[0]) for people in plans.values()]
        seconds = [pool.submit(approve, people[1]) for people in plans.values()]
        env.receiver.wait_for(path, REQUESTS // 4, timeout=60)
        env.stack.worker.kill()
        at_kill = len(env.receiver.received(path))
        env.stack.worker.start()
        statuses = [f.result() for f in (*first, *seconds)]
    assert statuses == [200] * (2 * REQUESTS)
    assert at_kill < REQUESTS, "every callback arrived before the kill"

    def by_request() -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for received in env.receiver.received(path):
            found[json.loads(received.body)["SubscriptionId"]].add(received.headers["webhook-id"])
        return found

    eventually(lambda: len(by_request()) == REQUESTS or None, timeout=90, interval=0.25)
    assert all(len(ids) == 1 for ids in by_request().values()), by_request()
    for received in env.receiver.received(path):
        body = json.loads(received.body)
        assert body["Outcome"] == "decided" and body["SelectedOption"] == "Approve"
        assert sorted(r["UserEmailAddress"] for r in body["Responses"]) == sorted(
            plans[body["SubscriptionId"]][:2]
        )
    for subscription_id in plans:
        state = http.get(f"{APPROVAL}/{subscription_id}").json()
        assert state["status"] == "completed" and state["outcome"] == "decided"
        assert rows(env.stack, subscription_id) == (2, 1)  # two answers, one callback
    http.close()
