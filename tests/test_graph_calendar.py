"""The connector's calendar operations through their routes, against the Graph stand-in.

Each test calls the service as a Logic App would (the connector's path, parameters and body)
and checks the effect where a user would see it: the answer, and the events in the stand-in's
mailboxes. The route -> task -> Graph path runs on both backends in the first test; the others
check behaviour that does not depend on the backend, on the embedded default only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.api import ApiUser
from tests.support.graph.server import GraphStandIn
from tests.support.m365 import bound_key, tenant_with
from tests.support.stack import Stack

OWN = "planner@contoso.example"
SHARED = "rooms@contoso.example"
FOREIGN = "board@contoso.example"
CONNECTOR = json.loads(
    (
        Path(__file__).resolve().parent / "reference" / "office365-outlook-connector.swagger.json"
    ).read_text()
)["definitions"]


@pytest.fixture
def tenant(graph: GraphStandIn) -> GraphStandIn:
    return tenant_with(graph, (OWN, SHARED, FOREIGN))


@pytest.fixture
def m365(stack: Stack, tenant: GraphStandIn) -> Iterator[ApiUser]:
    """A key bound to OWN (its default) and SHARED, never to FOREIGN."""
    user = bound_key(stack, "calendar", [OWN, SHARED])
    yield user
    user.http.close()


@pytest.fixture
def embedded(stack: Stack) -> None:
    if stack.name != "embedded":
        pytest.skip("does not depend on the backend: run on the embedded default only")


def _id(value: str, times: int = 1) -> str:
    for _ in range(times):
        value = quote(value, safe="")
    return value


def _fields(definition: str) -> set[str]:
    return set(CONNECTOR[definition]["properties"])


def _events(tenant: GraphStandIn, address: str = OWN) -> list[dict[str, Any]]:
    box = tenant.mailbox(address)
    with box.lock:
        return [dict(event) for event in box.events.values()]


def _calendar(m365: ApiUser, **params: str) -> str:
    answer = m365.http.get("/codeless/v1.0/me/calendars", params=params)
    assert answer.status_code == 200, answer.text
    [calendar] = [c for c in answer.json()["value"] if c["name"] == "Calendar"]
    return calendar["id"]


def _create(m365: ApiUser, calendar: str, **item: Any) -> dict[str, Any]:
    body = {
        "subject": "x",
        "start": "2031-07-01T09:00:00",
        "end": "2031-07-01T10:00:00",
        "timeZone": "UTC",
        **item,
    }
    answer = m365.http.post(f"/datasets/calendars/v4/tables/{_id(calendar)}/items", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_event_is_booked_read_moved_and_cancelled(m365: ApiUser, tenant: GraphStandIn) -> None:
    listed = m365.http.get("/codeless/v1.0/me/calendars").json()["value"]
    assert [(c["name"], c["owner"]["address"]) for c in listed] == [("Calendar", OWN)]
    calendar = listed[0]["id"]
    items = f"/datasets/calendars/v4/tables/{_id(calendar, 2)}/items"  # as Logic Apps sends it
    booking = {
        "subject": "Design review",
        "start": "2031-07-01T09:00:00",
        "end": "2031-07-01T10:30:00",
        "timeZone": "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
        "requiredAttendees": "ann@fabrikam.example;bob@fabrikam.example",
        "optionalAttendees": "carl@fabrikam.example",
        "location": "Room 4",
        "body": "<p>agenda</p>",
        "importance": "high",
    }
    key = {"Idempotency-Key": f"book-{uuid.uuid4()}"}

    created = m365.http.post(items, json=booking, headers=key)
    again = m365.http.post(items, json=booking, headers=key)

    assert created.status_code == 200, created.text
    event = created.json()
    assert again.json()["id"] == event["id"]
    assert set(event) <= _fields("GraphCalendarEventClientReceive")
    # Berlin is UTC+2 in July; answers are in UTC unless another zone is asked for.
    assert (event["start"], event["end"]) == (
        "2031-07-01T07:00:00.0000000",
        "2031-07-01T08:30:00.0000000",
    )
    assert event["startWithTimeZone"] == "2031-07-01T07:00:00.0000000+00:00"
    assert event["timeZone"] == "UTC" and event["organizer"] == OWN
    assert event["requiredAttendees"] == "ann@fabrikam.example;bob@fabrikam.example"
    [kept] = _events(tenant)  # booked once, whatever the repeat
    assert kept["_start"] == datetime(2031, 7, 1, 7, 0, tzinfo=UTC)
    assert kept["_end"] == datetime(2031, 7, 1, 8, 30, tzinfo=UTC)
    assert kept["originalStartTimeZone"] == "W. Europe Standard Time"
    assert [(a["type"], a["emailAddress"]["address"]) for a in kept["attendees"]] == [
        ("required", "ann@fabrikam.example"),
        ("required", "bob@fabrikam.example"),
        ("optional", "carl@fabrikam.example"),
    ]

    path = f"/datasets/calendars/v3/tables/{_id(calendar)}/items/{_id(event['id'])}"
    in_new_york = m365.http.get(path, headers={"Prefer": 'outlook.timezone="America/New_York"'})
    assert in_new_york.status_code == 200, in_new_york.text
    assert in_new_york.json()["start"] == "2031-07-01T03:00:00.0000000"
    assert in_new_york.json()["startWithTimeZone"] == "2031-07-01T03:00:00.0000000-04:00"
    assert in_new_york.json()["timeZone"] == "America/New_York"
    # Graph was asked for that zone, by its Windows name.
    reads = [r for r in tenant.requests() if r.method == "GET" and "/events/" in r.path]
    assert 'outlook.timezone="Eastern Standard Time"' in reads[-1].headers.get("prefer", "")

    patch = f"/datasets/calendars/v4/tables/{_id(calendar)}/items/{_id(event['id'], 2)}"
    moved = m365.http.patch(
        patch,
        json={
            "start": "2031-07-02T14:00:00",
            "end": "2031-07-02T15:00:00",
            "timeZone": "Europe/Berlin",
        },
    )
    assert moved.status_code == 200, moved.text
    renamed = m365.http.patch(patch, json={"subject": "Design review (moved)"})
    assert renamed.status_code == 200, renamed.text
    invited = m365.http.patch(patch, json={"requiredAttendees": "dora@fabrikam.example"})
    assert invited.status_code == 200, invited.text
    [after] = _events(tenant)
    assert after["subject"] == "Design review (moved)"
    assert (after["_start"], after["_end"]) == (
        datetime(2031, 7, 2, 12, 0, tzinfo=UTC),
        datetime(2031, 7, 2, 13, 0, tzinfo=UTC),
    )
    unchanged = ("body", "location", "importance", "categories", "isAllDay", "showAs")
    assert {k: after[k] for k in unchanged} == {k: kept[k] for k in unchanged}
    assert [(a["type"], a["emailAddress"]["address"]) for a in after["attendees"]] == [
        ("required", "dora@fabrikam.example"),
        ("optional", "carl@fabrikam.example"),  # the optional list was not given: kept
    ]

    gone = f"/codeless/v1.0/me/calendars/{_id(calendar, 2)}/events/{_id(event['id'], 2)}"
    deleted = m365.http.delete(gone)
    assert deleted.status_code == 204, deleted.text
    assert _events(tenant) == []
    again_deleted = m365.http.delete(gone)
    assert again_deleted.status_code == 404
    assert again_deleted.json()["error"]["code"] == "ErrorItemNotFound"


def test_calendars_are_listed_by_name_with_skip_and_top(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    box = tenant.mailbox(OWN)
    with box.lock:
        for name in ("Holidays", "Birthdays", "Team"):
            box.add_calendar(name)
    calendars = "/codeless/v1.0/me/calendars"

    every = m365.http.get(calendars)
    middle = m365.http.get(calendars, params={"skip": "1", "top": "2"})
    old = m365.http.get("/datasets/calendars/tables")

    names = ["Birthdays", "Calendar", "Holidays", "Team"]
    assert [c["name"] for c in every.json()["value"]] == names
    assert [c["name"] for c in middle.json()["value"]] == names[1:3]
    assert {t["DisplayName"]: t["Name"] for t in old.json()["value"]} == {
        c["name"]: c["id"] for c in every.json()["value"]
    }


def test_the_deprecated_operations_keep_their_own_shape(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tables = m365.http.get("/datasets/calendars/tables")
    assert tables.status_code == 200, tables.text
    [table] = tables.json()["value"]
    assert table["DisplayName"] == "Calendar"
    items = f"/datasets/calendars/tables/{_id(table['Name'], 2)}/items"
    event = {
        "Subject": "Quarterly planning",
        "Start": "2031-03-10T09:00:00",
        "StartTimeZone": "Eastern Standard Time",
        "End": "2031-03-10T11:00:00",
        "EndTimeZone": "Eastern Standard Time",
        "Body": {"ContentType": "HTML", "Content": "<b>bring numbers</b>"},
        "Location": {"DisplayName": "Boardroom"},
        "Attendees": [{"Type": "Optional", "EmailAddress": {"Address": "eve@fabrikam.example"}}],
        "Importance": "Low",
        "ShowAs": "Tentative",
        "Reminder": 30,
    }

    created = m365.http.post(items, json=event)

    assert created.status_code == 200, created.text
    old = created.json()
    assert set(old) <= _fields("CalendarEventBackend")
    assert old["Start"] == "2031-03-10T13:00:00.0000000+00:00"  # 09:00 EDT (UTC-4 from March 9)
    assert old["StartTimeZone"] == "Eastern Standard Time"
    assert (old["Importance"], old["ShowAs"], old["Type"]) == ("Low", "Tentative", "SingleInstance")
    assert old["Attendees"][0]["Type"] == "Optional"
    assert old["Attendees"][0]["EmailAddress"]["Address"] == "eve@fabrikam.example"
    assert old["Location"]["DisplayName"] == "Boardroom" and old["Reminder"] == 30
    [kept] = _events(tenant)
    assert kept["_start"] == datetime(2031, 3, 10, 13, 0, tzinfo=UTC)
    assert kept["showAs"] == "tentative" and kept["reminderMinutesBeforeStart"] == 30

    one = f"{items}/{_id(old['Id'], 2)}"
    read = m365.http.get(one, headers={"Prefer": 'outlook.timezone="Tokyo Standard Time"'})
    assert read.status_code == 200 and read.json()["Start"] == "2031-03-10T22:00:00.0000000+09:00"
    listed = m365.http.get(items, params={"$top": "5", "$orderby": "start/dateTime"})
    assert [e["Subject"] for e in listed.json()["value"]] == ["Quarterly planning"]

    patched = m365.http.patch(one, json={"Subject": "Quarterly planning (Q2)"})
    assert patched.status_code == 200, patched.text
    [after] = _events(tenant)
    assert after["subject"] == "Quarterly planning (Q2)"
    assert (after["_start"], after["body"], after["location"]) == (
        kept["_start"],
        kept["body"],
        kept["location"],
    )

    assert m365.http.delete(one).status_code == 200
    assert _events(tenant) == []
    assert m365.http.delete(one).status_code == 404


def test_a_recurring_series_yields_its_occurrences_in_the_calendar_view(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    calendar = _calendar(m365)
    series = _create(
        m365,
        calendar,
        subject="Stand-up",
        start="2031-09-01T09:00:00",  # a Monday
        end="2031-09-01T09:15:00",
        timeZone="Pacific Standard Time",
        recurrence="weekly",
        selectedDaysOfWeek=["Monday", "Wednesday"],
        numberOfOccurences=6,
    )
    _create(m365, calendar, subject="Retro", start="2031-09-05T16:00:00", end="2031-09-05T17:00:00")
    _create(m365, calendar, subject="Later", start="2031-12-01T16:00:00", end="2031-12-01T17:00:00")
    _create(
        m365,
        calendar,
        subject="Offsite",
        start="2031-09-04T00:00:00",
        end="2031-09-05T00:00:00",
        isAllDay=True,
    )
    tenant.cap_page_size(2)  # Graph may answer short pages: the service follows nextLink
    view = "/datasets/calendars/v3/tables/items/calendarview"
    window = {
        "calendarId": calendar,
        "startDateTimeUtc": "2031-09-01T00:00:00",
        "endDateTimeUtc": "2031-09-09T00:00:00",
    }

    answer = m365.http.get(view, params=window)

    assert answer.status_code == 200, answer.text
    found = [(e["subject"], e["start"]) for e in answer.json()["value"]]
    # 09:00 in Los Angeles (PDT) is 16:00 UTC: Mon 1, Wed 3, Mon 8; the offsite all Thursday 4.
    assert found == [
        ("Stand-up", "2031-09-01T16:00:00.0000000"),
        ("Stand-up", "2031-09-03T16:00:00.0000000"),
        ("Offsite", "2031-09-04T00:00:00.0000000"),
        ("Retro", "2031-09-05T16:00:00.0000000"),
        ("Stand-up", "2031-09-08T16:00:00.0000000"),
    ]
    occurrences = [e for e in answer.json()["value"] if e["subject"] == "Stand-up"]
    assert {e["seriesMasterId"] for e in occurrences} == {series["id"]}
    assert all(e["recurrence"] is None for e in answer.json()["value"])
    assert [e["subject"] for e in answer.json()["value"] if e["isAllDay"]] == ["Offsite"]
    searched = m365.http.get(view, params={**window, "search": "retro"})
    assert [e["subject"] for e in searched.json()["value"]] == ["Retro"]
    first_two = m365.http.get(view, params={**window, "$top": "2"})
    assert [e["start"][:10] for e in first_two.json()["value"]] == ["2031-09-01", "2031-09-03"]

    listed = m365.http.get(f"/datasets/calendars/v4/tables/{_id(calendar)}/items")
    masters = {e["subject"]: e for e in listed.json()["value"]}
    # The series once, not its occurrences.
    assert set(masters) == {"Stand-up", "Retro", "Later", "Offsite"}
    assert masters["Stand-up"]["recurrence"] == "weekly"
    assert masters["Stand-up"]["numberOfOccurences"] == 6
    filtered = m365.http.get(
        f"/datasets/calendars/v4/tables/{_id(calendar)}/items",
        params={"$filter": "subject eq 'Later'", "$top": "1"},
    )
    assert [e["subject"] for e in filtered.json()["value"]] == ["Later"]


def _refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text


def test_bad_input_is_a_clear_4xx(embedded: None, m365: ApiUser, tenant: GraphStandIn) -> None:
    calendar = _calendar(m365)
    items = f"/datasets/calendars/v4/tables/{_id(calendar)}/items"
    event = {"subject": "x", "start": "2031-07-01T09:00:00", "end": "2031-07-01T10:00:00"}
    asked = len(tenant.requests())

    _refused(
        m365.http.post(items, json={**event, "end": "2031-07-01T08:00:00", "timeZone": "UTC"}),
        400,
        "invalid_time_range",
    )
    _refused(
        m365.http.post(items, json={**event, "timeZone": "Mars/Olympus"}), 400, "invalid_time_zone"
    )
    _refused(
        m365.http.get(items, headers={"Prefer": 'outlook.timezone="Nowhere Standard Time"'}),
        400,
        "invalid_time_zone",
    )
    _refused(m365.http.get(items, params={"$top": "257"}), 400, "invalid_value")
    _refused(m365.http.get(items, params={"$filter": "subject eq 'x"}), 400, "invalid_odata")
    _refused(m365.http.get(items, params={"$orderby": "start desc nulls"}), 400, "invalid_odata")
    _refused(
        m365.http.get("/codeless/v1.0/me/calendars", params={"mailboxAddress": FOREIGN}),
        403,
        "mailbox_not_allowed",
    )
    assert len(tenant.requests()) == asked  # none of these reached Graph

    backwards = {
        "calendarId": calendar,
        "startDateTimeUtc": "2031-09-09T00:00:00",
        "endDateTimeUtc": "2031-09-01T00:00:00",
    }
    view = "/datasets/calendars/v3/tables/items/calendarview"
    _refused(m365.http.get(view, params=backwards), 400, "invalid_time_range")
    refused_by_graph = m365.http.get(items, params={"$filter": "nosuch eq 'x'"})
    _refused(refused_by_graph, 400, "invalid_odata")
    assert "nosuch" in refused_by_graph.json()["error"]["message"]  # Graph's own words
    unknown = f"/datasets/calendars/v4/tables/{_id('AAMkAGno/such+calendar=')}/items"
    _refused(m365.http.get(unknown), 404, "ErrorItemNotFound")
    _refused(m365.http.post(unknown, json={**event, "timeZone": "UTC"}), 404, "ErrorItemNotFound")
    assert _events(tenant) == []


def test_a_key_books_in_each_of_its_mailboxes(m365: ApiUser, tenant: GraphStandIn) -> None:
    calendar = _calendar(m365, mailboxAddress=SHARED)
    answer = m365.http.post(
        f"/datasets/calendars/v4/tables/{_id(calendar)}/items",
        params={"mailboxAddress": SHARED},
        json={
            "subject": "Room booking",
            "start": "2031-07-01T09:00:00",
            "end": "2031-07-01T10:00:00",
            "timeZone": "",
        },
    )

    assert answer.status_code == 200, answer.text
    assert [e["subject"] for e in _events(tenant, SHARED)] == ["Room booking"]
    assert _events(tenant, OWN) == []
    # Its calendar's id is not found in the key's default mailbox.
    elsewhere = m365.http.get(f"/datasets/calendars/v4/tables/{_id(calendar)}/items")
    assert elsewhere.status_code == 404
