"""The connector's calendar operations: one row each, deprecated ones and their successors.

Every row also takes ``mailboxAddress`` (a mailbox the key is bound to; its first by default)
and a ``Prefer: outlook.timezone="..."`` preference: answers give times in that zone, UTC
when none is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from approvals.errors import BadRequest
from approvals.operations.calendar_models import (
    CalendarEventBackend,
    CalendarEventBackendPatch,
    CalendarTables_V2,
    EntityListResponseCalendarEventBackend,
    EntityListResponseGraphCalendarEventClientReceive,
    GraphCalendarEventClient,
    GraphCalendarEventClientPatch,
    GraphCalendarEventClientReceive,
    GraphCalendarEventListClientReceive,
)
from approvals.operations.outlook_models import EntityListResponseTable
from approvals.operations.timezones import UnknownTimeZone, read_local, resolve
from approvals.web.operation_routes import (
    FILTER,
    MAILBOX_ADDRESS,
    MAX_LIST,
    ORDER_BY,
    SKIP,
    TOP,
    operation_route,
)
from approvals.web.route_types import Param, Route


def _known_zone(name: str) -> str:
    try:
        resolve(name)
    except UnknownTimeZone as exc:
        raise BadRequest(str(exc), code="invalid_time_zone", field="Prefer") from None
    return name


def _utc_moment(name: str) -> Callable[[str], str]:
    """A check reading a time in UTC (an offset, if given, is honoured) into Graph's form."""

    def check(text: str) -> str:
        try:
            moment = read_local(text, resolve("UTC")).astimezone(UTC)
        except (ValueError, OverflowError):
            raise BadRequest(
                f"{name} must be a date and time in UTC (2017-01-01T08:00:00)",
                code="invalid_value",
                field=name,
            ) from None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return check


PREFER_TIME_ZONE = Param(
    "Prefer",
    "header",
    {"type": "string"},
    'respond-async: answer 202 with Location at once instead of waiting; outlook.timezone="'
    "Pacific Standard Time\" (Windows, IANA or the connector's names): times in answers in that "
    "zone (default UTC).",
    required=False,
    preference="outlook.timezone",
    check=_known_zone,
)
TABLE = Param(
    "table",
    "path",
    {"type": "string"},
    "Select a calendar (its id).",
    encoding="double",
    graph_id=True,
)
EVENT_ID = Param(
    "id", "path", {"type": "string"}, "Select an event.", encoding="double", graph_id=True
)
TAG = "Calendar"


def _calendar_route(method: str, path: str, operation_id: str, summary: str, **row: Any) -> Route:
    """A calendar row: its tag, and times answered in the zone the caller prefers."""
    return operation_route(
        method, path, operation_id, summary, tag=TAG, prefer=PREFER_TIME_ZONE, **row
    )


