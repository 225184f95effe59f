"""The connector's mail operations, each mapped field by field between its shapes and Graph's.

Handlers take the Graph client, the mailbox the route resolved and the parameters as the route
validated them (the connector's names), and return a :class:`Result` in the connector's
output definition (``GraphClientReceiveMessage``, ``BatchResponse[...]``, ...).
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any

from worker.graph import sending
from worker.graph.client import GraphClient, GraphError, segment
from worker.graph.sending import File
from worker.operations.results import Result, bytes_result, empty_result, json_result

# Graph's page size when we list: we filter some fields ourselves, so read generously.
PAGE = 50
FOLDER_NAMES = {
    "inbox": "inbox",
    "sent items": "sentitems",
    "sentitems": "sentitems",
    "drafts": "drafts",
    "deleted items": "deleteditems",
    "deleteditems": "deleteditems",
    "archive": "archive",
    "junk email": "junkemail",
    "junkemail": "junkemail",
    "outbox": "outbox",
}


def _addresses(recipients: list[dict[str, Any]] | None) -> str:
    """The connector's form of a recipient list: addresses joined by semicolons."""
    return ";".join(r.get("emailAddress", {}).get("address", "") for r in recipients or () if r)


def _address(recipient: dict[str, Any] | None) -> str:
    return (recipient or {}).get("emailAddress", {}).get("address", "")


def attachment_v2(attachment: dict[str, Any]) -> dict[str, Any]:
    """``GraphClientReceiveFileAttachment`` from Graph's fileAttachment."""
    return {
        "id": attachment.get("id"),
        "name": attachment.get("name"),
        "contentBytes": attachment.get("contentBytes"),
        "contentType": attachment.get("contentType"),
        "size": attachment.get("size"),
        "isInline": attachment.get("isInline", False),
        "lastModifiedDateTime": attachment.get("lastModifiedDateTime"),
        "contentId": attachment.get("contentId"),
    }


