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

Changed events (``CalendarGetOnChangedItemsV3``) follow Graph's delta query on the calendar
view from ``pastDays`` before the trigger's start to ``incomingDays`` after it
(https://learn.microsoft.com/graph/delta-query-events): its first round is the baseline, each
later round what was added, updated or deleted in the view, with ``ActionType``; the cursor is
the link Graph gave for the next round.

Times are asked of Graph in UTC and answered in UTC, as the calendar operations do by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from approvals.operations.timezones import TimeZone, from_graph, resolve
from worker.graph.client import GraphClient, GraphError, segment
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
    """Events whose ``stamp_field`` moved since the cursor, each version once.

    Of what is new, oldest first, a poll passes over ``$skip`` and returns at most ``$top``;
    the rest stay new for the next poll (the mark stops at the first of them). The batch is
    then put in ``$orderby`` order (Graph's property names, as the calendar operations take).
    """
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
    known: list[tuple[datetime, str]] = []  # returned before, or there before the start
    fresh: list[tuple[datetime, str, dict[str, Any]]] = []
    for event in found:
        when = _instant(event[stamp_field])
        # A creation happens once per event; a modification once per changeKey.
        changes = stamp_field != CREATED
        version = _digest(event["id"], str(event.get("changeKey") or "") if changes else "")
        if version in seen or (first and when <= mark):
            known.append((when, version))
        elif version not in {v for _, v, _ in fresh}:
            fresh.append((when, version, event))
    skip = int(params.get("$skip") or 0)
    top = int(params.get("$top") or 0) or len(fresh)
    known += [(when, version) for when, version, _ in fresh[:skip]]
    taken, left = fresh[skip : skip + top], fresh[skip + top :]
    known += [(when, version) for when, version, _ in taken]
    next_mark = left[0][0] if left else now
    events = order_by([event for _, _, event in taken], params.get("$orderby") or "")
    return Batch(
        [shape(event, UTC_ZONE) for event in events],
        {
            "mark": next_mark.isoformat(),
            "seen": [version for when, version in known if when >= next_mark - OVERLAP],
        },
    )


def order_by(events: list[dict[str, Any]], orderby: str) -> list[dict[str, Any]]:
    """``events`` sorted by an OData ``$orderby`` (``start/dateTime desc, subject``), as
    checked at intake; missing values last."""
    ordered = list(events)
    for part in reversed([p for p in orderby.split(",") if p.strip()]):
        words = part.split()
        path = words[0].split("/")
        descending = len(words) == 2 and words[1].lower() == "desc"
        present = [e for e in ordered if _at(e, path) is not None]
        missing = [e for e in ordered if _at(e, path) is None]
        present.sort(key=lambda e: _sortable(_at(e, path)), reverse=descending)
        ordered = present + missing
    return ordered


def _at(event: dict[str, Any], path: list[str]) -> Any:
    """The property at ``path``; OData names ignore case."""
    value: Any = event
    for name in path:
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if k.lower() == name.lower()), None)
    return value


def _sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


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


DELTA_PREFERENCE = "odata.maxpagesize=50"
# At most this many changes per batch; the rest come with the next poll, from the nextLink.
BATCH_LIMIT = 100


def changed_in_view(
    graph: GraphClient, mailbox: str, params: dict[str, Any], cursor: dict[str, Any]
) -> Batch:
    """What was added, updated or deleted in the calendar view since the cursor."""
    now = datetime.now(UTC)
    headers = {"Prefer": f"{_utc()['Prefer']}, {DELTA_PREFERENCE}"}
    link = cursor.get("link")
    if link is not None and not str(link).startswith(graph.api_url + "/"):
        raise GraphError(400, "invalid_cursor", "the trigger's state does not point at Graph")
    view = _View(
        now,
        {} if link is None else dict(cursor.get("recent", {})),
        {} if link is None else dict(cursor.get("versions", {})),
    )
    if link is None:
        return view.baseline(graph, mailbox, params, _instant(cursor["since"]), headers)
    try:
        return view.changes(graph, mailbox, str(link), _instant(cursor["at"]), headers)
    except GraphError as error:
        if error.status != 410:  # SyncStateNotFound: Graph forgot the round; start over
            raise
        # A new baseline: what was made since the last poll is added, what was modified since
        # updated; what was deleted meanwhile cannot be known any more.
        last = _instant(cursor["at"])
        return view.baseline(graph, mailbox, params, last, headers, reset=True)


