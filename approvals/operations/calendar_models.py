"""The connector's calendar shapes (its definitions, by the same names), for routes and documents.

Two families, as the connector has them: ``CalendarEventBackend`` (PascalCase, nested, the
deprecated operations' body and answer) and ``GraphCalendarEventClient`` /
``GraphCalendarEventClientReceive`` (flat, the current operations'). A PATCH body is the same
shape with every field optional (``...Patch``): only the fields given change.

Bodies are checked before anything reaches Graph: a time zone no one knows is 400
``invalid_time_zone``, an event that ends before it starts is 400 ``invalid_time_range``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from approvals.operations.outlook_models import MAX_TEXT, EmailAddress, PhysicalAddress
from approvals.operations.timezones import TimeZone, UnknownTimeZone, read_local, resolve

MAX_SUBJECT = 255 * 4
MAX_BODY = 1_000_000
MAX_ATTENDEES = 32_768
Day = Literal["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def checked_zone(value: str | None) -> str | None:
    """A time zone field: any name :func:`resolve` knows, else ``invalid_time_zone``."""
    if value is None:
        return None
    try:
        resolve(value)
    except UnknownTimeZone as exc:
        raise PydanticCustomError("invalid_time_zone", str(exc)) from None
    return value


def moment(value: str, zone: TimeZone, name: str) -> datetime:
    try:
        read = read_local(value, zone)
        read.astimezone(UTC)  # the first and last days of year 1 and 9999 have no UTC twin
        return read
    except (ValueError, OverflowError):
        raise PydanticCustomError(
            "datetime_parsing", f"{name} is not a date and time (2017-08-29T04:00:00)"
        ) from None


def ordered(start: datetime, end: datetime) -> None:
    if end < start:
        raise PydanticCustomError("invalid_time_range", "the event ends before it starts")


# -- the current operations: GraphCalendarEventClient -------------------------------------------


class GraphCalendarEventClientPatch(BaseModel):
    """V4CalendarPatchItem's body: ``GraphCalendarEventClient`` with every field optional."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, max_length=MAX_SUBJECT)
    start: str | None = Field(None, max_length=40, description="2017-08-29T04:00:00")
    end: str | None = Field(None, max_length=40, description="2017-08-29T05:00:00")
    timeZone: str | None = Field(
        None,
        max_length=100,
        description="The zone of start and end: a Windows name (Pacific Standard Time), an "
        "IANA name (America/Los_Angeles) or the connector's '(UTC-08:00) Pacific Time (US & "
        "Canada)'; empty means UTC.",
    )
    requiredAttendees: str | None = Field(None, max_length=MAX_ATTENDEES)
    optionalAttendees: str | None = Field(None, max_length=MAX_ATTENDEES)
    resourceAttendees: str | None = Field(None, max_length=MAX_ATTENDEES)
    body: str | None = Field(None, max_length=MAX_BODY)
    categories: list[str] | None = None
    location: str | None = Field(None, max_length=MAX_TEXT)
    importance: Literal["low", "normal", "high"] | None = None
    isAllDay: bool | None = None
    recurrence: Literal["none", "daily", "weekly", "monthly", "yearly"] | None = None
    selectedDaysOfWeek: list[Day] | None = None
    recurrenceEnd: date | None = None
    numberOfOccurences: int | None = Field(None, ge=1, le=999)
    reminderMinutesBeforeStart: int | None = Field(None, ge=0, le=525_600)
    isReminderOn: bool | None = None
    showAs: Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"] | None = None
    responseRequested: bool | None = None
    sensitivity: Literal["normal", "personal", "private", "confidential"] | None = None

    _zone = field_validator("timeZone")(classmethod(lambda cls, v: checked_zone(v)))

    @model_validator(mode="after")
    def _times(self) -> Any:
        zone = resolve(self.timeZone)
        start = moment(self.start, zone, "start") if self.start else None
        end = moment(self.end, zone, "end") if self.end else None
        if start is not None and end is not None:
            ordered(start, end)
        return self


