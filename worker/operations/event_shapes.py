"""Events between Graph's resource and the connector's two shapes, field by field.

``GraphCalendarEventClient`` (flat: semicolon-separated attendees, a recurrence named
``daily``..``yearly``) for the current operations, ``CalendarEventBackend`` (PascalCase,
nested) for the deprecated ones. Times leave Graph as ``dateTimeTimeZone`` values and reach the
caller in the zone it asked for (:class:`approvals.operations.timezones.TimeZone`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from approvals.operations.timezones import (
    TimeZone,
    from_graph,
    graph_local,
    read_local,
    resolve,
    with_offset,
)

SIMPLE_RECURRENCE = {
    "daily": "daily",
    "weekly": "weekly",
    "absoluteMonthly": "monthly",
    "relativeMonthly": "monthly",
    "absoluteYearly": "yearly",
    "relativeYearly": "yearly",
}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ATTENDEE_FIELDS = {
    "required": "requiredAttendees",
    "optional": "optionalAttendees",
    "resource": "resourceAttendees",
}


def graph_moment(text: str, zone: TimeZone) -> dict[str, str]:
    """A caller's date and time (wall clock in ``zone``, or with an offset) as Graph's
    ``dateTimeTimeZone`` in ``zone``."""
    return {"dateTime": graph_local(read_local(text, zone), zone), "timeZone": zone.windows}


def _address(recipient: dict[str, Any] | None) -> dict[str, Any]:
    return (recipient or {}).get("emailAddress") or {}


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace(",", ";").split(";") if part.strip()]


def _upper_first(value: Any) -> Any:
    return value[:1].upper() + value[1:] if isinstance(value, str) and value else value


def _lower_first(value: Any) -> Any:
    return value[:1].lower() + value[1:] if isinstance(value, str) and value else value


# -- the current shape ----------------------------------------------------------------------


def attendees_v4(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Graph's attendees from the three semicolon-separated lists."""
    return [
        {"type": kind, "emailAddress": {"address": address}}
        for kind, name in ATTENDEE_FIELDS.items()
        for address in _split(item.get(name))
    ]


def recurrence_v4(item: dict[str, Any], start: datetime, zone: TimeZone) -> dict[str, Any] | None:
    """Graph's patternedRecurrence for the connector's ``recurrence`` and its companions,
    the series starting on ``start``'s day in ``zone``."""
    kind = item.get("recurrence") or "none"
    if kind == "none":
        return None
    local = start.astimezone(zone.zone)
    pattern: dict[str, Any] = {"interval": 1}
    if kind == "daily":
        pattern["type"] = "daily"
    elif kind == "weekly":
        days = item.get("selectedDaysOfWeek") or [DAYS[local.weekday()]]
        pattern.update(type="weekly", daysOfWeek=[d.lower() for d in days])
        pattern["firstDayOfWeek"] = "sunday"
    elif kind == "monthly":
        pattern.update(type="absoluteMonthly", dayOfMonth=local.day)
    else:
        pattern.update(type="absoluteYearly", dayOfMonth=local.day, month=local.month)
    span: dict[str, Any] = {
        "type": "noEnd",
        "startDate": local.date().isoformat(),
        "recurrenceTimeZone": zone.windows,
    }
    if item.get("recurrenceEnd"):
        span.update(type="endDate", endDate=str(item["recurrenceEnd"]))
    elif item.get("numberOfOccurences"):
        span.update(type="numbered", numberOfOccurrences=int(item["numberOfOccurences"]))
    return {"pattern": pattern, "range": span}


PLAIN_V4 = (
    "subject",
    "categories",
    "importance",
    "isAllDay",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "showAs",
    "responseRequested",
    "sensitivity",
)


def event_from_v4(item: dict[str, Any]) -> dict[str, Any]:
    """Graph's event for the fields of ``GraphCalendarEventClient`` that ``item`` gives
    (attendees and recurrence are the caller's to complete: they need more than the item)."""
    zone = resolve(item.get("timeZone"))
    event: dict[str, Any] = {key: item[key] for key in PLAIN_V4 if key in item}
    for key in ("start", "end"):
        if key in item:
            event[key] = graph_moment(item[key], zone)
    if "body" in item:
        event["body"] = {"contentType": "HTML", "content": item["body"]}
    if "location" in item:
        event["location"] = {"displayName": item["location"]}
    return event


def _attendee_list(event: dict[str, Any], kind: str) -> str:
    return ";".join(
        _address(a).get("address", "")
        for a in event.get("attendees") or ()
        if str(a.get("type", "required")).lower() == kind
    )


