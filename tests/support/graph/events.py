"""Outlook calendar on Graph v1.0: calendars, events, and calendarView with recurrences.

Times: an event's ``start``/``end`` are ``dateTimeTimeZone`` values (a wall-clock dateTime and a
timeZone, Windows or IANA name; https://learn.microsoft.com/graph/api/resources/
datetimetimezone). Responses give them in the zone asked with ``Prefer: outlook.timezone``, UTC
otherwise, and echo ``Preference-Applied`` (https://learn.microsoft.com/graph/api/
user-list-events). Recurrences follow patternedRecurrence
(https://learn.microsoft.com/graph/api/resources/patternedrecurrence): daily, weekly,
absoluteMonthly and absoluteYearly patterns; endDate, numbered and noEnd ranges.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.wrappers import Response

from .errors import GraphError, bad_request, item_not_found
from .mailbox import Mailbox, new_item_id, stamp
from .messages import collection, preference_headers, preview, read_body, select_of
from .odata import parse_datetime, select
from .routing import Call, Router, json_response

EVENT_TYPE = "microsoft.graph.event"
# Windows time zone names Graph accepts, mapped to IANA (CLDR's windowsZones table, territory
# 001); IANA names are accepted as they are.
WINDOWS_ZONES = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Russian Standard Time": "Europe/Moscow",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Atlantic Standard Time": "America/Halifax",
    "E. South America Standard Time": "America/Sao_Paulo",
    "India Standard Time": "Asia/Calcutta",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Singapore Standard Time": "Asia/Singapore",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MAX_OCCURRENCES = 2000

# The event resource's properties served here (https://learn.microsoft.com/graph/api/resources/
# event).
EVENT_PROPERTIES = {
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "transactionId",
    "originalStartTimeZone", "originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart",
    "isReminderOn", "hasAttachments", "subject", "bodyPreview", "importance", "sensitivity",
    "isAllDay", "isCancelled", "isOrganizer", "responseRequested", "seriesMasterId", "showAs",
    "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting", "onlineMeetingProvider",
    "allowNewTimeProposals", "recurrence", "responseStatus", "body", "start", "end", "location",
    "locations", "attendees", "organizer",
}  # fmt: skip

router = Router()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            "A valid TimeZone value must be specified. The following TimeZone value is not "
            f"supported: '{name}'.",
        ) from None


def read_moment(value: Any, name: str) -> tuple[datetime, str]:
    """A ``dateTimeTimeZone`` as a UTC instant, and the zone name it was given in."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise bad_request(f"The property '{name}' is required.", code="ErrorInvalidRequest")
    tz_name = str(value.get("timeZone") or "UTC")
    try:
        local = datetime.fromisoformat(_trim(str(value["dateTime"])))
    except ValueError:
        raise bad_request(f"The value of '{name}/dateTime' is not a valid date and time.") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone(tz_name))
    return local.astimezone(UTC), tz_name


