"""The calendar triggers: new events, modified events, and events about to start.

New and modified events (``CalendarGetOnNewItems``, ``CalendarGetOnUpdatedItems`` and their V3
forms) use a high-water mark: a poll lists the calendar's events whose ``createdDateTime`` (or
``lastModifiedDateTime``) is at or after the mark less :data:`OVERLAP`, oldest first, and
returns those it has not seen. The cursor keeps the mark (the last poll's time) and a short
digest of every event (new events) or event version (modified ones: id and ``changeKey``,
which Exchange changes on every modification) it saw inside the overlap: an event stamped a
little late, or two in the same second, is neither skipped nor repeated, and a poll reads what
changed lately, not the whole calendar.

Upcoming events (``OnUpcomingEvents``, V3) read the calendar view from the last poll to now +
``lookAheadTimeInMinutes``: an occurrence fires once when its start enters that window (a
late poll still sees the ones that started since the last), and again if it is moved, for its
new start. The cursor keeps the digests of the occurrences fired that have not started yet.

Times are asked of Graph in UTC and answered in UTC, as the calendar operations do by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from approvals.operations.timezones import TimeZone, from_graph, resolve
from worker.graph.client import GraphClient, segment
from worker.operations import event_shapes
from worker.triggers.mail import Batch

# How far behind its mark a poll looks again: Exchange stamping an event late, clocks apart.
OVERLAP = timedelta(minutes=5)
PAGE = "50"
# At most this many events are listed per poll.
MOST = 10_000
UTC_ZONE = resolve(None)
CREATED, MODIFIED = "createdDateTime", "lastModifiedDateTime"
Shape = Callable[[dict[str, Any], TimeZone], dict[str, Any]]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _utc() -> dict[str, str]:
    return {"Prefer": f'outlook.timezone="{UTC_ZONE.windows}"'}


def changed_events(
    graph: GraphClient,
    mailbox: str,
    params: dict[str, Any],
    cursor: dict[str, Any],
    stamp_field: str,
    shape: Shape,
) -> Batch:
    """Events whose ``stamp_field`` moved since the cursor, each version once."""
    now = datetime.now(UTC)
    first = "mark" not in cursor
    mark = _instant(cursor["mark"] if not first else cursor["since"])
    seen = set(cursor.get("seen", []))
    condition = f"{stamp_field} ge {_stamp(mark - OVERLAP)}"
    if params.get("$filter"):
        condition = f"{condition} and ({params['$filter']})"
    found = graph.collect(
        mailbox,
        f"/calendars/{segment(params['table'])}/events",
        {"$filter": condition, "$orderby": f"{stamp_field} asc", "$top": PAGE},
        MOST,
        _utc(),
    )
    items, kept = [], []
    for event in found:
        when = _instant(event[stamp_field])
        # A creation happens once per event; a modification once per changeKey.
        changes = stamp_field != CREATED
        version = _digest(event["id"], str(event.get("changeKey") or "") if changes else "")
        if when >= now - OVERLAP:
            kept.append(version)
        if version in seen or (first and when <= mark):
            continue  # returned before, or there before the trigger started
        seen.add(version)
        items.append(shape(event, UTC_ZONE))
    return Batch(items, {"mark": now.isoformat(), "seen": kept})


def upcoming_events(
    graph: GraphClient,
    mailbox: str,
    params: dict[str, Any],
    cursor: dict[str, Any],
    shape: Shape,
) -> Batch:
    """Occurrences whose start entered the look-ahead window since the last poll."""
    now = datetime.now(UTC)
    first = "at" not in cursor
    watched_from = min(_instant(cursor["at"] if not first else cursor["since"]), now)
    horizon = now + timedelta(minutes=int(params.get("lookAheadTimeInMinutes") or 15))
    found = graph.collect(
        mailbox,
        f"/calendars/{segment(params['table'])}/calendarView",
        {"startDateTime": _stamp(watched_from), "endDateTime": _stamp(horizon), "$top": PAGE},
        MOST,
        _utc(),
    )
    fired = set(cursor.get("fired", []))
    items, kept = [], []
    for event in found:
        start = from_graph(event.get("start"))
        if start is None or not watched_from <= start <= horizon:
            continue  # under way before the window, or beyond it
        occurrence = _digest(event["id"], start.isoformat())
        if start >= now:
            kept.append(occurrence)  # the next window starts now: it may be listed again
        if occurrence in fired or first:
            continue  # fired already, or in the window before the trigger started
        fired.add(occurrence)
        items.append(shape(event, UTC_ZONE))
    return Batch(items, {"at": now.isoformat(), "fired": kept})


def _on_new(shape: Shape) -> Callable[..., Batch]:
    def poll(graph: GraphClient, mailbox: str, params: dict, cursor: dict) -> Batch:
        return changed_events(graph, mailbox, params, cursor, CREATED, shape)

    return poll


def _on_updated(shape: Shape) -> Callable[..., Batch]:
    def poll(graph: GraphClient, mailbox: str, params: dict, cursor: dict) -> Batch:
        return changed_events(graph, mailbox, params, cursor, MODIFIED, shape)

    return poll


def _upcoming(shape: Shape) -> Callable[..., Batch]:
    def poll(graph: GraphClient, mailbox: str, params: dict, cursor: dict) -> Batch:
        return upcoming_events(graph, mailbox, params, cursor, shape)

    return poll


# The deprecated operations answer CalendarEventBackend, the current ones
# GraphCalendarEventClientReceive (worker.operations.event_shapes).
on_new_items = _on_new(event_shapes.event_v1)
on_new_items_v3 = _on_new(event_shapes.event_v3)
on_updated_items = _on_updated(event_shapes.event_v1)
on_updated_items_v3 = _on_updated(event_shapes.event_v3)
on_upcoming_events = _upcoming(event_shapes.event_v1)
on_upcoming_events_v3 = _upcoming(event_shapes.event_v3)
