"""The calendar triggers polled as Logic Apps polls them, against the Graph stand-in.

Events are booked and moved through the service's own calendar operations (as a flow would),
and each trigger is polled by following ``Location``: an upcoming event fires once when its
start enters the look-ahead window and again when it is moved; a new or modified event comes
once per version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from approvals.mailboxes import set_mailboxes
from tests.support.api import ApiUser
from tests.support.graph.server import GraphStandIn
from tests.support.m365 import tenant_with
from tests.support.receiver import CallbackReceiver
from tests.support.stack import Stack, eventually, stop_polling

OWN = "calendar-owner@contoso.example"


@pytest.fixture
def tenant(graph: GraphStandIn) -> GraphStandIn:
    return tenant_with(graph, [OWN])


@pytest.fixture
def m365(stack: Stack, tenant: GraphStandIn) -> Iterator[ApiUser]:
    created, http = stack.new_client("calendar triggers")
    with stack.db.session() as session:
        set_mailboxes(session, created.id, [OWN])
    yield ApiUser(created.id, created.key, created.webhook_secret, http)
    http.close()
    stop_polling(stack, created.id)


@pytest.fixture
def calendar(m365: ApiUser) -> str:
    answer = m365.http.get("/codeless/v1.0/me/calendars")
    assert answer.status_code == 200, answer.text
    [found] = [c for c in answer.json()["value"] if c["name"] == "Calendar"]
    return found["id"]


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def book(m365: ApiUser, calendar: str, subject: str, starts_in: timedelta) -> dict[str, Any]:
    start = datetime.now(UTC) + starts_in
    body = {
        "subject": subject,
        "start": _utc(start),
        "end": _utc(start + timedelta(minutes=30)),
        "timeZone": "UTC",
    }
    answer = m365.http.post(
        f"/datasets/calendars/v4/tables/{quote(calendar, safe='')}/items", json=body
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def change(m365: ApiUser, calendar: str, event: dict[str, Any], **fields: Any) -> None:
    path = f"/datasets/calendars/v4/tables/{quote(calendar, safe='')}/items/"
    answer = m365.http.patch(path + quote(event["id"], safe=""), json=fields)
    assert answer.status_code == 200, answer.text


def move(m365: ApiUser, calendar: str, event: dict[str, Any], starts_in: timedelta) -> None:
    start = datetime.now(UTC) + starts_in
    change(
        m365,
        calendar,
        event,
        start=_utc(start),
        end=_utc(start + timedelta(minutes=30)),
        timeZone="UTC",
    )


class Trigger:
    """One trigger polled as an engine polls it: always at the last Location."""

    def __init__(self, http: httpx.Client, path: str, **params: str) -> None:
        self.http = http
        first = http.get(path, params=params)
        assert first.status_code == 202, first.text  # the first poll starts from now
        self.location = first.headers["Location"]

    def poll(self, field: str = "subject") -> list[str]:
        return sorted(item[field] for item in self.batch())

    def batch(self) -> list[dict[str, Any]]:
        answer = self.http.get(self.location)
        assert answer.status_code in (200, 202), answer.text
        self.location = answer.headers["Location"]
        return answer.json()["value"] if answer.status_code == 200 else []


def test_an_upcoming_event_fires_when_it_enters_the_window_and_again_when_moved(
    m365: ApiUser, calendar: str
) -> None:
    book(m365, calendar, "already close", timedelta(minutes=5))  # in the window at the start
    far = book(m365, calendar, "far", timedelta(hours=3))
    trigger = Trigger(
        m365.http, "/v3/Events/OnUpcomingEvents", table=calendar, lookAheadTimeInMinutes="15"
    )

    book(m365, calendar, "soon", timedelta(minutes=10))
    assert trigger.poll() == ["soon"]
    assert trigger.poll() == []  # nothing fires twice
    move(m365, calendar, far, timedelta(minutes=12))  # moved into the window
    assert trigger.poll() == ["far"]
    move(m365, calendar, far, timedelta(minutes=14))  # moved again: a new start
    assert trigger.poll() == ["far"]
    assert trigger.poll() == []


def test_new_and_modified_events_come_once_per_version(
    m365: ApiUser, calendar: str, stack: Stack
) -> None:
    table = quote(calendar, safe="")
    before = book(m365, calendar, "before", timedelta(days=2))
    new = Trigger(m365.http, f"/datasets/calendars/v3/tables/{table}/onnewitems")
    updated = Trigger(m365.http, f"/datasets/calendars/v3/tables/{table}/onupdateditems")
    old_new = Trigger(m365.http, f"/datasets/calendars/tables/{table}/onnewitems")

    book(m365, calendar, "booked", timedelta(days=3))
    assert new.poll() == ["booked"]
    assert old_new.poll("Subject") == ["booked"]  # the deprecated shape: CalendarEventBackend
    assert updated.poll() == ["booked"]  # a new event is a change too

    change(m365, calendar, before, subject="before, modified once")
    assert updated.poll() == ["before, modified once"]
    change(m365, calendar, before, subject="before, modified twice")
    assert updated.poll() == ["before, modified twice"]
    assert updated.poll() == []
    assert new.poll() == []  # modified, not new


def test_changed_items_say_what_was_added_updated_and_deleted(
    m365: ApiUser, calendar: str, tenant: GraphStandIn
) -> None:
    table = quote(calendar, safe="")
    doomed = book(m365, calendar, "to be cancelled", timedelta(days=5))
    trigger = Trigger(m365.http, f"/datasets/calendars/v3/tables/{table}/onchangeditems")

    added = book(m365, calendar, "added", timedelta(days=6))
    [first] = trigger.batch()
    assert (first["ActionType"], first["subject"], first["IsAdded"]) == ("added", "added", True)
    change(m365, calendar, added, subject="added, then changed")
    [second] = trigger.batch()
    assert (second["ActionType"], second["subject"]) == ("updated", "added, then changed")
    path = f"/codeless/v1.0/me/calendars/{table}/events/{quote(doomed['id'], safe='')}"
    assert m365.http.delete(path).status_code in (200, 204)
    [third] = trigger.batch()
    assert (third["ActionType"], third["id"]) == ("deleted", doomed["id"])
    assert trigger.batch() == []
    # Graph was asked for the view's changes, not for the calendar again.
    assert any("/calendarView/delta" in r.path for r in tenant.requests())


def test_a_push_subscription_to_new_events_calls_back_with_the_batch(
    m365: ApiUser, calendar: str, receiver: CallbackReceiver
) -> None:
    path = receiver.new_path()
    table = quote(calendar, safe="")
    answer = m365.http.post(
        f"/datasets/calendars/v3/tables/{table}/onnewitems/$subscriptions",
        json={"NotificationUrl": receiver.url(path)},
    )
    assert answer.status_code == 201, answer.text
    state_url = answer.headers["Location"]
    eventually(lambda: m365.http.get(state_url).json()["lastPollAt"])  # started

    book(m365, calendar, "pushed", timedelta(days=1))

    (callback,) = receiver.wait_for(path)
    payload = Webhook(m365.webhook_secret).verify(callback.body, callback.headers)
    assert [item["subject"] for item in payload["value"]] == ["pushed"]
    assert m365.http.get(state_url).json()["parameters"]["table"] == calendar


def test_new_events_come_top_at_a_time_in_orderby_order_never_lost_or_repeated(
    m365: ApiUser, calendar: str
) -> None:
    table = quote(calendar, safe="")
    path = f"/datasets/calendars/v3/tables/{table}/onnewitems"
    paged = Trigger(m365.http, path, **{"$top": "2", "$orderby": "subject desc"})
    skipping = Trigger(m365.http, path, **{"$skip": "1", "$top": "2"})
    booked = {f"event {n}" for n in range(5)}
    for subject in sorted(booked):
        book(m365, calendar, subject, timedelta(days=4))

    batches = [[item["subject"] for item in paged.batch()] for _ in range(4)]
    assert [len(b) for b in batches] == [2, 2, 1, 0]  # the rest waits for the next poll
    assert all(b == sorted(b, reverse=True) for b in batches)  # each batch in $orderby order
    delivered = [s for b in batches for s in b]
    assert sorted(delivered) == sorted(booked)  # every one, once

    # $skip passes over the oldest new ones of each poll: 5 new, 1 skipped, 2 taken, 2 left;
    # then 1 of those skipped and 1 taken.
    skipped = [[item["subject"] for item in skipping.batch()] for _ in range(3)]
    assert [len(b) for b in skipped] == [2, 1, 0]
    assert len(set(s for b in skipped for s in b)) == 3


def test_a_bad_orderby_on_a_trigger_is_400_with_graphs_words(m365: ApiUser, calendar: str) -> None:
    table = quote(calendar, safe="")
    answer = m365.http.get(
        f"/datasets/calendars/v3/tables/{table}/onnewitems", params={"$orderby": "subject sideways"}
    )
    assert answer.status_code == 400
    assert "Invalid $orderby clause" in answer.text


def test_when_graph_forgets_the_round_new_and_modified_events_still_come_once(
    m365: ApiUser, calendar: str, tenant: GraphStandIn
) -> None:
    """Graph drops old delta tokens (410 SyncStateNotFound): the trigger starts a new round and
    reports what was made or modified since its last poll, nothing from before again."""
    table = quote(calendar, safe="")
    untouched = book(m365, calendar, "untouched", timedelta(days=5))
    edited = book(m365, calendar, "edited", timedelta(days=5))
    trigger = Trigger(m365.http, f"/datasets/calendars/v3/tables/{table}/onchangeditems")
    reported = book(m365, calendar, "reported before", timedelta(days=6))
    assert [i["subject"] for i in trigger.batch()] == ["reported before"]

    change(m365, calendar, edited, subject="edited in the gap")
    book(m365, calendar, "made in the gap", timedelta(days=7))
    tenant.forget_sync_states()
    after = {i["subject"]: i["ActionType"] for i in trigger.batch()}
    assert after == {"made in the gap": "added", "edited in the gap": "updated"}
    assert trigger.batch() == []  # and the new round goes on from there
    change(m365, calendar, reported, subject="reported, then changed")
    assert [(i["subject"], i["ActionType"]) for i in trigger.batch()] == [
        ("reported, then changed", "updated")
    ]
    assert untouched["id"] not in {i["id"] for i in trigger.batch()}