EVENT_ROUTES = [
    _calendar_route(
        "GET",
        "/datasets/calendars/tables/{table}/items",
        "CalendarGetItems",
        "Get events (V1)",
        params=(TABLE, ORDER_BY, TOP, SKIP, MAILBOX_ADDRESS),
        answer=EntityListResponseCalendarEventBackend,
        deprecated=True,
    ),
    _calendar_route(
        "POST",
        "/datasets/calendars/tables/{table}/items",
        "CalendarPostItem",
        "Create event (V1)",
        params=(TABLE, MAILBOX_ADDRESS),
        body=CalendarEventBackend,
        body_name="item",
        answer=CalendarEventBackend,
        repeatable=False,
        deprecated=True,
    ),
    _calendar_route(
        "GET",
        "/datasets/calendars/tables/{table}/items/{id}",
        "CalendarGetItem",
        "Get event (V1)",
        params=(TABLE, EVENT_ID, MAILBOX_ADDRESS),
        answer=CalendarEventBackend,
        deprecated=True,
    ),
    _calendar_route(
        "DELETE",
        "/datasets/calendars/tables/{table}/items/{id}",
        "CalendarDeleteItem",
        "Delete event",
        params=(TABLE, EVENT_ID, MAILBOX_ADDRESS),
        deprecated=True,
    ),
    _calendar_route(
        "PATCH",
        "/datasets/calendars/tables/{table}/items/{id}",
        "CalendarPatchItem",
        "Update event (V1)",
        params=(TABLE, EVENT_ID, MAILBOX_ADDRESS),
        body=CalendarEventBackendPatch,
        body_name="item",
        answer=CalendarEventBackend,
        deprecated=True,
        description="Only the fields given change.",
    ),
    _calendar_route(
        "GET",
        "/datasets/calendars/v4/tables/{table}/items",
        "V4CalendarGetItems",
        "Get events (V4)",
        params=(TABLE, FILTER, ORDER_BY, TOP, SKIP, MAILBOX_ADDRESS),
        answer=GraphCalendarEventListClientReceive,
        description="Single events and series masters (occurrences: the calendar view).",
    ),
    _calendar_route(
        "POST",
        "/datasets/calendars/v4/tables/{table}/items",
        "V4CalendarPostItem",
        "Create event (V4)",
        params=(TABLE, MAILBOX_ADDRESS),
        body=GraphCalendarEventClient,
        body_name="item",
        answer=GraphCalendarEventClientReceive,
        repeatable=False,
    ),
    _calendar_route(
        "GET",
        "/datasets/calendars/v3/tables/items/calendarview",
        "GetEventsCalendarViewV3",
        "Get calendar view of events (V3)",
        params=(
            Param("calendarId", "query", {"type": "string"}, "Select a calendar (its id)."),
            Param(
                "startDateTimeUtc",
                "query",
                {"type": "string", "maxLength": 40},
                "Start time in UTC (example: '2017-01-01T08:00:00')",
                check=_utc_moment("startDateTimeUtc"),
            ),
            Param(
                "endDateTimeUtc",
                "query",
                {"type": "string", "maxLength": 40},
                "End time in UTC (example: '2017-02-01T08:00:00')",
                check=_utc_moment("endDateTimeUtc"),
            ),
            FILTER,
            ORDER_BY,
            TOP,
            SKIP,
            Param(
                "search",
                "query",
                {"type": "string", "maxLength": 1000},
                "Search text for matching event body and subject",
                required=False,
            ),
            MAILBOX_ADDRESS,
        ),
        answer=EntityListResponseGraphCalendarEventClientReceive,
        description="Every event in the window, occurrences of recurring series expanded "
        "(their recurrence is none).",
    ),
    _calendar_route(
        "GET",
        "/datasets/calendars/v3/tables/{table}/items/{id}",
        "V3CalendarGetItem",
        "Get event (V3)",
        params=(TABLE, EVENT_ID, MAILBOX_ADDRESS),
        answer=GraphCalendarEventClientReceive,
    ),
    _calendar_route(
        "PATCH",
        "/datasets/calendars/v4/tables/{table}/items/{id}",
        "V4CalendarPatchItem",
        "Update event (V4)",
        params=(TABLE, EVENT_ID, MAILBOX_ADDRESS),
        body=GraphCalendarEventClientPatch,
        body_name="item",
        answer=GraphCalendarEventClientReceive,
        description="Only the fields given change; start and end are read in timeZone "
        "(UTC when it is not given).",
    ),
    _calendar_route(
        "DELETE",
        "/codeless/v1.0/me/calendars/{calendar}/events/{event}",
        "CalendarDeleteItem_V2",
        "Delete event (V2)",
        params=(
            Param(
                "calendar",
                "path",
                {"type": "string"},
                "Select a calendar (its id).",
                encoding="double",
                graph_id=True,
            ),
            Param(
                "event",
                "path",
                {"type": "string"},
                "Select an event.",
                encoding="double",
                graph_id=True,
            ),
            MAILBOX_ADDRESS,
        ),
        status=204,
    ),
]


CALENDAR_ROUTES = [
    _calendar_route(
        "GET",
        "/datasets/calendars/tables",
        "CalendarGetTables",
        "Get calendars",
        params=(MAILBOX_ADDRESS,),
        answer=EntityListResponseTable,
        deprecated=True,
    ),
    _calendar_route(
        "GET",
        "/codeless/v1.0/me/calendars",
        "CalendarGetTables_V2",
        "Get calendars (V2)",
        params=(
            Param(
                "skip",
                "query",
                {"type": "integer", "format": "int32", "default": 0, "minimum": 0},
                "Number of calendars to skip.",
                required=False,
            ),
            Param(
                "top",
                "query",
                {
                    "type": "integer",
                    "format": "int32",
                    "default": MAX_LIST,
                    "minimum": 1,
                    "maximum": MAX_LIST,
                },
                "Calendar page size.",
                required=False,
            ),
            Param(
                "orderBy",
                "query",
                {"type": "string", "default": "name", "maxLength": 1000},
                "Orders calendars.",
                required=False,
                check=ORDER_BY.check,
            ),
            MAILBOX_ADDRESS,
        ),
        answer=CalendarTables_V2,
    ),
    *EVENT_ROUTES,
]
