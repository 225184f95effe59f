"""The connector's calendar operations on Graph's calendars and events.

Handlers take the Graph client, the mailbox the route resolved and the parameters as the route
validated them (the connector's names; ``outlook.timezone`` from the caller's ``Prefer``), and
answer in the connector's definitions (:mod:`worker.operations.event_shapes`). Graph is asked
for times in the caller's zone (``Prefer: outlook.timezone``), UTC by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from approvals.operations.timezones import TimeZone, read_local, resolve
from worker.graph.client import GraphClient, segment
from worker.operations import event_shapes as shapes
from worker.operations.listing import collect, odata_query, wanted
from worker.operations.results import Result, empty_result, error_result, json_result

# With ``search`` the calendar view is read this far and searched here (Graph has no $search
# on calendarView).
MAX_SEARCHED = 1000


def _zone(params: dict[str, Any]) -> TimeZone:
    return resolve(params.get("outlook.timezone"))


def _prefer(zone: TimeZone) -> dict[str, str]:
    return {"Prefer": f'outlook.timezone="{zone.windows}"'}


def _events(table: str) -> str:
    return f"/calendars/{segment(table)}/events"


def _event(params: dict[str, Any], table: str = "table", event: str = "id") -> str:
    return f"{_events(params[table])}/{segment(params[event])}"


# -- calendars ------------------------------------------------------------------------------


def get_tables(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarGetTables (deprecated): every calendar, as ``Table`` (Name is the id)."""
    calendars = collect(graph, mailbox, "/calendars", {"$top": "256"}, 256)
    return json_result({"value": [{"Name": c["id"], "DisplayName": c["name"]} for c in calendars]})


def get_tables_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarGetTables_V2: calendars with their owner, skip/top/orderBy as given."""
    query = {
        "$top": str(params["top"]),
        "$skip": str(params["skip"]),
        "$orderby": params["orderBy"],
    }
    calendars = collect(graph, mailbox, "/calendars", query, params["top"])
    value = [
        {
            "id": c.get("id"),
            "name": c.get("name"),
            "owner": {
                "name": (c.get("owner") or {}).get("name"),
                "address": (c.get("owner") or {}).get("address"),
            },
        }
        for c in calendars
    ]
    return json_result({"value": value})


# -- events ---------------------------------------------------------------------------------


def _list(
    graph: GraphClient, mailbox: str, params: dict[str, Any], shape: Callable[..., dict]
) -> Result:
    zone = _zone(params)
    found = collect(
        graph, mailbox, _events(params["table"]), odata_query(params), wanted(params), _prefer(zone)
    )
    return json_result({"value": [shape(event, zone) for event in found]})


def get_items(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarGetItems (deprecated): events as ``CalendarEventBackend``."""
    return _list(graph, mailbox, params, shapes.event_v1)