def event_v3(event: dict[str, Any], zone: TimeZone) -> dict[str, Any]:
    """``GraphCalendarEventClientReceive`` from Graph's event, times in ``zone``."""
    start, end = from_graph(event.get("start")), from_graph(event.get("end"))
    body = event.get("body") or {}
    status = event.get("responseStatus") or {}
    recurrence = event.get("recurrence") or {}
    pattern, span = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    return {
        "subject": event.get("subject"),
        "start": graph_local(start, zone) if start else None,
        "end": graph_local(end, zone) if end else None,
        "startWithTimeZone": with_offset(start, zone) if start else None,
        "endWithTimeZone": with_offset(end, zone) if end else None,
        "body": body.get("content"),
        "isHtml": str(body.get("contentType", "")).lower() == "html",
        "responseType": status.get("response"),
        "responseTime": status.get("time"),
        "id": event.get("id"),
        "createdDateTime": event.get("createdDateTime"),
        "lastModifiedDateTime": event.get("lastModifiedDateTime"),
        "organizer": _address(event.get("organizer")).get("address"),
        "timeZone": zone.name,
        "seriesMasterId": event.get("seriesMasterId"),
        "iCalUId": event.get("iCalUId"),
        "categories": event.get("categories") or [],
        "webLink": event.get("webLink"),
        **{name: _attendee_list(event, kind) for kind, name in ATTENDEE_FIELDS.items()},
        "location": (event.get("location") or {}).get("displayName"),
        "importance": event.get("importance"),
        "isAllDay": event.get("isAllDay"),
        "recurrence": SIMPLE_RECURRENCE.get(pattern.get("type"), "none"),
        "recurrenceEnd": span.get("endDate") if span.get("type") == "endDate" else None,
        "numberOfOccurences": (
            span.get("numberOfOccurrences") if span.get("type") == "numbered" else None
        ),
        "reminderMinutesBeforeStart": event.get("reminderMinutesBeforeStart"),
        "isReminderOn": event.get("isReminderOn"),
        "showAs": event.get("showAs"),
        "responseRequested": event.get("responseRequested"),
        "sensitivity": event.get("sensitivity"),
    }


# -- the deprecated shape -------------------------------------------------------------------


def _physical_v1(address: dict[str, Any] | None) -> dict[str, Any]:
    address = address or {}
    return {
        "Street": address.get("street"),
        "City": address.get("city"),
        "State": address.get("state"),
        "CountryOrRegion": address.get("countryOrRegion"),
        "PostalCode": address.get("postalCode"),
    }


def _email_v1(address: dict[str, Any]) -> dict[str, Any]:
    return {"Name": address.get("name"), "Address": address.get("address")}


def _status_v1(status: dict[str, Any] | None) -> dict[str, Any]:
    status = status or {}
    return {"Response": _upper_first(status.get("response")), "Time": status.get("time")}


def _recurrence_v1(recurrence: dict[str, Any] | None) -> dict[str, Any] | None:
    if not recurrence:
        return None
    pattern, span = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    return {
        "Pattern": {
            "Type": _upper_first(pattern.get("type")),
            "Interval": pattern.get("interval"),
            "Month": pattern.get("month"),
            "DayOfMonth": pattern.get("dayOfMonth"),
            "DaysOfWeek": [_upper_first(d) for d in pattern.get("daysOfWeek") or []],
            "FirstDayOfWeek": _upper_first(pattern.get("firstDayOfWeek")),
            "Index": _upper_first(pattern.get("index")),
        },
        "Range": {
            "Type": _upper_first(span.get("type")),
            "StartDate": span.get("startDate"),
            "EndDate": span.get("endDate"),
            "NumberOfOccurrences": span.get("numberOfOccurrences"),
        },
    }