def _trim(text: str) -> str:
    text = text.removesuffix("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    return text


def show_moment(moment: datetime, tz_name: str) -> dict[str, str]:
    local = moment.astimezone(zone(tz_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": tz_name}


def output_zone(call: Call) -> str:
    wanted = call.prefer.get("outlook.timezone")
    if wanted:
        try:
            zone(wanted)
        except GraphError:
            return "UTC"
        call.apply_preference(f'outlook.timezone="{wanted}"')
        return wanted
    return "UTC"


# -- building ----------------------------------------------------------------------------------


def build_event(mailbox: Mailbox, calendar_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    start, start_zone = read_moment(payload.get("start"), "start")
    end, end_zone = read_moment(payload.get("end"), "end")
    if end < start:
        raise bad_request("The end of the event is before its start.", code="ErrorInvalidRequest")
    body = read_body(payload.get("body"))
    moment = stamp()
    event: dict[str, Any] = {
        "id": new_item_id("AAMkAGEv"),
        "createdDateTime": moment,
        "lastModifiedDateTime": moment,
        "changeKey": new_item_id("ZlnW4R"),
        "categories": list(payload.get("categories") or []),
        "transactionId": payload.get("transactionId"),
        "originalStartTimeZone": start_zone,
        "originalEndTimeZone": end_zone,
        "iCalUId": "040000008200E00074C5B7101A82E008" + new_item_id("")[:32].encode().hex()[:32],
        "reminderMinutesBeforeStart": int(payload.get("reminderMinutesBeforeStart", 15)),
        "isReminderOn": bool(payload.get("isReminderOn", True)),
        "hasAttachments": False,
        "subject": str(payload.get("subject") or ""),
        "bodyPreview": preview(body),
        "importance": str(payload.get("importance") or "normal").lower(),
        "sensitivity": str(payload.get("sensitivity") or "normal"),
        "isAllDay": bool(payload.get("isAllDay", False)),
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": bool(payload.get("responseRequested", True)),
        "seriesMasterId": None,
        "showAs": str(payload.get("showAs") or "busy"),
        "type": "seriesMaster" if payload.get("recurrence") else "singleInstance",
        "webLink": "",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": bool(payload.get("isOnlineMeeting", False)),
        "onlineMeetingProvider": "unknown",
        "allowNewTimeProposals": True,
        "recurrence": read_recurrence(payload.get("recurrence"), start, start_zone),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": body,
        "location": _location(payload.get("location")),
        "locations": [_location(item) for item in payload.get("locations") or []],
        "attendees": [_attendee(item) for item in payload.get("attendees") or []],
        "organizer": mailbox.owner(),
        "_calendar": calendar_id,
        "_start": start,
        "_end": end,
    }
    if event["location"]["displayName"] and not event["locations"]:
        event["locations"] = [copy.deepcopy(event["location"])]
    return event


def _location(value: Any) -> dict[str, Any]:
    value = value or {}
    return {
        "displayName": str(value.get("displayName") or ""),
        "locationType": value.get("locationType", "default"),
        "uniqueIdType": "unknown",
        "address": value.get("address") or {},
        "coordinates": value.get("coordinates") or {},
    }


def _attendee(value: Any) -> dict[str, Any]:
    address = ((value or {}).get("emailAddress") or {}).get("address")
    if not isinstance(address, str) or "@" not in address:
        raise GraphError(400, "ErrorInvalidRecipients", "At least one attendee is not valid.")
    return {
        "type": value.get("type", "required"),
        "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": value["emailAddress"].get("name") or address, "address": address},
    }


def read_recurrence(value: Any, start: datetime, start_zone: str) -> dict[str, Any] | None:
    if not value:
        return None
    pattern = dict(value.get("pattern") or {})
    span = dict(value.get("range") or {})
    kind = pattern.get("type")
    if kind not in ("daily", "weekly", "absoluteMonthly", "absoluteYearly"):
        raise bad_request(f"The recurrence pattern type '{kind}' is not supported here.")
    interval = int(pattern.get("interval") or 1)
    if interval < 1:
        raise bad_request("The recurrence interval must be at least 1.")
    range_type = span.get("type", "noEnd")
    if range_type not in ("endDate", "noEnd", "numbered"):
        raise bad_request(f"The recurrence range type '{range_type}' is not valid.")
    tz_name = span.get("recurrenceTimeZone") or start_zone
    first = span.get("startDate") or start.astimezone(zone(tz_name)).date().isoformat()
    return {
        "pattern": {
            "type": kind,
            "interval": interval,
            "month": int(pattern.get("month") or 0),
            "dayOfMonth": int(pattern.get("dayOfMonth") or 0),
            "daysOfWeek": [d.lower() for d in pattern.get("daysOfWeek") or []],
            "firstDayOfWeek": str(pattern.get("firstDayOfWeek") or "sunday").lower(),
            "index": pattern.get("index", "first"),
        },
        "range": {
            "type": range_type,
            "startDate": first,
            "endDate": span.get("endDate") or "0001-01-01",
            "recurrenceTimeZone": tz_name,
            "numberOfOccurrences": int(span.get("numberOfOccurrences") or 0),
        },
    }


# -- recurrences -------------------------------------------------------------------------------


def occurrence_dates(recurrence: dict[str, Any], until: date) -> list[date]:
    """The local dates of a series, in order, stopping after ``until`` or the range's end."""
    pattern, span = recurrence["pattern"], recurrence["range"]
    first = date.fromisoformat(span["startDate"])
    last = date.fromisoformat(span["endDate"]) if span["type"] == "endDate" else date.max
    count = span["numberOfOccurrences"] if span["type"] == "numbered" else None
    stop = min(last, until)
    dates: list[date] = []

    def keep(day: date) -> bool:
        if day < first or day > stop or (count is not None and len(dates) >= count):
            return False
        dates.append(day)
        return True

    kind, interval = pattern["type"], pattern["interval"]
    if kind == "daily":
        day = first
        while day <= stop and len(dates) < MAX_OCCURRENCES and keep(day):
            day += timedelta(days=interval)
    elif kind == "weekly":
        wanted = sorted(DAYS.index(d) for d in pattern["daysOfWeek"] or [DAYS[first.weekday()]])
        week_start_day = DAYS.index(pattern["firstDayOfWeek"])
        week = first - timedelta(days=(first.weekday() - week_start_day) % 7)
        while week <= stop and len(dates) < MAX_OCCURRENCES:
            for offset in sorted((d - week_start_day) % 7 for d in wanted):
                day = week + timedelta(days=offset)
                if day >= first:
                    keep(day)
            if count is not None and len(dates) >= count:
                break
            week += timedelta(weeks=interval)
    else:
        year, month = first.year, first.month
        step = interval if kind == "absoluteMonthly" else 12 * interval
        if kind == "absoluteYearly":
            month = pattern["month"] or first.month
        while date(year, month, 1) <= stop and len(dates) < MAX_OCCURRENCES:
            try:
                day = date(year, month, pattern["dayOfMonth"] or first.day)
            except ValueError:
                day = None
            if day is not None and day >= first:
                keep(day)
            if count is not None and len(dates) >= count:
                break
            month += step
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return dates


def occurrence_id(master_id: str, day: date) -> str:
    raw = f"{master_id}|{day.isoformat()}".encode()
    return "AAMkAGOcc" + base64.b64encode(raw).decode()


def parse_occurrence_id(key: str) -> tuple[str, date] | None:
    if not key.startswith("AAMkAGOcc"):
        return None
    try:
        master, _, day = base64.b64decode(key[len("AAMkAGOcc") :]).decode().rpartition("|")
        return master, date.fromisoformat(day)
    except (ValueError, binascii.Error):
        return None


def occurrence(event: dict[str, Any], day: date) -> dict[str, Any]:
    tz = zone(event["recurrence"]["range"]["recurrenceTimeZone"])
    local_start = event["_start"].astimezone(tz)
    start = datetime.combine(day, local_start.time(), tz).astimezone(UTC)
    instance = {k: copy.deepcopy(v) for k, v in event.items() if k not in ("_start", "_end")}
    instance.update(
        id=occurrence_id(event["id"], day),
        type="occurrence",
        seriesMasterId=event["id"],
        recurrence=None,
        _start=start,
        _end=start + (event["_end"] - event["_start"]),
    )
    return instance


def expand(event: dict[str, Any], window_start: datetime, window_end: datetime) -> list[dict]:
    if event["recurrence"] is None:
        if event["_start"] < window_end and event["_end"] > window_start:
            return [event]
        if event["_start"] == event["_end"] and window_start <= event["_start"] < window_end:
            return [event]
        return []
    tz = zone(event["recurrence"]["range"]["recurrenceTimeZone"])
    until = window_end.astimezone(tz).date()
    instances = [occurrence(event, day) for day in occurrence_dates(event["recurrence"], until)]
    return [i for i in instances if i["_start"] < window_end and i["_end"] > window_start]


# -- shaping -----------------------------------------------------------------------------------


def public_event(call: Call, event: dict[str, Any], tz_name: str) -> dict[str, Any]:
    shown = {key: copy.deepcopy(value) for key, value in event.items() if key[0] != "_"}
    shown["start"] = show_moment(event["_start"], tz_name)
    shown["end"] = show_moment(event["_end"], tz_name)
    shown["webLink"] = f"https://outlook.office365.com/owa/?itemid={event['id']}&path=/calendar"
    return {"@odata.etag": f'W/"{event["changeKey"]}"', **shown}


def find_event(call: Call) -> dict[str, Any]:
    key = call.params["event"]
    if "calendar" in call.params:
        calendar_of(call)
    parsed = parse_occurrence_id(key)
    if parsed is not None:
        master = call.user.event(parsed[0])
        if master["recurrence"] and parsed[1] in occurrence_dates(master["recurrence"], parsed[1]):
            return occurrence(master, parsed[1])
        raise item_not_found()
    return call.user.event(key)


def calendar_of(call: Call) -> dict[str, Any]:
    key = call.params.get("calendar")
    if key is None:
        return call.user.default_calendar
    return call.user.calendar(key)


# -- calendars ---------------------------------------------------------------------------------


@router.route("GET", "users/{user}/calendars")
def list_calendars(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-calendars
    with call.user.lock:
        calendars = [copy.deepcopy(c) for c in call.user.calendars.values()]
    return collection(call, calendars, "microsoft.graph.calendar", default_order=None)


@router.route("POST", "users/{user}/calendars")
def create_calendar(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-post-calendars
    name = str(call.json().get("name") or "")
    if not name:
        raise bad_request("The calendar name is required.", code="ErrorInvalidRequest")
    with call.user.lock:
        if any(c["name"].lower() == name.lower() for c in call.user.calendars.values()):
            raise GraphError(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        calendar = copy.deepcopy(call.user.add_calendar(name))
    return json_response(calendar, 201)


@router.route("GET", "users/{user}/calendar")
def get_default_calendar(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/calendar-get
    with call.user.lock:
        calendar = copy.deepcopy(call.user.default_calendar)
    return json_response(select(calendar, select_of(call), "microsoft.graph.calendar"))


@router.route("GET", "users/{user}/calendars/{calendar}")
def get_calendar(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/calendar-get
    with call.user.lock:
        calendar = copy.deepcopy(call.user.calendar(call.params["calendar"]))
    return json_response(select(calendar, select_of(call), "microsoft.graph.calendar"))


@router.route("DELETE", "users/{user}/calendars/{calendar}")
def delete_calendar(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/calendar-delete
    with call.user.lock:
        calendar = call.user.calendar(call.params["calendar"])
        if calendar["isDefaultCalendar"]:
            raise GraphError(
                400, "ErrorCannotDeleteObject", "The default calendar cannot be deleted."
            )
        del call.user.calendars[calendar["id"]]
        for key in [k for k, e in call.user.events.items() if e["_calendar"] == calendar["id"]]:
            del call.user.events[key]
    return json_response(None, 204)


# -- events ------------------------------------------------------------------------------------


def event_routes(method: str, suffix: str = ""):  # type: ignore[no-untyped-def]
    """Register under ``/events``, ``/calendar/events`` and ``/calendars/{id}/events``.

    As the event pages list them, e.g. https://learn.microsoft.com/graph/api/event-get.
    """

    def register(handler):  # type: ignore[no-untyped-def]
        for prefix in (
            "users/{user}",
            "users/{user}/calendar",
            "users/{user}/calendars/{calendar}",
        ):
            router.add(method, f"{prefix}/events{suffix}", handler)
        return handler

    return register


@event_routes("GET")
def list_events(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-events: single instances and series
    # masters, not the occurrences (those come from calendarView).
    tz_name = output_zone(call)
    with call.user.lock:
        calendar = calendar_of(call)
        shown = [
            public_event(call, e, tz_name)
            for e in call.user.events.values()
            if e["_calendar"] == calendar["id"]
        ]
    return collection(call, shown, EVENT_TYPE, default_order=None, known=EVENT_PROPERTIES)


@event_routes("POST")
def create_event(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-post-events: 201 and the event
    payload = call.json()
    tz_name = output_zone(call)
    with call.user.lock:
        calendar = calendar_of(call)
        event = build_event(call.user, calendar["id"], payload)
        call.user.events[event["id"]] = event
        call.user.record("events", calendar["id"], event["id"], removed=False)
        shown = public_event(call, event, tz_name)
    return json_response(shown, 201, headers=preference_headers(call))


@event_routes("GET", "/{event}")
def get_event(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/event-get
    tz_name = output_zone(call)
    with call.user.lock:
        shown = public_event(call, find_event(call), tz_name)
    return json_response(
        select(shown, select_of(call), EVENT_TYPE), headers=preference_headers(call)
    )


WRITABLE_EVENT = {
    "subject",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "attendees",
    "categories",
    "importance",
    "sensitivity",
    "showAs",
    "isAllDay",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "recurrence",
    "isOnlineMeeting",
}


@event_routes("PATCH", "/{event}")
def update_event(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/event-update
    changes = call.json()
    unknown = set(changes) - WRITABLE_EVENT
    if unknown:
        raise bad_request(
            f"The property '{sorted(unknown)[0]}' does not exist on type '{EVENT_TYPE}' or "
            "cannot be set.",
            code="ErrorInvalidProperty",
        )
    tz_name = output_zone(call)
    with call.user.lock:
        event = find_event(call)
        if event["type"] == "occurrence":
            raise bad_request("Updating one occurrence is not supported by this stand-in.")
        merged = {
            "start": show_moment(event["_start"], event["originalStartTimeZone"]),
            "end": show_moment(event["_end"], event["originalEndTimeZone"]),
        }
        merged.update(changes)
        start, start_zone = read_moment(merged["start"], "start")
        end, end_zone = read_moment(merged["end"], "end")
        if end < start:
            raise bad_request("The end of the event is before its start.")
        for key, value in changes.items():
            if key == "body":
                event["body"] = read_body(value)
                event["bodyPreview"] = preview(event["body"])
            elif key == "recurrence":
                event["recurrence"] = read_recurrence(value, start, start_zone)
                event["type"] = "seriesMaster" if event["recurrence"] else "singleInstance"
            elif key == "attendees":
                event["attendees"] = [_attendee(item) for item in value or []]
            elif key == "location":
                event["location"] = _location(value)
            elif key not in ("start", "end"):
                event[key] = copy.deepcopy(value)
        event.update(
            _start=start,
            _end=end,
            originalStartTimeZone=start_zone,
            originalEndTimeZone=end_zone,
            lastModifiedDateTime=stamp(),
            changeKey=new_item_id("ZlnW4R"),
        )
        call.user.record("events", event["_calendar"], event["id"], removed=False)
        shown = public_event(call, event, tz_name)
    return json_response(shown, headers=preference_headers(call))


@event_routes("DELETE", "/{event}")
def delete_event(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/event-delete
    with call.user.lock:
        event = find_event(call)
        if event["type"] == "occurrence":
            raise bad_request("Deleting one occurrence is not supported by this stand-in.")
        del call.user.events[event["id"]]
        call.user.record("events", event["_calendar"], event["id"], removed=True)
    return json_response(None, 204)


# -- calendarView ------------------------------------------------------------------------------


def calendar_view(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-calendarview: startDateTime and
    # endDateTime are required, read with their own offset (UTC without one), and not affected
    # by Prefer: outlook.timezone; occurrences of series are expanded.
    args = {name.lower(): value for name, value in call.args.items()}
    if not args.get("startdatetime") or not args.get("enddatetime"):
        raise bad_request(
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
            code="ErrorInvalidParameter",
        )
    window_start = parse_datetime(args["startdatetime"])
    window_end = parse_datetime(args["enddatetime"])
    tz_name = output_zone(call)
    with call.user.lock:
        calendar = calendar_of(call)
        instances = []
        for event in call.user.events.values():
            if event["_calendar"] == calendar["id"]:
                instances.extend(expand(event, window_start, window_end))
        instances.sort(key=lambda item: item["_start"])
        shown = [public_event(call, item, tz_name) for item in instances]
    return collection(call, shown, EVENT_TYPE, default_order=None, known=EVENT_PROPERTIES)


for _prefix in ("users/{user}", "users/{user}/calendar", "users/{user}/calendars/{calendar}"):
    router.add("GET", f"{_prefix}/calendarView", calendar_view)


# -- calendarView delta ------------------------------------------------------------------------

# The "since" of a first round's pages (a delta token taken at sequence 0 is a later round).
INITIAL = -1


def calendar_view_delta(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/event-delta and
    # https://learn.microsoft.com/graph/delta-query-events: the first request names the window
    # (startDateTime, endDateTime); its pages are joined by @odata.nextLink ($skiptoken) and
    # the last carries @odata.deltaLink ($deltatoken). State tokens encode the window, so later
    # requests carry only the token. A later round returns the events of the view that changed
    # since, in full, and those deleted or no longer in the view as {"id", "@removed"}. Pages
    # are sized with Prefer: odata.maxpagesize.
    args = {name.lower(): value for name, value in call.args.items()}
    tz_name = output_zone(call)
    with call.user.lock:
        calendar = calendar_of(call)
        if "$skiptoken" in args or "$deltatoken" in args:
            state = _read_state(args.get("$skiptoken") or args["$deltatoken"])
            if state["gen"] != call.standin.sync_generation:
                raise GraphError(
                    410, "SyncStateNotFound", "The sync state generation is not found."
                )
            if "$deltatoken" in args:
                state.update(since=state["upto"], offset=0, upto=call.user.sequence())
        else:
            if not args.get("startdatetime") or not args.get("enddatetime"):
                raise bad_request(
                    "This request requires a time window specified by the query string "
                    "parameters StartDateTime and EndDateTime.",
                    code="ErrorInvalidParameter",
                )
            state = {
                "start": parse_datetime(args["startdatetime"]).isoformat(),
                "end": parse_datetime(args["enddatetime"]).isoformat(),
                "since": INITIAL,
                "offset": 0,
                "upto": call.user.sequence(),
                "gen": call.standin.sync_generation,
            }
        entries = _view_changes(call, calendar["id"], state, tz_name)
    size = _page_size(call)
    offset = state["offset"]
    body: dict[str, Any] = {
        "@odata.context": f"{call.standin.graph_url}/$metadata#Collection(event)",
        "value": entries[offset : offset + size],
    }
    if offset + size < len(entries):
        token = _state_token({**state, "offset": offset + size})
        body["@odata.nextLink"] = f"{call.url()}?$skiptoken={token}"
    else:
        body["@odata.deltaLink"] = f"{call.url()}?$deltatoken={_state_token(state)}"
    headers = {"Preference-Applied": ", ".join(call.applied)} if call.applied else {}
    return json_response(body, headers=headers)


def _view_changes(
    call: Call, calendar_id: str, state: dict[str, Any], tz_name: str
) -> list[dict[str, Any]]:
    window_start = datetime.fromisoformat(state["start"])
    window_end = datetime.fromisoformat(state["end"])
    since, upto = state["since"], state["upto"]
    touched: dict[str, bool] = {}
    for change in call.user.changes:
        if change.kind != "events" or change.container != calendar_id:
            continue
        if since == INITIAL and change.sequence <= upto:
            touched[change.item] = change.removed  # the view as it stood at ``upto``
        elif since != INITIAL and since < change.sequence <= upto:
            touched[change.item] = change.removed
    entries: list[dict[str, Any]] = []
    for event_id, removed in touched.items():
        event = call.user.events.get(event_id)
        instances = [] if removed or event is None else expand(event, window_start, window_end)
        if instances:
            entries.extend(public_event(call, item, tz_name) for item in instances)
        elif since != INITIAL:
            entries.append({"id": event_id, "@removed": {"reason": "deleted"}})
    return entries


def _page_size(call: Call) -> int:
    value = call.prefer.get("odata.maxpagesize", "")
    size = int(value) if value.isdigit() and int(value) > 0 else 10
    if value.isdigit():
        call.apply_preference(f"odata.maxpagesize={size}")
    return min(size, call.standin.page_cap or size)


def _state_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _read_state(token: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return {k: state[k] for k in ("start", "end", "since", "offset", "upto")} | {
            "gen": state.get("gen", 0)
        }
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise GraphError(
            410, "SyncStateNotFound", "The sync state generation is not found."
        ) from error


for _prefix in ("users/{user}", "users/{user}/calendar", "users/{user}/calendars/{calendar}"):
    router.add("GET", f"{_prefix}/calendarView/delta", calendar_view_delta)
