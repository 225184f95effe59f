"""Approval policies (issue 17): All, Quorum, Collect, expiry outcome, required comments.

Each test acts as the API client and as the people answering, on every backend, and checks
what they see: pages, GET, the callbacks the receiver got and the rows that survive.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.support.api import APPROVAL, ApiUser, answer, confirm_form, option_links
from tests.support.callbacks import holds
from tests.support.counts import rows
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually
from tests.test_races import post_form, release_together

QUIET_SECONDS = 3  # three sweeps: long enough for a stray callback to show up


def subscribe(api: ApiUser, to: list[str], url: str, **fields: Any) -> dict[str, Any]:
    """POST an approval request with issue 17's fields beside the connector's."""
    message = {"To": ";".join(to), **fields.pop("Message", {})}
    response = api.http.post(APPROVAL, json={"NotificationUrl": url, "Message": message, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def people(address: str, count: int) -> list[str]:
    return [address.replace("person-", f"p{i}-") for i in range(count)]


def links(smtp: SmtpSink, person: str) -> list[str]:
    return option_links(smtp.wait_for(person)[0])


def only_callback(receiver: CallbackReceiver, path: str) -> dict[str, Any]:
    """The one callback ``path`` receives: waited for, then no second one for a while."""
    receiver.wait_for(path)
    holds(lambda: len(receiver.received(path)) == 1, seconds=QUIET_SECONDS)
    return json.loads(receiver.received(path)[0].body)


def test_all_waits_for_everyone_then_calls_back_once_with_every_answer(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    ann, bob, cid = people(address, 3)
    path = receiver.new_path()
    created = subscribe(api, [ann, bob, cid], receiver.url(path), Policy={"Type": "All"})

    assert answer(links(smtp, ann)[0], comment="fine").status_code == 200
    assert answer(links(smtp, bob)[0]).status_code == 200
    waiting = api.state(created["id"])
    assert waiting["status"] == "pending"
    assert waiting["policy"] == {"Type": "All"}
    assert waiting["answersNeeded"] == 1
    assert [a["UserEmailAddress"] for a in waiting["answers"]] == [ann, bob]
    assert receiver.received(path) == []
    again = httpx.get(links(smtp, ann)[1])
    assert again.status_code == 409 and ann in again.text  # ann answered already

    assert answer(links(smtp, cid)[0]).status_code == 200
    payload = only_callback(receiver, path)
    assert payload["Outcome"] == "decided"
    assert payload["SelectedOption"] == "Approve"
    assert payload["SubscriptionId"] == created["id"]
    assert [(r["UserEmailAddress"], r["SelectedOption"]) for r in payload["Responses"]] == [
        (ann, "Approve"),
        (bob, "Approve"),
        (cid, "Approve"),
    ]
    assert payload["Responses"][0]["Comment"] == "fine"
    done = api.state(created["id"])
    assert (done["status"], done["outcome"], done["decidedOption"]) == (
        "completed",
        "decided",
        "Approve",
    )
    assert done["answersNeeded"] == 0
    late = httpx.get(links(smtp, bob)[1])
    assert late.status_code == 409
    assert "decided: Approve" in late.text and ann in late.text and cid in late.text


def test_all_is_decided_at_once_by_one_refusal(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    ann, bob, cid = people(address, 3)
    path = receiver.new_path()
    created = subscribe(api, [ann, bob, cid], receiver.url(path), Policy={"Type": "All"})

    assert answer(links(smtp, ann)[0]).status_code == 200
    assert answer(links(smtp, bob)[1], comment="no budget").status_code == 200

    payload = only_callback(receiver, path)
    assert (payload["Outcome"], payload["SelectedOption"]) == ("decided", "Reject")
    assert (payload["UserEmailAddress"], payload["Comment"]) == (bob, "no budget")
    assert len(payload["Responses"]) == 2
    assert httpx.post(links(smtp, cid)[0].split("?")[0], data={}).status_code == 400
    closed = httpx.get(links(smtp, cid)[0])
    assert closed.status_code == 409 and "decided: Reject" in closed.text
    assert api.state(created["id"])["outcome"] == "decided"


def test_quorum_ends_undecided_once_no_option_can_reach_its_count(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    group = people(address, 3)
    path = receiver.new_path()
    created = subscribe(
        api,
        group,
        receiver.url(path),
        Policy={"Type": "Quorum", "Count": 2},
        Message={"Options": "Red, Green, Blue"},
    )
    assert answer(links(smtp, group[0])[0]).status_code == 200
    assert answer(links(smtp, group[1])[1]).status_code == 200
    assert api.state(created["id"])["answersNeeded"] == 1
    assert answer(links(smtp, group[2])[2]).status_code == 200

    payload = only_callback(receiver, path)
    assert (payload["Outcome"], payload["SelectedOption"]) == ("undecided", None)
    assert payload["UserEmailAddress"] is None
    assert [r["SelectedOption"] for r in payload["Responses"]] == ["Red", "Green", "Blue"]
    assert api.state(created["id"])["outcome"] == "undecided"
    assert "without a decision" in httpx.get(links(smtp, group[0])[0]).text


def test_quorum_is_decided_by_count_matching_answers(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    group = people(address, 4)
    path = receiver.new_path()
    subscribe(api, group, receiver.url(path), Policy={"Type": "Quorum", "Count": 2})
    assert answer(links(smtp, group[0])[1]).status_code == 200
    assert answer(links(smtp, group[1])[0]).status_code == 200
    assert answer(links(smtp, group[2])[1]).status_code == 200
    payload = only_callback(receiver, path)
    assert (payload["Outcome"], payload["SelectedOption"]) == ("decided", "Reject")
    assert payload["UserEmailAddress"] == group[2]


RACES = {
    # policy, option each of the 10 picks, expected outcome and option
    "All": ({"Type": "All"}, [0] * 10, "decided", "Approve"),
    "Quorum": ({"Type": "Quorum", "Count": 4}, [0, 1] * 5, "decided", None),
    "Collect": ({"Type": "Collect"}, [0] * 6 + [1] * 4, "decided", "Approve"),
}


@pytest.mark.parametrize("name", list(RACES))
def test_ten_recipients_answering_at_once_end_in_one_outcome_and_one_callback(
    name: str,
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
) -> None:
    policy, picks, outcome, option = RACES[name]
    group = people(address, len(picks))
    path = receiver.new_path()
    created = subscribe(api, group, receiver.url(path), Policy=policy)
    calls = []
    for person, pick in zip(group, picks, strict=True):
        link = links(smtp, person)[pick]
        calls.append(post_form(link, confirm_form(httpx.get(link).text)))

    statuses = Counter(r.status_code for r in release_together(stack.base_url, calls))

    assert set(statuses) <= {200, 409}, statuses
    payload = only_callback(receiver, path)
    state = api.state(created["id"])
    assert state["status"] == "completed"
    assert (payload["Outcome"], state["outcome"]) == (outcome, outcome)
    assert payload["SelectedOption"] == state["decidedOption"]
    if option is not None:
        assert payload["SelectedOption"] == option
    # Every answer taken is recorded and reported; none beyond them.
    assert rows(stack, created["id"]) == (statuses[200], 1)
    assert len(payload["Responses"]) == len(state["answers"]) == statuses[200]
    if name == "Quorum":
        chosen = Counter(r["SelectedOption"] for r in payload["Responses"])
        assert chosen[payload["SelectedOption"]] == 4
    else:
        assert statuses[200] == len(picks)


def test_expiry_sends_one_expired_callback_for_the_first_policy_too(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path()
    created = subscribe(api, [address], receiver.url(path), ExpiresAfter="PT2S")
    link = links(smtp, address)[0]

    payload = only_callback(receiver, path)

    assert payload["Outcome"] == "expired"
    assert payload["SelectedOption"] is None
    assert payload["SubscriptionId"] == created["id"]
    assert payload["Responses"] == []
    state = api.state(created["id"])
    assert (state["status"], state["outcome"]) == ("expired", "expired")
    assert state["settings"]["ExpiresAfter"] == "PT2S"
    assert httpx.get(link).status_code == 410


def test_expiry_of_a_quorum_reports_the_answers_it_got(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    group = people(address, 3)
    path = receiver.new_path()
    subscribe(
        api,
        group,
        receiver.url(path),
        Policy={"Type": "Quorum", "Count": 2},
        ExpiresAfter="PT3S",
    )
    assert answer(links(smtp, group[0])[1], comment="too soon").status_code == 200
    payload = only_callback(receiver, path)
    assert (payload["Outcome"], payload["SelectedOption"]) == ("expired", None)
    assert [(r["UserEmailAddress"], r["Comment"]) for r in payload["Responses"]] == [
        (group[0], "too soon")
    ]


def test_no_callback_after_expiry_when_asked_not_to_nor_after_delete(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    quiet, deleted = receiver.new_path(), receiver.new_path()
    first = subscribe(
        api, [address], receiver.url(quiet), ExpiresAfter="PT1S", NotifyOnExpiry=False
    )
    other = address.replace("person-", "other-")
    second = subscribe(
        api, [other], receiver.url(deleted), ExpiresAfter="PT2S", Policy={"Type": "Collect"}
    )
    assert api.http.delete(f"{APPROVAL}/{second['id']}").status_code == 200
    eventually(lambda: api.state(first["id"])["status"] == "expired")
    holds(
        lambda: receiver.received(quiet) == [] and receiver.received(deleted) == [],
        seconds=QUIET_SECONDS,
    )
    assert api.state(second["id"])["status"] == "cancelled"
    assert api.state(first["id"])["delivery"] is None


def test_expires_after_is_capped_by_the_configured_expiry(
    api: ApiUser, receiver: CallbackReceiver, address: str
) -> None:
    from datetime import datetime, timedelta

    created = subscribe(api, [address], receiver.url(receiver.new_path()), ExpiresAfter="P400D")
    state = api.state(created["id"])
    made = datetime.fromisoformat(state["createdAt"])
    ends = datetime.fromisoformat(state["expiresAt"])
    assert ends - made == timedelta(days=30)


def test_an_option_that_requires_a_comment_refuses_a_bare_confirmation(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path()
    created = subscribe(api, [address], receiver.url(path), RequireComment=["Reject"])
    approve, reject = links(smtp, address)
    page = httpx.get(reject)
    assert "required for Reject" in page.text
    assert "required for" not in httpx.get(approve).text
    form = confirm_form(page.text)

    bare = httpx.post(reject.split("?")[0], data={**form, "comment": "   "})

    assert bare.status_code == 400
    assert "needs one" in bare.text and 'method="post"' in bare.text
    assert api.state(created["id"])["status"] == "pending"
    assert receiver.received(path) == []
    given = httpx.post(reject.split("?")[0], data={**confirm_form(bare.text), "comment": "why"})
    assert given.status_code == 200
    payload = json.loads(receiver.wait_for(path)[0].body)
    assert (payload["SelectedOption"], payload["Comment"]) == ("Reject", "why")
    assert "Outcome" not in payload  # the First policy keeps the connector's body
    state = api.state(created["id"])
    assert (state["outcome"], state["decidedOption"], state["answersNeeded"]) == (
        "decided",
        "Reject",
        0,
    )
    assert [a["Comment"] for a in state["answers"]] == ["why"]


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"Policy": {"Type": "Quorum"}}, 422, "invalid_policy"),
        ({"Policy": {"Type": "Quorum", "Count": 3}}, 422, "invalid_policy"),
        ({"Policy": {"Type": "Most"}}, 422, "invalid_value"),
        ({"RequireComment": ["Maybe"]}, 422, "invalid_policy"),
        ({"ExpiresAfter": "2 days"}, 422, "invalid_duration"),
        ({"ExpiresAfter": "PT0S"}, 422, "invalid_duration"),
        ({"Reminders": {"After": "PT1H", "Max": 0}}, 422, "invalid_value"),
        ({"Escalation": {"After": "PT1H", "To": "not an address"}}, 400, "invalid_address"),
    ],
)
def test_bad_policy_fields_are_refused_and_nothing_is_kept(
    stack: Stack,
    api: ApiUser,
    receiver: CallbackReceiver,
    address: str,
    fields: dict[str, Any],
    status: int,
    code: str,
) -> None:
    other = address.replace("person-", "other-")
    response = api.http.post(
        APPROVAL,
        json={
            "NotificationUrl": receiver.url(receiver.new_path()),
            "Message": {"To": f"{address};{other}"},
            **fields,
        },
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert stack.subscription_count(api.id) == 0


def reminders_for(smtp: SmtpSink, person: str) -> list[Any]:
    return [m for m in smtp.messages_for(person) if m["Subject"].startswith("Reminder: ")]


def test_reminders_go_to_whoever_has_not_answered_until_max(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    ann, bob = people(address, 2)
    path = receiver.new_path()
    created = subscribe(
        api,
        [ann, bob],
        receiver.url(path),
        Policy={"Type": "All"},
        Reminders={"After": "PT6S", "Every": "PT1S", "Max": 2},
        Message={"Subject": "Budget 2027"},
    )
    assert answer(links(smtp, ann)[0]).status_code == 200

    first, second = [m for m in smtp.wait_for(bob, count=3)][1:]
    assert first["Subject"] == second["Subject"] == "Reminder: Budget 2027"
    assert len(option_links(second)) == 2
    state = eventually(
        lambda: (
            (s := api.state(created["id"]))
            and {r["status"] for r in s["reminders"]} == {"cancelled", "done"}
            and s
        )
    )
    by_recipient = {r["id"]: r["address"] for r in state["recipients"]}
    summary = {by_recipient[r["recipientId"]]: (r["status"], r["sent"]) for r in state["reminders"]}
    assert summary == {ann: ("cancelled", 0), bob: ("done", 2)}
    assert state["settings"]["Reminders"] == {"After": "PT6S", "Every": "PT1S", "Max": 2}
    holds(lambda: len(smtp.messages_for(bob)) == 3, seconds=QUIET_SECONDS)
    assert reminders_for(smtp, ann) == []

    assert answer(option_links(second)[0]).status_code == 200  # a reminder's link works
    assert only_callback(receiver, path)["SelectedOption"] == "Approve"


def test_a_decision_reached_while_reminders_are_due_sends_no_reminder(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    from datetime import UTC, datetime

    ann, bob = people(address, 2)
    path = receiver.new_path()
    created = subscribe(api, [ann, bob], receiver.url(path), Reminders={"After": "PT8S", "Max": 3})
    link = links(smtp, ann)[0]
    assert smtp.wait_for(bob)  # the worker is stopped long before the reminders fall due

    def reminders_due() -> bool:
        due = [r["nextDueAt"] for r in api.state(created["id"])["reminders"]]
        return len(due) == 2 and all(
            d and datetime.fromisoformat(d) < datetime.now(UTC) for d in due
        )

    with stack.worker_in_its_place("reminders-due") as worker:
        eventually(reminders_due)
        assert answer(link).status_code == 200
        worker.start()
        assert only_callback(receiver, path)["SelectedOption"] == "Approve"
    holds(lambda: not reminders_for(smtp, ann) and not reminders_for(smtp, bob), QUIET_SECONDS)
    state = api.state(created["id"])
    assert [r["status"] for r in state["reminders"]] == ["cancelled", "cancelled"]
    assert [r["sent"] for r in state["reminders"]] == [0, 0]


def test_escalation_adds_its_recipients_whose_answers_count(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    ann, bob, boss = people(address, 3)
    path = receiver.new_path()
    created = subscribe(
        api,
        [ann, bob],
        receiver.url(path),
        Policy={"Type": "Quorum", "Count": 2},
        Escalation={"After": "PT2S", "To": boss},
    )
    assert answer(links(smtp, ann)[0]).status_code == 200

    assert answer(links(smtp, boss)[0], comment="go").status_code == 200

    payload = only_callback(receiver, path)
    assert (payload["Outcome"], payload["SelectedOption"]) == ("decided", "Approve")
    assert [r["UserEmailAddress"] for r in payload["Responses"]] == [ann, boss]
    state = api.state(created["id"])
    assert state["escalation"]["to"] == [boss]
    assert state["escalation"]["escalatedAt"] is not None
    assert [(r["address"], r["source"]) for r in state["recipients"]] == [
        (ann, "request"),
        (bob, "request"),
        (boss, "escalation"),
    ]
    assert len(smtp.messages_for(boss)) == 1


def test_two_sweepers_escalating_at_once_add_the_recipients_exactly_once(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from approvals.policies.escalation import escalate_due

    ann, boss = people(address, 2)
    barrier = threading.Barrier(2)

    def sweeper() -> int:
        with stack.db.session() as session:
            barrier.wait(timeout=30)
            return escalate_due(session)

    def escalation_due() -> bool:
        due = api.state(created["id"])["escalation"]["dueAt"]
        return datetime.fromisoformat(due) < datetime.now(UTC)

    # The stack's own sweeps run on its worker: with it stopped, only these two sweep.
    with stack.worker_in_its_place("two-sweepers") as worker:
        created = subscribe(
            api, [ann], receiver.url(receiver.new_path()), Escalation={"After": "PT1S", "To": boss}
        )
        eventually(escalation_due)
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: sweeper(), range(2)))
        worker.start()

        assert sorted(results) == [0, 1]
        state = api.state(created["id"])
        assert [r["address"] for r in state["recipients"]] == [ann, boss]
        assert state["escalation"]["escalatedAt"] is not None
        assert smtp.wait_for(boss) and smtp.wait_for(ann)
        holds(lambda: len(smtp.messages_for(boss)) == 1, seconds=QUIET_SECONDS)


def reassign_form(page: str) -> dict[str, str]:
    import re

    found = re.search(r'name="reassign_nonce" value="([^"]+)"', page)
    assert found, page
    return {"reassign_nonce": found.group(1)}


def test_reassignment_by_a_scanner_does_nothing_and_by_a_person_moves_the_place(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    ann, deputy = people(address, 2)
    path = receiver.new_path()
    created = subscribe(api, [ann], receiver.url(path), AllowReassign=True)
    link = links(smtp, ann)[0]
    page = httpx.get(link)
    action = link.split("?")[0] + "/reassign"
    assert f'action="{action.split(stack.base_url)[1]}"' in page.text
    nonce = reassign_form(page.text)

    scanned = [
        httpx.get(action, params={"address": deputy}),
        httpx.head(action),
        httpx.post(action, data={"address": deputy}),  # no nonce: not from our page
        httpx.post(action, data={"address": deputy, "reassign_nonce": "forged"}),
    ]
    assert [r.status_code for r in scanned] == [405, 405, 400, 400]
    assert [r["address"] for r in api.state(created["id"])["recipients"]] == [ann]
    assert smtp.messages_for(deputy) == []

    handed = httpx.post(action, data={**nonce, "address": deputy}, headers={"User-Agent": "ann"})

    assert handed.status_code == 200 and deputy in handed.text
    old = httpx.get(link)
    assert old.status_code == 410 and deputy in old.text
    assert httpx.post(link.split("?")[0], data=confirm_form(page.text)).status_code == 410
    again = httpx.post(action, data={**nonce, "address": ann})
    assert again.status_code == 410
    state = api.state(created["id"])
    assert [(r["address"], r["source"]) for r in state["recipients"]] == [
        (ann, "request"),
        (deputy, "reassignment"),
    ]
    assert [(r["from"], r["to"]) for r in state["reassignments"]] == [(ann, deputy)]
    assert answer(links(smtp, deputy)[1]).status_code == 200
    payload = only_callback(receiver, path)
    assert (payload["SelectedOption"], payload["UserEmailAddress"]) == ("Reject", deputy)


def test_a_request_without_allow_reassign_offers_and_takes_no_hand_over(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    created = subscribe(api, [address], receiver.url(receiver.new_path()))
    link = links(smtp, address)[0]
    assert "reassign" not in httpx.get(link).text
    refused = httpx.post(link.split("?")[0] + "/reassign", data={"address": "x@example.com"})
    assert refused.status_code == 400
    assert len(api.state(created["id"])["recipients"]) == 1


def test_a_policy_request_without_a_notification_url_ends_without_a_callback(
    stack: Stack, api: ApiUser, smtp: SmtpSink, address: str
) -> None:
    ann, bob = people(address, 2)
    response = api.http.post(
        APPROVAL,
        json={
            "NotificationUrl": None,
            "Message": {"To": f"{ann};{bob}"},
            "Policy": {"Type": "Collect"},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert answer(links(smtp, ann)[0]).status_code == 200
    assert answer(links(smtp, bob)[1]).status_code == 200
    state = api.state(created["id"])
    assert (state["status"], state["outcome"], state["delivery"]) == (
        "completed",
        "undecided",
        None,
    )
    assert len(state["answers"]) == 2
    assert rows(stack, created["id"]) == (2, 0)