def get_items_v4(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """V4CalendarGetItems: single events and series masters, filtered and ordered by Graph."""
    return _list(graph, mailbox, params, shapes.event_v3)


def _read(graph: GraphClient, mailbox: str, path: str, zone: TimeZone) -> dict[str, Any]:
    return graph.request("GET", mailbox, path, headers=_prefer(zone)).json()


def get_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarGetItem (deprecated)."""
    zone = _zone(params)
    return json_result(shapes.event_v1(_read(graph, mailbox, _event(params), zone), zone))


def get_item_v3(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """V3CalendarGetItem."""
    zone = _zone(params)
    return json_result(shapes.event_v3(_read(graph, mailbox, _event(params), zone), zone))


def _write(
    graph: GraphClient, mailbox: str, method: str, path: str, event: dict, zone: TimeZone
) -> dict[str, Any]:
    return graph.request(method, mailbox, path, json=event, headers=_prefer(zone)).json()


def post_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarPostItem (deprecated): the event created, as ``CalendarEventBackend``."""
    zone = _zone(params)
    event = shapes.event_from_v1(params["item"])
    created = _write(graph, mailbox, "POST", _events(params["table"]), event, zone)
    return json_result(shapes.event_v1(created, zone))


def patch_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarPatchItem (deprecated): only the given fields change."""
    zone = _zone(params)
    event = shapes.event_from_v1(params["item"])
    updated = _write(graph, mailbox, "PATCH", _event(params), event, zone)
    return json_result(shapes.event_v1(updated, zone))


def post_item_v4(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """V4CalendarPostItem: the event created, as ``GraphCalendarEventClientReceive``."""
    item = params["item"]
    zone = _zone(params)
    event = shapes.event_from_v4(item)
    event["attendees"] = shapes.attendees_v4(item)
    item_zone = resolve(item.get("timeZone"))
    recurrence = shapes.recurrence_v4(item, read_local(item["start"], item_zone), item_zone)
    if recurrence is not None:
        event["recurrence"] = recurrence
    created = _write(graph, mailbox, "POST", _events(params["table"]), event, zone)
    return json_result(shapes.event_v3(created, zone))


RECURRENCE_FIELDS = ("recurrence", "selectedDaysOfWeek", "recurrenceEnd", "numberOfOccurences")


def patch_item_v4(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """V4CalendarPatchItem: only the given fields change. An attendee list given replaces
    attendees of its kind only; a recurrence field given is read with the event's others."""
    item = params["item"]
    zone = _zone(params)
    path = _event(params)
    event = shapes.event_from_v4(item)
    if any(name in item for name in (*shapes.ATTENDEE_FIELDS.values(), *RECURRENCE_FIELDS)):
        current = shapes.event_v3(_read(graph, mailbox, path, zone), zone)
        merged = {**current, **item}
        if any(name in item for name in shapes.ATTENDEE_FIELDS.values()):
            event["attendees"] = shapes.attendees_v4(merged)
        if any(name in item for name in RECURRENCE_FIELDS):
            # The series starts on the start given, else on the event's (read in ``zone``).
            start_zone = resolve(item.get("timeZone")) if "start" in item else zone
            start = read_local(merged["start"], start_zone)
            event["recurrence"] = shapes.recurrence_v4(merged, start, start_zone)
    updated = _write(graph, mailbox, "PATCH", path, event, zone)
    return json_result(shapes.event_v3(updated, zone))


def delete_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarDeleteItem (deprecated): 200; a second delete is 404."""
    graph.request("DELETE", mailbox, _event(params))
    return empty_result()


def delete_item_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """CalendarDeleteItem_V2: 204, as the connector answers it."""
    graph.request("DELETE", mailbox, _event(params, "calendar", "event"))
    return empty_result(204)


# -- calendar view --------------------------------------------------------------------------


def _matches(event: dict[str, Any], words: list[str]) -> bool:
    text = " ".join(
        [str(event.get("subject") or ""), str((event.get("body") or {}).get("content") or "")]
    ).lower()
    return all(word in text for word in words)


def calendar_view_v3(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """GetEventsCalendarViewV3: every event in the window, recurring series expanded into
    their occurrences; ``search`` matches subject and body, every word."""
    start, end = params["startDateTimeUtc"], params["endDateTimeUtc"]
    if end < start:  # both in the same UTC form: the text order is the time order
        return error_result(400, "invalid_time_range", "endDateTimeUtc is before startDateTimeUtc")
    zone = _zone(params)
    path = f"/calendars/{segment(params['calendarId'])}/calendarView"
    words = [w.lower() for w in str(params.get("search") or "").split()]
    query = {"startDateTime": start, "endDateTime": end}
    if words:
        query.update(odata_query({k: v for k, v in params.items() if k != "$skip"}))
        query["$top"] = str(MAX_SEARCHED)
        searched = collect(graph, mailbox, path, query, MAX_SEARCHED, _prefer(zone))
        skip = int(params.get("$skip") or 0)
        found = [e for e in searched if _matches(e, words)][skip : skip + wanted(params)]
    else:
        query.update(odata_query(params))
        found = collect(graph, mailbox, path, query, wanted(params), _prefer(zone))
    value = [{**shapes.event_v3(event, zone), "recurrence": None} for event in found]
    return json_result({"value": value})