class _View:
    """One poll of a calendar view's delta. An event a round lists is *added* when it was made
    after the last poll (less :data:`OVERLAP`) and not listed before; ``recent`` keeps the
    digests of the events made lately that were listed, so an event made and then changed is
    *updated* the second time, whatever the precision of Exchange's stamps."""

    def __init__(self, now: datetime, recent: dict[str, str], versions: dict[str, str]) -> None:
        self.now = now
        self.recent = recent
        # Digests of the event versions (id and changeKey) listed lately, with their stamps:
        # after Graph forgets a round, a version modified lately but listed already is not
        # reported again.
        self.versions = versions
        self.items: dict[str, dict[str, Any]] = {}

    def baseline(
        self,
        graph: GraphClient,
        mailbox: str,
        params: dict[str, Any],
        since: datetime,
        headers: dict[str, str],
        *,
        reset: bool = False,
    ) -> Batch:
        """The first round: the view as it stands; events made after ``since`` were added.

        ``reset``: Graph forgot the last round, and ``since`` is the last poll: events made
        after it (less the overlap) and not listed lately were added, versions modified after
        it and not listed lately updated."""
        window = {
            "startDateTime": _stamp(since - timedelta(days=int(params.get("pastDays", 50)))),
            "endDateTime": _stamp(since + timedelta(days=int(params.get("incomingDays", 300)))),
        }
        path = f"/calendars/{segment(params['table'])}/calendarView/delta"
        page = graph.request("GET", mailbox, path, params=window, headers=headers).json()
        while True:
            for event in page.get("value", []):
                if "@removed" in event:
                    continue
                unseen = reset and self._modified_unseen(event, since)
                self._listed(event, made_after=since - OVERLAP if reset else since, known=False)
                if unseen and event["id"] not in self.items:
                    self.items[event["id"]] = _with_action(event, "updated")
            if "@odata.nextLink" not in page:
                return self._batch(_delta_link(page))
            page = graph.call(
                "GET", page["@odata.nextLink"], mailbox=mailbox, headers=headers
            ).json()

    def changes(
        self,
        graph: GraphClient,
        mailbox: str,
        link: str,
        previous: datetime,
        headers: dict[str, str],
    ) -> Batch:
        """A later round: each event listed is added, updated or deleted."""
        while True:
            page = graph.call("GET", link, mailbox=mailbox, headers=headers).json()
            for event in page.get("value", []):
                if "@removed" in event:
                    self.recent.pop(_digest(event["id"]), None)
                    self.items[event["id"]] = _with_action({"id": event["id"]}, "deleted")
                else:
                    self._listed(event, made_after=previous - OVERLAP, known=True)
            if "@odata.nextLink" not in page:
                return self._batch(_delta_link(page))
            link = page["@odata.nextLink"]
            if len(self.items) >= BATCH_LIMIT:  # the rest of the round is the next poll's
                return self._batch(link, at=previous)

    def _modified_unseen(self, event: dict[str, Any], after: datetime) -> bool:
        """Modified after ``after`` (less the overlap), in a version not listed before."""
        changed = event.get(MODIFIED)
        return (
            bool(changed)
            and _instant(changed) > after - OVERLAP
            and _version(event) not in self.versions
        )

    def _listed(self, event: dict[str, Any], *, made_after: datetime, known: bool) -> None:
        if event.get(MODIFIED):
            self.versions.setdefault(_version(event), _instant(event[MODIFIED]).isoformat())
        created = event.get(CREATED)
        made = _instant(created) if created else None
        key = _digest(event["id"])
        fresh = made is not None and made > made_after and key not in self.recent
        if made is not None:
            self.recent[key] = made.isoformat()
        if fresh:
            self.items[event["id"]] = _with_action(event, "added")
        elif known:
            self.items[event["id"]] = _with_action(event, "updated")

    def _batch(self, link: str, at: datetime | None = None) -> Batch:
        at = at or self.now
        # The next round counts as added only events made after ``at`` less the overlap.
        recent = {k: v for k, v in self.recent.items() if _instant(v) > at - OVERLAP}
        versions = {k: v for k, v in self.versions.items() if _instant(v) > at - OVERLAP}
        cursor = {"link": link, "at": at.isoformat(), "recent": recent, "versions": versions}
        return Batch(list(self.items.values()), cursor)


def _version(event: dict[str, Any]) -> str:
    return _digest(event["id"], str(event.get("changeKey") or ""))


def _with_action(event: dict[str, Any], action: str) -> dict[str, Any]:
    """``GraphCalendarEventClientWithActionType``: the V3 shape, and what happened to it."""
    return {
        **event_shapes.event_v3(event, UTC_ZONE),
        "ActionType": action,
        "IsAdded": action == "added",
        "IsUpdated": action == "updated",
    }


def _delta_link(page: dict[str, Any]) -> str:
    link = page.get("@odata.deltaLink")
    if not link:
        raise GraphError(502, "no_delta_link", "Graph ended a delta round without a deltaLink")
    return str(link)


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
on_changed_items_v3 = changed_in_view