def message_v2(message: dict[str, Any], attachments: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``GraphClientReceiveMessage`` from Graph's message resource."""
    body = message.get("body") or {}
    answer: dict[str, Any] = {
        "from": _address(message.get("from")),
        "toRecipients": _addresses(message.get("toRecipients")),
        "ccRecipients": _addresses(message.get("ccRecipients")),
        "bccRecipients": _addresses(message.get("bccRecipients")),
        "replyTo": _addresses(message.get("replyTo")),
        "subject": message.get("subject"),
        "body": body.get("content"),
        "importance": message.get("importance"),
        "bodyPreview": message.get("bodyPreview"),
        "hasAttachments": message.get("hasAttachments", False),
        "id": message.get("id"),
        "internetMessageId": message.get("internetMessageId"),
        "conversationId": message.get("conversationId"),
        "receivedDateTime": message.get("receivedDateTime"),
        "isRead": message.get("isRead", False),
        "isHtml": str(body.get("contentType", "")).lower() == "html",
    }
    if attachments is not None:
        answer["attachments"] = [attachment_v2(a) for a in attachments]
    return answer


def attachments_of(graph: GraphClient, mailbox: str, message_id: str) -> list[dict[str, Any]]:
    return graph.collect(
        mailbox, f"/messages/{segment(message_id)}/attachments", {"$top": "100"}, 10_000
    )


def get_email_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """GetEmailV2: one message by id (or by ``internetMessageId``), in the key's mailbox only."""
    message_id = params["messageId"]
    if params.get("internetMessageId"):
        found = graph.collect(
            mailbox,
            "/messages",
            {"$filter": f"internetMessageId eq '{_quote(params['internetMessageId'])}'"},
            1,
        )
        if not found:
            raise GraphError(404, "ErrorItemNotFound", "no message with that internetMessageId")
        message = found[0]
    else:
        message = graph.request("GET", mailbox, f"/messages/{segment(message_id)}").json()
    attachments = (
        attachments_of(graph, mailbox, message["id"])
        if params.get("includeAttachments") and message.get("hasAttachments")
        else ([] if params.get("includeAttachments") else None)
    )
    return json_result(message_v2(message, attachments))


def _quote(value: str) -> str:
    """A string literal inside an OData filter: single quotes doubled."""
    return value.replace("'", "''")


def folder_segment(folder_path: str) -> str:
    """A folder path segment: a well-known name, or an id given by the caller."""
    name = folder_path.strip().strip("/")
    return FOLDER_NAMES.get(name.lower(), name)


# Graph refuses a $filter that does not start with the $orderby property ("InefficientFilter"):
# this condition, true of every message, leads every filter we send with that order.
EVERY_MESSAGE = "receivedDateTime ge 1900-01-01T00:00:00Z"


def _ordered(conditions: list[str]) -> str:
    return " and ".join([EVERY_MESSAGE, *conditions]) if conditions else ""


def _listed_filter(params: dict[str, Any]) -> list[str]:
    """The conditions Graph's $filter takes on messages; the rest are checked here."""
    parts = []
    if params.get("fetchOnlyUnread", True):
        parts.append("isRead eq false")
    if params.get("fetchOnlyWithAttachment"):
        parts.append("hasAttachments eq true")
    importance = params.get("importance") or "Any"
    if importance != "Any":
        parts.append(f"importance eq '{importance.lower()}'")
    if params.get("fetchOnlyFlagged"):
        parts.append("flag/flagStatus eq 'flagged'")
    return parts


def _split(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(";") if part.strip()}


def matches(message: dict[str, Any], params: dict[str, Any]) -> bool:
    """The connector's recipient, sender and subject filters (any address of a list matches)."""
    to = {a.lower() for a in _addresses(message.get("toRecipients")).split(";") if a}
    cc = {a.lower() for a in _addresses(message.get("ccRecipients")).split(";") if a}
    checks = [
        (_split(params.get("to")), to),
        (_split(params.get("cc")), cc),
        (_split(params.get("toOrCc")), to | cc),
        (_split(params.get("from")), {_address(message.get("from")).lower()}),
    ]
    if any(wanted and not wanted & have for wanted, have in checks):
        return False
    if params.get("fetchOnlyUnread", True) and message.get("isRead"):
        return False
    if params.get("fetchOnlyWithAttachment") and not message.get("hasAttachments"):
        return False
    importance = params.get("importance") or "Any"
    if importance != "Any" and str(message.get("importance", "")).lower() != importance.lower():
        return False
    flag = (message.get("flag") or {}).get("flagStatus")
    if params.get("fetchOnlyFlagged") and flag is not None and flag != "flagged":
        return False
    subject = params.get("subjectFilter")
    return not subject or subject.lower() in str(message.get("subject") or "").lower()


def get_emails_v3(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """GetEmailsV3: newest first, filtered, up to ``top``; Graph's pages followed as needed."""
    top = params.get("top", 10)
    query: dict[str, str] = {"$top": str(min(PAGE, max(top, 1)))}
    conditions = _listed_filter(params)
    if params.get("searchQuery"):
        # Graph takes no $filter or $orderby with $search (it sorts by relevance): the
        # conditions are then checked here, on what the search found.
        query["$search"] = f'"{params["searchQuery"]}"'
    else:
        query["$orderby"] = "receivedDateTime desc"
        if conditions:
            query["$filter"] = _ordered(conditions)
    path = f"/mailFolders/{segment(folder_segment(params.get('folderPath') or 'Inbox'))}/messages"
    found: list[dict[str, Any]] = []
    page = graph.request("GET", mailbox, path, params=query).json()
    while True:
        found.extend(m for m in page.get("value", []) if matches(m, params))
        link = page.get("@odata.nextLink")
        if len(found) >= top or not link:
            break
        page = graph.call("GET", link, mailbox=mailbox).json()
    found = found[:top]
    value = []
    for message in found:
        attachments = None
        if params.get("includeAttachments"):
            attachments = (
                attachments_of(graph, mailbox, message["id"])
                if message.get("hasAttachments")
                else []
            )
        value.append(message_v2(message, attachments))
    return json_result({"value": value})


def _recipients(value: str | None) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": address}} for address in _split_keep(value)]


def _split_keep(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace(",", ";").split(";") if part.strip()]


def send_email_v2(
    graph: GraphClient, mailbox: str, params: dict[str, Any], *, html: bool = True
) -> Result:
    """SendEmailV2: ``ClientSendHtmlMessage`` as Graph's message, sent from the mailbox (or
    from ``From``, a mailbox it may send as)."""
    email = params["emailMessage"]
    message: dict[str, Any] = {
        "subject": email["Subject"],
        "body": {"contentType": "HTML" if html else "Text", "content": email["Body"]},
        "toRecipients": _recipients(email["To"]),
        "importance": (email.get("Importance") or "Normal").lower(),
    }
    for ours, theirs in (("Cc", "ccRecipients"), ("Bcc", "bccRecipients"), ("ReplyTo", "replyTo")):
        if email.get(ours):
            message[theirs] = _recipients(email[ours])
    if email.get("From"):
        message["from"] = {"emailAddress": {"address": email["From"]}}
    sending.send(graph, mailbox, message, _files(email.get("Attachments")))
    return empty_result()


def _message_path(params: dict[str, Any]) -> str:
    return f"/messages/{segment(params['messageId'])}"


def delete_email(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """DeleteEmail and DeleteEmail_V2: the message is deleted from the mailbox."""
    graph.request("DELETE", mailbox, _message_path(params))
    return empty_result()


def mark_as_read(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """MarkAsRead: read; MarkAsRead_V3: read or unread, as its body says."""
    is_read = bool(params.get("body", {}).get("isRead", True))
    graph.request("PATCH", mailbox, _message_path(params), json={"isRead": is_read})
    return empty_result()


def _files(attachments: list[dict[str, Any]] | None) -> list[File]:
    """The connector's ``{Name, ContentBytes}`` attachments as files, typed by their name."""
    return [
        File(
            a["Name"],
            base64.b64decode(a["ContentBytes"]),
            mimetypes.guess_type(a["Name"])[0] or "application/octet-stream",
        )
        for a in attachments or ()
    ]


def reply_to(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ReplyTo: Graph's reply (or replyAll) with the comment, so the answer threads."""
    sending.reply(
        graph,
        mailbox,
        params["messageId"],
        reply_all=bool(params.get("replyAll")),
        comment=params["comment"],
    )
    return empty_result()


def reply_to_v3(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ReplyToV3: an HTML reply (recipients, subject, importance, attachments as given)."""
    given = params["replyParameters"]
    message: dict[str, Any] = {"body": {"contentType": "HTML", "content": given.get("Body", "")}}
    for ours, theirs in (("To", "toRecipients"), ("Cc", "ccRecipients"), ("Bcc", "bccRecipients")):
        if given.get(ours):
            message[theirs] = _recipients(given[ours])
    if given.get("Subject"):
        message["subject"] = given["Subject"]
    if given.get("Importance"):
        message["importance"] = given["Importance"].lower()
    sending.reply(
        graph,
        mailbox,
        params["messageId"],
        reply_all=bool(given.get("ReplyAll")),
        message=message,
        files=_files(given.get("Attachments")),
    )
    return empty_result()


def _attachment(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> dict[str, Any]:
    path = f"{_message_path(params)}/attachments/{segment(params['attachmentId'])}"
    return graph.request("GET", mailbox, path).json()


def get_attachment(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """GetAttachment: the file's bytes with its content type."""
    attachment = _attachment(graph, mailbox, params)
    content = base64.b64decode(attachment.get("contentBytes") or "")
    return bytes_result(content, attachment.get("contentType") or "application/octet-stream")


def get_attachment_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """GetAttachment_V2: the attachment as the connector's JSON."""
    return json_result(attachment_v2(_attachment(graph, mailbox, params)))


_IMPORTANCE_ENUM = {"low": "Low", "normal": "Normal", "high": "High"}


def message_v1(message: dict[str, Any], attachments: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``ClientReceiveMessageStringEnums`` (GetEmails, deprecated) from Graph's message."""
    body = message.get("body") or {}
    return {
        "Importance": _IMPORTANCE_ENUM.get(str(message.get("importance", "")).lower(), "Normal"),
        "From": _address(message.get("from")),
        "To": _addresses(message.get("toRecipients")),
        "Cc": _addresses(message.get("ccRecipients")),
        "Bcc": _addresses(message.get("bccRecipients")),
        "ReplyTo": _addresses(message.get("replyTo")),
        "Subject": message.get("subject"),
        "Body": body.get("content"),
        "BodyPreview": message.get("bodyPreview"),
        "HasAttachment": message.get("hasAttachments", False),
        "Id": message.get("id"),
        "InternetMessageId": message.get("internetMessageId"),
        "ConversationId": message.get("conversationId"),
        "DateTimeReceived": message.get("receivedDateTime"),
        "IsRead": message.get("isRead", False),
        "Attachments": [
            {
                "Id": a.get("id"),
                "Name": a.get("name"),
                "ContentBytes": a.get("contentBytes"),
                "ContentType": a.get("contentType"),
                "Size": a.get("size"),
                "IsInline": a.get("isInline", False),
                "LastModifiedDateTime": a.get("lastModifiedDateTime"),
                "ContentId": a.get("contentId"),
            }
            for a in attachments or ()
        ],
        "IsHtml": str(body.get("contentType", "")).lower() == "html",
    }


# ClientReceiveMessage (OnNewEmail, deprecated) numbers its importance: 0 low, 1 normal, 2 high.
_IMPORTANCE_NUMBER = {"low": 0, "normal": 1, "high": 2}


def received_message_v1(
    message: dict[str, Any], attachments: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """``ClientReceiveMessage`` (OnNewEmail, deprecated): GetEmails' shape, importance a number."""
    shaped = message_v1(message, attachments)
    shaped["Importance"] = _IMPORTANCE_NUMBER.get(str(message.get("importance", "")).lower(), 1)
    return shaped


def get_emails(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """GetEmails (deprecated): newest first, ``skip`` then ``top``, as an array."""
    top, skip = params.get("top", 10), params.get("skip", 0)
    query: dict[str, str] = {"$top": str(min(PAGE, max(top, 1))), "$skip": str(skip)}
    if params.get("searchQuery"):
        query = {"$top": query["$top"], "$search": f'"{params["searchQuery"]}"'}
        skip = 0
    else:
        query["$orderby"] = "receivedDateTime desc"
    if params.get("fetchOnlyUnread", True) and "$search" not in query:
        query["$filter"] = _ordered(["isRead eq false"])
    path = f"/mailFolders/{segment(folder_segment(params.get('folderPath') or 'Inbox'))}/messages"
    found = graph.collect(mailbox, path, query, top)
    value = []
    for message in found:
        attachments = None
        if params.get("includeAttachments") and message.get("hasAttachments"):
            attachments = attachments_of(graph, mailbox, message["id"])
        value.append(message_v1(message, attachments))
    return json_result(value)


def send_email(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """SendEmail (deprecated): like SendEmailV2, the body HTML or text as ``IsHtml`` says."""
    email = params["emailMessage"]
    return send_email_v2(graph, mailbox, params, html=bool(email.get("IsHtml", True)))