class GraphCalendarEventClient(GraphCalendarEventClientPatch):
    """V4CalendarPostItem's body: an event in the connector's flat form."""

    subject: str = Field(max_length=MAX_SUBJECT)  # type: ignore[assignment]
    start: str = Field(max_length=40, description="2017-08-29T04:00:00")  # type: ignore[assignment]
    end: str = Field(max_length=40, description="2017-08-29T05:00:00")  # type: ignore[assignment]
    timeZone: str = Field(  # type: ignore[assignment]
        max_length=100,
        description="The zone of start and end: a Windows name (Pacific Standard Time), an "
        "IANA name (America/Los_Angeles) or the connector's '(UTC-08:00) Pacific Time (US & "
        "Canada)'; empty means UTC.",
    )


class GraphCalendarEventClientReceive(BaseModel):
    """An event as V3CalendarGetItem, V4CalendarGetItems and calendarView answer it: start and
    end in the answer's ``timeZone`` (UTC unless ``Prefer: outlook.timezone`` asked another)."""

    subject: str | None = None
    start: str | None = Field(None, description="2017-08-29T04:00:00.0000000")
    end: str | None = Field(None, description="2017-08-29T05:00:00.0000000")
    startWithTimeZone: str | None = Field(None, description="2017-08-29T04:00:00.0000000+00:00")
    endWithTimeZone: str | None = Field(None, description="2017-08-29T05:00:00.0000000+00:00")
    body: str | None = None
    isHtml: bool | None = None
    responseType: (
        Literal["none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"]
        | None
    ) = None
    responseTime: str | None = None
    id: str | None = None
    createdDateTime: str | None = None
    lastModifiedDateTime: str | None = None
    organizer: str | None = None
    timeZone: str | None = None
    seriesMasterId: str | None = None
    iCalUId: str | None = None
    categories: list[str] | None = None
    webLink: str | None = None
    requiredAttendees: str | None = None
    optionalAttendees: str | None = None
    resourceAttendees: str | None = None
    location: str | None = None
    importance: Literal["low", "normal", "high"] | None = None
    isAllDay: bool | None = None
    recurrence: Literal["none", "daily", "weekly", "monthly", "yearly"] | None = None
    recurrenceEnd: str | None = None
    numberOfOccurences: int | None = None
    reminderMinutesBeforeStart: int | None = None
    isReminderOn: bool | None = None
    showAs: Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"] | None = None
    responseRequested: bool | None = None
    sensitivity: Literal["normal", "personal", "private", "confidential"] | None = None


class GraphCalendarEventListClientReceive(BaseModel):
    """V4CalendarGetItems' answer."""

    value: list[GraphCalendarEventClientReceive]


class EntityListResponseGraphCalendarEventClientReceive(BaseModel):
    """``EntityListResponse[GraphCalendarEventClientReceive]``: GetEventsCalendarViewV3's."""

    value: list[GraphCalendarEventClientReceive]


class CalendarOwner(BaseModel):
    name: str | None = None
    address: str | None = None


class CalendarTable_V2(BaseModel):  # noqa: N801 - named like the connector's _V2 shapes
    id: str | None = Field(None, description="The id of the calendar; used at runtime.")
    name: str | None = None
    owner: CalendarOwner | None = None


class CalendarTables_V2(BaseModel):  # noqa: N801
    """CalendarGetTables_V2's answer (the connector defines it inline)."""

    value: list[CalendarTable_V2]


# -- the deprecated operations: CalendarEventBackend -------------------------------------------


class ItemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ContentType: Literal["Text", "HTML"] | None = None
    Content: str | None = Field(None, max_length=MAX_BODY)


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    DisplayName: str | None = Field(None, max_length=MAX_TEXT)
    Address: PhysicalAddress | None = None
    Coordinates: dict[str, Any] | None = None


class ResponseStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Response: (
        Literal["None", "Organizer", "TentativelyAccepted", "Accepted", "Declined", "NotResponded"]
        | None
    ) = None
    Time: str | None = None


# Fields named like their types (the connector's names) see the field, not the type, in
# their class's namespace: these names reach the types.
_EmailAddress = EmailAddress
_ResponseStatus = ResponseStatus


