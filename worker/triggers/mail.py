"""OnNewEmail and OnNewEmailV3: the mail that arrived in a folder since the trigger's last poll.

One Graph delta query per folder (https://learn.microsoft.com/graph/delta-query-messages),
asking only for created messages (``changeType=created``): a poll costs one request per page
of *new* mail, whatever the size of the mailbox. Delta rounds follow Exchange's own change
sequence, so mail arriving during a poll, mail with equal timestamps and clock skew between us
and Graph never make an item skipped or repeated.

The first round starts a trigger. Delta takes one ``$filter`` (``receivedDateTime ge``), which
keeps that round small: it asks for mail received since a little before the trigger started
(:data:`START_OVERLAP` absorbs skew between the clocks), returns what came after the start
and takes the rest as what existed before. Every later round is the ``@odata.deltaLink`` (or,
past :data:`BATCH_LIMIT` items, the ``@odata.nextLink``) the last one ended on: that link is
the cursor, handed back to the caller with the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.graph.client import GraphClient, GraphError, segment
from worker.operations.mail import (
    attachments_of,
    folder_segment,
    matches,
    message_v2,
    received_message_v1,
)

# At most this many messages per batch; the rest come with the next poll, from the nextLink.
BATCH_LIMIT = 100
# How far before its start the first round looks (skew between our clock and Exchange's).
START_OVERLAP = timedelta(minutes=10)
PAGE_PREFERENCE = "odata.maxpagesize=50"
# What the connector's shapes are made of; delta keeps a first request's $select for its links.
SELECTED = ",".join(
    (
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "subject",
        "body",
        "importance",
        "bodyPreview",
        "hasAttachments",
        "internetMessageId",
        "conversationId",
        "receivedDateTime",
        "isRead",
    )
)


@dataclass(frozen=True)
class Batch:
    """What one poll found (in the trigger's output definition) and where the next starts."""

    items: list[dict[str, Any]]
    cursor: dict[str, Any] = field(default_factory=dict)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_mail(
    graph: GraphClient, mailbox: str, params: dict[str, Any], cursor: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Graph's new messages since ``cursor`` and the cursor after them (raw Graph resources).

    ``cursor`` is ``{"since": instant}`` before the first round, then ``{"link", "at"}``.
    """
    now = datetime.now(UTC)
    link = cursor.get("link")
    if link is not None and not str(link).startswith(graph.api_url + "/"):
        raise GraphError(400, "invalid_cursor", "the trigger's state does not point at Graph")
    if link is None:
        return _first_round(graph, mailbox, params, _instant(cursor["since"]), now)
    try:
        return _later_round(graph, mailbox, str(link), now)
    except GraphError as error:
        if error.status != 410:  # SyncStateNotFound: Graph forgot the round; start over
            raise
        return _first_round(graph, mailbox, params, _instant(cursor["at"]), now)


def _first_round(
    graph: GraphClient, mailbox: str, params: dict[str, Any], since: datetime, now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    folder = segment(folder_segment(params.get("folderPath") or "Inbox"))
    page = graph.request(
        "GET",
        mailbox,
        f"/mailFolders/{folder}/messages/delta",
        params={
            "changeType": "created",
            "$filter": f"receivedDateTime ge {_stamp(since - START_OVERLAP)}",
            "$select": SELECTED,
        },
        headers={"Prefer": PAGE_PREFERENCE},
    ).json()
    found: list[dict[str, Any]] = []
    while True:
        found.extend(
            m
            for m in page.get("value", [])
            if "@removed" not in m and _instant(m["receivedDateTime"]) > since
        )
        if "@odata.nextLink" not in page:
            return found, {"link": _ending_link(page), "at": now.isoformat()}
        page = graph.call(
            "GET", page["@odata.nextLink"], mailbox=mailbox, headers={"Prefer": PAGE_PREFERENCE}
        ).json()


def _later_round(
    graph: GraphClient, mailbox: str, link: str, now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = graph.call("GET", link, mailbox=mailbox, headers={"Prefer": PAGE_PREFERENCE}).json()
        found.extend(m for m in page.get("value", []) if "@removed" not in m)
        if "@odata.nextLink" not in page:
            return found, {"link": _ending_link(page), "at": now.isoformat()}
        link = page["@odata.nextLink"]
        if len(found) >= BATCH_LIMIT:  # the rest of the round is the next poll's
            return found, {"link": link, "at": now.isoformat()}


def _ending_link(page: dict[str, Any]) -> str:
    link = page.get("@odata.deltaLink")
    if not link:
        raise GraphError(502, "no_delta_link", "Graph ended a delta round without a deltaLink")
    return str(link)


def on_new_email(
    graph: GraphClient, mailbox: str, params: dict[str, Any], cursor: dict[str, Any]
) -> Batch:
    """OnNewEmail (deprecated): the batch as ``ClientReceiveMessage`` items."""
    return _shaped(graph, mailbox, params, cursor, received_message_v1)


def on_new_email_v3(
    graph: GraphClient, mailbox: str, params: dict[str, Any], cursor: dict[str, Any]
) -> Batch:
    """OnNewEmailV3: the batch as ``GraphClientReceiveMessage`` items."""
    return _shaped(graph, mailbox, params, cursor, message_v2)


def _shaped(
    graph: GraphClient,
    mailbox: str,
    params: dict[str, Any],
    cursor: dict[str, Any],
    shape: Any,
) -> Batch:
    found, after = new_mail(graph, mailbox, params, cursor)
    # The connector's filters; OnNewEmail has no "unread only", so read mail counts too.
    wanted = {**params, "fetchOnlyUnread": False}
    seen: set[str] = set()
    items = []
    for message in found:
        if message["id"] in seen or not matches(message, wanted):
            continue  # a delta round may list an item twice
        seen.add(message["id"])
        attachments = None
        if params.get("includeAttachments"):
            attachments = (
                attachments_of(graph, mailbox, message["id"])
                if message.get("hasAttachments")
                else []
            )
        items.append(shape(message, attachments))
    return Batch(items, after)