def event_v1(event: dict[str, Any], zone: TimeZone) -> dict[str, Any]:
    """``CalendarEventBackend`` from Graph's event: Start and End in ``zone``, with offset."""
    start, end = from_graph(event.get("start")), from_graph(event.get("end"))
    body = event.get("body") or {}
    location = event.get("location") or {}
    return {
        "Id": event.get("id"),
        "Attendees": [
            {
                "Type": _upper_first(a.get("type")),
                "EmailAddress": _email_v1(_address(a)),
                "Status": _status_v1(a.get("status")),
            }
            for a in event.get("attendees") or ()
        ],
        "Body": {
            "ContentType": "HTML" if str(body.get("contentType", "")).lower() == "html" else "Text",
            "Content": body.get("content"),
        },
        "BodyPreview": event.get("bodyPreview"),
        "Categories": event.get("categories") or [],
        "ChangeKey": event.get("changeKey"),
        "DateTimeCreated": event.get("createdDateTime"),
        "DateTimeLastModified": event.get("lastModifiedDateTime"),
        "End": with_offset(end, zone) if end else None,
        "EndTimeZone": event.get("originalEndTimeZone"),
        "HasAttachments": event.get("hasAttachments"),
        "ICalUId": event.get("iCalUId"),
        "Importance": _upper_first(event.get("importance")),
        "IsAllDay": event.get("isAllDay"),
        "IsCancelled": event.get("isCancelled"),
        "IsOrganizer": event.get("isOrganizer"),
        "Location": {
            "DisplayName": location.get("displayName"),
            "Address": _physical_v1(location.get("address")),
        },
        "Organizer": {"EmailAddress": _email_v1(_address(event.get("organizer")))},
        "Recurrence": _recurrence_v1(event.get("recurrence")),
        "Reminder": event.get("reminderMinutesBeforeStart"),
        "ResponseRequested": event.get("responseRequested"),
        "ResponseStatus": _status_v1(event.get("responseStatus")),
        "SeriesMasterId": event.get("seriesMasterId"),
        "ShowAs": _upper_first(event.get("showAs")),
        "Start": with_offset(start, zone) if start else None,
        "StartTimeZone": event.get("originalStartTimeZone"),
        "Subject": event.get("subject"),
        "Type": _upper_first(event.get("type")),
        "WebLink": event.get("webLink"),
    }


def _physical_graph(address: dict[str, Any]) -> dict[str, Any]:
    names = ("Street", "City", "State", "CountryOrRegion", "PostalCode")
    return {_lower_first(key): address[key] for key in names if address.get(key) is not None}


def _recurrence_graph(value: dict[str, Any], zone: TimeZone) -> dict[str, Any]:
    pattern, span = value.get("Pattern") or {}, value.get("Range") or {}
    graph_pattern = {
        _lower_first(key): _lower_first(item) if isinstance(item, str) else item
        for key, item in pattern.items()
        if item is not None and key != "DaysOfWeek"
    }
    if pattern.get("DaysOfWeek"):
        graph_pattern["daysOfWeek"] = [d.lower() for d in pattern["DaysOfWeek"]]
    graph_range: dict[str, Any] = {"recurrenceTimeZone": zone.windows}
    if span.get("Type"):
        graph_range["type"] = _lower_first(span["Type"])
    for key in ("StartDate", "EndDate"):
        if span.get(key):
            graph_range[_lower_first(key)] = str(span[key])[:10]
    if span.get("NumberOfOccurrences") is not None:
        graph_range["numberOfOccurrences"] = span["NumberOfOccurrences"]
    return {"pattern": graph_pattern, "range": graph_range}


def event_from_v1(item: dict[str, Any]) -> dict[str, Any]:
    """Graph's event for the writable fields of ``CalendarEventBackend`` that ``item`` gives
    (read-only ones, Id or ChangeKey, are left out)."""
    event: dict[str, Any] = {}
    start_zone = resolve(item.get("StartTimeZone"))
    for key, zone_key in (("Start", "StartTimeZone"), ("End", "EndTimeZone")):
        if key in item:
            event[key.lower()] = graph_moment(item[key], resolve(item.get(zone_key)))
    if "Subject" in item:
        event["subject"] = item["Subject"]
    if "Body" in item:
        body = item["Body"]
        event["body"] = {
            "contentType": "HTML" if body.get("ContentType") == "HTML" else "Text",
            "content": body.get("Content") or "",
        }
    if "Location" in item:
        location = item["Location"]
        event["location"] = {"displayName": location.get("DisplayName") or ""}
        if location.get("Address"):
            event["location"]["address"] = _physical_graph(location["Address"])
    if "Attendees" in item:
        event["attendees"] = [
            {
                "type": (a.get("Type") or "Required").lower(),
                "emailAddress": {
                    "address": (a.get("EmailAddress") or {}).get("Address"),
                    **(
                        {"name": a["EmailAddress"]["Name"]}
                        if (a.get("EmailAddress") or {}).get("Name")
                        else {}
                    ),
                },
            }
            for a in item["Attendees"]
        ]
    for ours, theirs in (
        ("Categories", "categories"),
        ("IsAllDay", "isAllDay"),
        ("Reminder", "reminderMinutesBeforeStart"),
        ("ResponseRequested", "responseRequested"),
    ):
        if ours in item:
            event[theirs] = item[ours]
    for ours, theirs in (("Importance", "importance"), ("ShowAs", "showAs")):
        if ours in item:
            event[theirs] = _lower_first(item[ours])
    if "Recurrence" in item:
        event["recurrence"] = _recurrence_graph(item["Recurrence"], start_zone)
    return event