class Attendee(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Status: _ResponseStatus | None = None
    Type: Literal["Required", "Optional", "Resource"] | None = None
    EmailAddress: _EmailAddress | None = None


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    EmailAddress: _EmailAddress | None = None


class RecurrencePattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Type: (
        Literal[
            "Daily",
            "Weekly",
            "AbsoluteMonthly",
            "RelativeMonthly",
            "AbsoluteYearly",
            "RelativeYearly",
        ]
        | None
    ) = None
    Interval: int | None = Field(None, ge=1, le=999)
    Month: int | None = Field(None, ge=0, le=12)
    DayOfMonth: int | None = Field(None, ge=0, le=31)
    DaysOfWeek: list[Day] | None = None
    FirstDayOfWeek: Day | None = None
    Index: Literal["First", "Second", "Third", "Fourth", "Last"] | None = None


class RecurrenceRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Type: Literal["EndDate", "NoEnd", "Numbered"] | None = None
    StartDate: str | None = None
    EndDate: str | None = None
    NumberOfOccurrences: int | None = Field(None, ge=0, le=999)


class PatternedRecurrence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Pattern: RecurrencePattern | None = None
    Range: RecurrenceRange | None = None


_Location = Location


class CalendarEventBackendPatch(BaseModel):
    """CalendarPatchItem's body: ``CalendarEventBackend`` with every field optional. Read-only
    fields (Id, ChangeKey, ...) are taken, as the connector's callers send them, and ignored."""

    model_config = ConfigDict(extra="forbid")

    Id: str | None = None
    Attendees: list[Attendee] | None = None
    Body: ItemBody | None = None
    BodyPreview: str | None = None
    Categories: list[str] | None = None
    ChangeKey: str | None = None
    DateTimeCreated: str | None = None
    DateTimeLastModified: str | None = None
    End: str | None = Field(None, max_length=40)
    EndTimeZone: str | None = Field(None, max_length=100)
    HasAttachments: bool | None = None
    ICalUId: str | None = None
    Importance: Literal["Low", "Normal", "High"] | None = None
    IsAllDay: bool | None = None
    IsCancelled: bool | None = None
    IsOrganizer: bool | None = None
    Location: _Location | None = None
    Organizer: Recipient | None = None
    Recurrence: PatternedRecurrence | None = None
    Reminder: int | None = Field(None, ge=0, le=525_600)
    ResponseRequested: bool | None = None
    ResponseStatus: _ResponseStatus | None = None
    SeriesMasterId: str | None = None
    ShowAs: Literal["Free", "Tentative", "Busy", "Oof", "WorkingElsewhere", "Unknown"] | None = None
    Start: str | None = Field(None, max_length=40)
    StartTimeZone: str | None = Field(None, max_length=100)
    Subject: str | None = Field(None, max_length=MAX_SUBJECT)
    Type: Literal["SingleInstance", "Occurrence", "Exception", "SeriesMaster"] | None = None
    WebLink: str | None = None
    Reason: str | None = None

    _zones = field_validator("StartTimeZone", "EndTimeZone")(
        classmethod(lambda cls, v: checked_zone(v))
    )

    @model_validator(mode="after")
    def _times(self) -> Any:
        start = moment(self.Start, resolve(self.StartTimeZone), "Start") if self.Start else None
        end = moment(self.End, resolve(self.EndTimeZone), "End") if self.End else None
        if start is not None and end is not None:
            ordered(start, end)
        return self


class CalendarEventBackend(CalendarEventBackendPatch):
    """An event as the deprecated operations take and answer it: Start and End with their
    offset (in the answer's zone, UTC unless ``Prefer: outlook.timezone`` asked another)."""

    End: str = Field(max_length=40)  # type: ignore[assignment]
    Start: str = Field(max_length=40)  # type: ignore[assignment]
    Subject: str = Field(max_length=MAX_SUBJECT)  # type: ignore[assignment]


class EntityListResponseCalendarEventBackend(BaseModel):
    """``EntityListResponse[CalendarEventBackend]``: CalendarGetItems' answer."""

    value: list[CalendarEventBackend]


class GraphCalendarEventClientWithActionType(GraphCalendarEventClientReceive):
    """An event as CalendarGetOnChangedItemsV3 answers it: what happened to it since the last
    poll (a deleted event carries its id only)."""

    ActionType: Literal["added", "updated", "deleted"] | None = None
    IsAdded: bool | None = None
    IsUpdated: bool | None = None


class GraphCalendarEventListWithActionType(BaseModel):
    """CalendarGetOnChangedItemsV3's batch."""

    value: list[GraphCalendarEventClientWithActionType]
