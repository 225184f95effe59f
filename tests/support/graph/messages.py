"""Outlook mail on Graph v1.0: folders, messages, sending, replies, attachments, delta.

Each handler cites the page it follows. App-only access, so every path starts with
``/users/{id | userPrincipalName}``; ``/me`` is not served.
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Response

from . import odata
from .errors import GraphError, bad_request, item_not_found
from .mailbox import Mailbox, new_item_id, now, recipient, stamp
from .routing import Call, Router, json_response

MESSAGE_TYPE = "microsoft.graph.message"
DEFAULT_PAGE = 10  # "The default page size is 10 messages" (user-list-messages)
# "If the file size is under 3 MB, do a single POST"; an upload session is for 3 MB to 150 MB
# (https://learn.microsoft.com/graph/outlook-large-attachments).
UPLOAD_MINIMUM = 3 * 1024 * 1024
UPLOAD_MAXIMUM = 150 * 1024 * 1024

# Properties a PATCH may set (https://learn.microsoft.com/graph/api/message-update); the
# content ones only while the message is a draft.
ALWAYS_WRITABLE = {"isRead", "categories", "flag", "inferenceClassification", "importance"}
DRAFT_WRITABLE = {
    "subject",
    "body",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "from",
    "sender",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "internetMessageId",
}

# The message resource's properties (https://learn.microsoft.com/graph/api/resources/message).
MESSAGE_PROPERTIES = {
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
}

router = Router()


@dataclass
class SentMail:
    """A message that left a mailbox, as a test inspects it (external recipients included)."""

    mailbox: str
    message: dict[str, Any]
    recipients: list[str]
    attachments: list[dict[str, Any]] = field(default_factory=list)
    at: float = field(default_factory=time.time)

    @property
    def subject(self) -> str:
        return str(self.message.get("subject") or "")


@dataclass
class UploadSession:
    """A large-attachment upload in progress (outlook-large-attachments)."""

    id: str
    token: str
    mailbox: Mailbox
    message_immutable_id: str
    name: str
    size: int
    content_type: str
    is_inline: bool
    expires_at: float
    received: bytearray = field(default_factory=bytearray)


# -- shaping ------------------------------------------------------------------------------------


def html_to_text(content: str) -> str:
    text = re.sub(r"(?is)<(script|style|head).*?</\1>", "", content)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip()


def text_to_html(content: str) -> str:
    escaped = html.escape(content).replace("\n", "<br>\r\n")
    return (
        '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"\r\n</head>\r\n<body>\r\n<div>{escaped}</div>\r\n</body>\r\n</html>\r\n"
    )


def body_for(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """The body in the format asked with ``Prefer: outlook.body-content-type`` (HTML default)."""
    wanted = call.prefer.get("outlook.body-content-type", "html").lower()
    if wanted not in ("text", "html"):
        wanted = "html"
    if "outlook.body-content-type" in call.prefer:
        call.apply_preference(f'outlook.body-content-type="{wanted}"')
    content = str(body.get("content") or "")
    if body.get("contentType", "text").lower() == wanted:
        return {"contentType": wanted, "content": content}
    if wanted == "text":
        return {"contentType": "text", "content": html_to_text(content)}
    return {"contentType": "html", "content": text_to_html(content)}


def preview(body: dict[str, Any]) -> str:
    content = str(body.get("content") or "")
    if body.get("contentType", "text").lower() == "html":
        content = html_to_text(content)
    return " ".join(content.split())[:255]


def public_message(call: Call, message: dict[str, Any]) -> dict[str, Any]:
    shown = {key: copy.deepcopy(value) for key, value in message.items() if key[0] != "_"}
    if call.wants_immutable_ids():
        shown["id"] = message["_immutableId"]
    shown["body"] = body_for(call, message["body"])
    shown["webLink"] = (
        f"https://outlook.office365.com/owa/?ItemID={quote(shown['id'], safe='')}"
        "&exvsurl=1&viewmodel=ReadMessageItem"
    )
    return {"@odata.etag": f'W/"{message["changeKey"]}"', **shown}


def public_attachment(attachment: dict[str, Any], *, content: bool = True) -> dict[str, Any]:
    shown = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "@odata.mediaContentType": attachment["contentType"],
        "id": attachment["id"],
        "lastModifiedDateTime": attachment["lastModifiedDateTime"],
        "name": attachment["name"],
        "contentType": attachment["contentType"],
        "size": attachment["size"],
        "isInline": attachment["isInline"],
        "contentId": attachment.get("contentId"),
        "contentLocation": None,
    }
    if content:
        shown["contentBytes"] = base64.b64encode(attachment["_bytes"]).decode()
    return shown


def new_attachment(
    name: str, content: bytes, content_type: str, *, is_inline: bool = False, content_id=None
) -> dict[str, Any]:
    return {
        "id": new_item_id("AAMkAGAtt"),
        "name": name,
        "contentType": content_type or "application/octet-stream",
        "size": len(content),
        "isInline": bool(is_inline),
        "contentId": content_id,
        "lastModifiedDateTime": stamp(),
        "_bytes": bytes(content),
    }


def read_attachment(payload: dict[str, Any]) -> dict[str, Any]:
    kind = str(payload.get("@odata.type", "#microsoft.graph.fileAttachment")).lstrip("#")
    if kind != "microsoft.graph.fileAttachment":
        raise bad_request(f"The attachment type '{kind}' is not supported by this stand-in.")
    if not payload.get("name"):
        raise bad_request("The attachment name is required.", code="ErrorInvalidProperty")
    try:
        content = base64.b64decode(str(payload.get("contentBytes", "")), validate=True)
    except (binascii.Error, ValueError) as error:
        raise bad_request("The value of contentBytes is not valid base64.") from error
    return new_attachment(
        str(payload["name"]),
        content,
        str(payload.get("contentType") or "application/octet-stream"),
        is_inline=bool(payload.get("isInline")),
        content_id=payload.get("contentId"),
    )


def read_recipients(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"The property '{name}' must be a collection of recipients.")
    recipients = []
    for entry in value:
        address = ((entry or {}).get("emailAddress") or {}).get("address")
        if not isinstance(address, str) or "@" not in address:
            raise GraphError(
                400,
                "ErrorInvalidRecipients",
                f"At least one recipient is not valid., Recipient '{address}' is not resolved.",
            )
        recipients.append(recipient(address, (entry["emailAddress"].get("name") or address)))
    return recipients


def read_importance(value: Any) -> str:
    importance = str(value or "normal").lower()
    if importance not in ("low", "normal", "high"):
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type.")
    return importance


def read_body(value: Any) -> dict[str, Any]:
    if value is None:
        return {"contentType": "text", "content": ""}
    kind = str(value.get("contentType", "text")).lower()
    if kind not in ("text", "html"):
        raise bad_request(f"Cannot convert the literal '{value.get('contentType')}'.")
    return {"contentType": kind, "content": str(value.get("content") or "")}


def build_message(mailbox: Mailbox, payload: dict[str, Any], *, draft: bool) -> dict[str, Any]:
    """A full message resource from a request's ``message`` object."""
    moment = stamp()
    body = read_body(payload.get("body"))
    sender = mailbox.owner()
    if payload.get("from"):
        sender = read_recipients([payload["from"]], "from")[0]
    message: dict[str, Any] = {
        "createdDateTime": moment,
        "lastModifiedDateTime": moment,
        "changeKey": "",
        "categories": list(payload.get("categories") or []),
        "receivedDateTime": moment,
        "sentDateTime": moment,
        "hasAttachments": False,
        "internetMessageId": f"<{secrets.token_hex(12)}@{mailbox.address.split('@')[-1]}>",
        "subject": str(payload.get("subject") or ""),
        "bodyPreview": preview(body),
        "importance": read_importance(payload.get("importance")),
        "parentFolderId": "",
        "conversationId": new_item_id("AAQkAG"),
        "conversationIndex": base64.b64encode(secrets.token_bytes(22)).decode(),
        "isDeliveryReceiptRequested": bool(payload.get("isDeliveryReceiptRequested")),
        "isReadReceiptRequested": bool(payload.get("isReadReceiptRequested")),
        "isRead": True,
        "isDraft": draft,
        "webLink": "",
        "inferenceClassification": "focused",
        "body": body,
        "sender": copy.deepcopy(sender),
        "from": copy.deepcopy(sender),
        "toRecipients": read_recipients(payload.get("toRecipients"), "toRecipients"),
        "ccRecipients": read_recipients(payload.get("ccRecipients"), "ccRecipients"),
        "bccRecipients": read_recipients(payload.get("bccRecipients"), "bccRecipients"),
        "replyTo": read_recipients(payload.get("replyTo"), "replyTo"),
        "flag": {"flagStatus": "notFlagged"},
        "_attachments": [read_attachment(item) for item in payload.get("attachments") or []],
    }
    message["hasAttachments"] = any(not a["isInline"] for a in message["_attachments"])
    return message


# -- delivery ----------------------------------------------------------------------------------


def all_recipients(message: dict[str, Any]) -> list[str]:
    seen: dict[str, str] = {}
    for key in ("toRecipients", "ccRecipients", "bccRecipients"):
        for entry in message.get(key) or []:
            address = entry["emailAddress"]["address"]
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def dispatch(call: Call, mailbox: Mailbox, message: dict[str, Any], *, save: bool) -> None:
    """Send ``message`` (already built, not yet filed): Sent Items, then each recipient's Inbox.

    Recipients that are registered mailboxes get a copy in their Inbox, without Bcc; every
    send is also recorded in ``standin.sent`` whoever the recipients are.
    """
    recipients = all_recipients(message)
    if not recipients:
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is required, but none were found.",
        )
    moment = stamp()
    message.update(
        {
            "isDraft": False,
            "isRead": True,
            "sentDateTime": moment,
            "receivedDateTime": moment,
            "lastModifiedDateTime": moment,
            "bodyPreview": preview(message["body"]),
        }
    )
    message["hasAttachments"] = any(not a["isInline"] for a in message["_attachments"])
    if save:
        if message.get("_immutableId") and message["_immutableId"] in mailbox.messages:
            mailbox.move_message(message, "sentitems")
        else:
            mailbox.add_message(message, "sentitems")
    elif message.get("_immutableId") in mailbox.messages:
        mailbox.delete_message(message)
    standin = call.standin
    standin.record_sent(
        SentMail(
            mailbox=mailbox.address,
            message={k: copy.deepcopy(v) for k, v in message.items() if k[0] != "_"},
            recipients=recipients,
            attachments=[public_attachment(a) for a in message["_attachments"]],
        )
    )
    for address in recipients:
        target = standin.directory.find(address)
        if target is None:
            continue
        with target.lock:
            delivered = copy.deepcopy({k: v for k, v in message.items() if k != "id"})
            delivered.pop("_immutableId", None)
            delivered.update(
                {
                    "bccRecipients": [],
                    "isRead": False,
                    "isDraft": False,
                    "receivedDateTime": stamp(),
                    "inferenceClassification": "focused",
                }
            )
            for attachment in delivered["_attachments"]:
                attachment["id"] = new_item_id("AAMkAGAtt")
            target.add_message(delivered, "inbox")


def reply_draft(
    mailbox: Mailbox, original: dict[str, Any], kind: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """The draft that reply, replyAll or forward (and their create* forms) build.

    A reply goes to the original's replyTo when it has one, else to its sender
    (https://learn.microsoft.com/graph/api/message-reply); replyAll adds the other To and Cc
    recipients (message-replyall); forward has no recipient of its own (message-forward).
    """
    comment = payload.get("comment")
    overrides = payload.get("message") or {}
    if comment is not None and (overrides.get("body") or {}).get("content"):
        raise bad_request("Specify either a comment or the body of the message, not both.")
    me = mailbox.address.lower()
    if kind == "forward":
        to = read_recipients(payload.get("toRecipients"), "toRecipients")
        cc: list[dict[str, Any]] = []
        prefix = "FW: "
    else:
        to = copy.deepcopy(original["replyTo"] or [original["from"]])
        cc = []
        if kind == "replyAll":
            known = {entry["emailAddress"]["address"].lower() for entry in to}
            for entry in original["toRecipients"]:
                address = entry["emailAddress"]["address"].lower()
                if address != me and address not in known:
                    to.append(copy.deepcopy(entry))
                    known.add(address)
            cc = [
                copy.deepcopy(entry)
                for entry in original["ccRecipients"]
                if entry["emailAddress"]["address"].lower() not in known | {me}
            ]
        prefix = "RE: "
    quoted = html_to_text(body_for_original(original))
    header = (
        f"From: {original['from']['emailAddress']['name']}\nSent: {original['sentDateTime']}\n"
        f"Subject: {original['subject']}"
    )
    text = f"{comment or ''}\n\n{header}\n\n{quoted}".strip()
    subject = original["subject"]
    if not subject.upper().startswith(prefix.strip().upper()):
        subject = prefix + subject
    draft = build_message(
        mailbox, {"subject": subject, "body": {"contentType": "html"}}, draft=True
    )
    draft["body"] = {"contentType": "html", "content": text_to_html(text)}
    draft["toRecipients"] = to
    draft["ccRecipients"] = cc
    draft["conversationId"] = original["conversationId"]
    if kind == "forward":
        draft["_attachments"] = copy.deepcopy(original["_attachments"])
        for attachment in draft["_attachments"]:
            attachment["id"] = new_item_id("AAMkAGAtt")
    apply_overrides(draft, overrides)
    draft["bodyPreview"] = preview(draft["body"])
    draft["hasAttachments"] = any(not a["isInline"] for a in draft["_attachments"])
    return draft


def body_for_original(message: dict[str, Any]) -> str:
    body = message["body"]
    if body["contentType"] == "html":
        return body["content"]
    return text_to_html(body["content"])


def apply_overrides(draft: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key in ("toRecipients", "ccRecipients", "bccRecipients", "replyTo"):
        if key in overrides:
            draft[key] = read_recipients(overrides[key], key)
    if "subject" in overrides:
        draft["subject"] = str(overrides["subject"] or "")
    if (overrides.get("body") or {}).get("content") is not None:
        draft["body"] = read_body(overrides["body"])
    if "importance" in overrides:
        draft["importance"] = read_importance(overrides["importance"])
    for item in overrides.get("attachments") or []:
        draft["_attachments"].append(read_attachment(item))


# -- the user ----------------------------------------------------------------------------------


@router.route("GET", "users/{user}")
def get_user(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-get: the default properties of a user
    user = call.user
    resource = {
        "@odata.context": f"{call.standin.graph_url}/$metadata#users/$entity",
        "id": user.id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": None,
        "jobTitle": None,
        "mail": user.address,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": None,
        "userPrincipalName": user.address,
    }
    return json_response(odata.select(resource, select_of(call), "microsoft.graph.user"))


# -- folders -----------------------------------------------------------------------------------


def public_folder(folder: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in folder.items() if key[0] != "_"}


@router.route("GET", "users/{user}/mailFolders")
def list_folders(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-mailfolders
    with call.user.lock:
        root = call.user.folder("msgfolderroot")["id"]
        folders = [
            public_folder(f) for f in call.user.folders.values() if f["parentFolderId"] == root
        ]
    return collection(call, folders, "microsoft.graph.mailFolder", default_order=None)


@router.route("GET", "users/{user}/mailFolders/{folder}")
def get_folder(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/mailfolder-get
    with call.user.lock:
        folder = public_folder(call.user.folder(call.params["folder"]))
    return json_response(odata.select(folder, select_of(call), "microsoft.graph.mailFolder"))


@router.route("GET", "users/{user}/mailFolders/{folder}/childFolders")
def list_child_folders(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/mailfolder-list-childfolders
    with call.user.lock:
        parent = call.user.folder(call.params["folder"])["id"]
        folders = [
            public_folder(f) for f in call.user.folders.values() if f["parentFolderId"] == parent
        ]
    return collection(call, folders, "microsoft.graph.mailFolder", default_order=None)


@router.route("POST", "users/{user}/mailFolders")
def create_folder(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-post-mailfolders
    name = str(call.json().get("displayName") or "")
    if not name:
        raise bad_request("The displayName property is required.", code="ErrorInvalidRequest")
    with call.user.lock:
        folder = public_folder(call.user.add_folder(name))
    return json_response(folder, 201)


# -- listing -----------------------------------------------------------------------------------


def select_of(call: Call) -> list[str] | None:
    for name, value in call.args.items():
        if name.lower() == "$select":
            return [part.strip() for part in value.split(",") if part.strip()]
    return None


def collection(
    call: Call,
    items: list[dict[str, Any]],
    type_name: str,
    *,
    default_order: list[tuple[list[str], bool]] | None,
    search_text: Any = None,
    check_order: bool = False,
    default_page: int = DEFAULT_PAGE,
    known: set[str] | None = None,
) -> Response:
    """Apply the query options, cut a page, add ``@odata.nextLink`` when more remain."""
    query = odata.parse_query(call.args, type_name)
    odata.check_properties(query, known, type_name)
    if check_order:
        odata.check_filter_orderby(query)
    matched = odata.apply(items, query, default_order=default_order, search_text=search_text)
    page = odata.page(matched, query, default_size=default_page, cap=call.standin.page_cap)
    body: dict[str, Any] = {"@odata.context": f"{call.standin.graph_url}/$metadata#{type_name}"}
    if query.count:
        body["@odata.count"] = page.total
    body["value"] = [odata.select(item, query.select, type_name) for item in page.items]
    if page.next_skip is not None:
        body["@odata.nextLink"] = odata.next_link(call.url(), call.args, page.next_skip)
    return json_response(body, headers=preference_headers(call))


def preference_headers(call: Call) -> dict[str, str]:
    return {"Preference-Applied": ", ".join(call.applied)} if call.applied else {}


def message_search_text(message: dict[str, Any]) -> str:
    sender = message.get("from") or {}
    return " ".join(
        [
            str(message.get("subject") or ""),
            str(message.get("bodyPreview") or ""),
            str((sender.get("emailAddress") or {}).get("address") or ""),
            str((sender.get("emailAddress") or {}).get("name") or ""),
        ]
    )


def list_in(call: Call, folder: str | None) -> Response:
    with call.user.lock:
        # Newest arrival first, so that equal receivedDateTime values keep that order.
        messages = list(reversed(call.user.messages.values()))
        if folder is not None:
            folder_id = call.user.folder(folder)["id"]
            messages = [m for m in messages if m["parentFolderId"] == folder_id]
        shown = [public_message(call, m) for m in messages]
    return collection(
        call,
        shown,
        MESSAGE_TYPE,
        default_order=[(["receivedDateTime"], True)],
        search_text=message_search_text,
        check_order=True,
        known=MESSAGE_PROPERTIES,
    )


@router.route("GET", "users/{user}/messages")
def list_messages(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-messages
    return list_in(call, None)


@router.route("GET", "users/{user}/mailFolders/{folder}/messages")
def list_folder_messages(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/mailfolder-list-messages
    return list_in(call, call.params["folder"])


# -- one message -------------------------------------------------------------------------------


def message_routes(method: str, suffix: str = ""):  # type: ignore[no-untyped-def]
    """Register a handler under ``/messages/{id}`` and ``/mailFolders/{f}/messages/{id}``.

    The per-message pages list both forms, e.g. https://learn.microsoft.com/graph/api/message-get.
    """

    def register(handler):  # type: ignore[no-untyped-def]
        router.add(method, f"users/{{user}}/messages/{{message}}{suffix}", handler)
        router.add(
            method, f"users/{{user}}/mailFolders/{{folder}}/messages/{{message}}{suffix}", handler
        )
        return handler

    return register


def find_message(call: Call) -> dict[str, Any]:
    if "folder" in call.params:
        call.user.folder(call.params["folder"])
    return call.user.message(call.params["message"])


@message_routes("GET")
def get_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-get
    with call.user.lock:
        shown = public_message(call, find_message(call))
    return json_response(
        odata.select(shown, select_of(call), MESSAGE_TYPE), headers=preference_headers(call)
    )


@message_routes("PATCH")
def update_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-update
    changes = call.json()
    with call.user.lock:
        message = find_message(call)
        for key in changes:
            if key in ALWAYS_WRITABLE or (key in DRAFT_WRITABLE and message["isDraft"]):
                continue
            if key in DRAFT_WRITABLE:
                raise GraphError(
                    400,
                    "ErrorInvalidPropertyUpdateSentMessage",
                    f"Update operation is invalid for property of a sent message: '{key}'.",
                )
            raise bad_request(
                f"The property '{key}' does not exist on type '{MESSAGE_TYPE}' or cannot be set.",
                code="ErrorInvalidProperty",
            )
        for key, value in changes.items():
            if key in ("toRecipients", "ccRecipients", "bccRecipients", "replyTo"):
                message[key] = read_recipients(value, key)
            elif key in ("from", "sender"):
                message[key] = read_recipients([value], key)[0]
            elif key == "body":
                message["body"] = read_body(value)
                message["bodyPreview"] = preview(message["body"])
            elif key == "importance":
                message["importance"] = read_importance(value)
            elif key == "isRead":
                message["isRead"] = bool(value)
            else:
                message[key] = copy.deepcopy(value)
        call.user.touch_message(message)
        shown = public_message(call, message)
    return json_response(shown, headers=preference_headers(call))


@message_routes("DELETE")
def delete_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-delete
    with call.user.lock:
        call.user.delete_message(find_message(call))
    return json_response(None, 204)


@message_routes("POST", "/move")
def move_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-move: 201 and the message, with a new id
    destination = str(call.json().get("destinationId") or "")
    with call.user.lock:
        message = find_message(call)
        call.user.move_message(message, destination)
        shown = public_message(call, message)
    return json_response(shown, 201, headers=preference_headers(call))


@message_routes("POST", "/copy")
def copy_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-copy
    destination = str(call.json().get("destinationId") or "")
    with call.user.lock:
        duplicate = call.user.copy_message(find_message(call), destination)
        shown = public_message(call, duplicate)
    return json_response(shown, 201, headers=preference_headers(call))


# -- creating and sending ----------------------------------------------------------------------


def create_draft(call: Call, folder: str) -> Response:
    payload = call.json()
    with call.user.lock:
        message = build_message(call.user, payload, draft=True)
        call.user.add_message(message, folder)
        shown = public_message(call, message)
    return json_response(shown, 201, headers=preference_headers(call))


@router.route("POST", "users/{user}/messages")
def create_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-post-messages: a draft in Drafts
    return create_draft(call, "drafts")


@router.route("POST", "users/{user}/mailFolders/{folder}/messages")
def create_folder_message(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/mailfolder-post-messages
    return create_draft(call, call.params["folder"])


@router.route("POST", "users/{user}/sendMail")
def send_mail(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-sendmail: 202 Accepted, no body; saved to
    # Sent Items unless saveToSentItems is false.
    payload = call.json()
    if not isinstance(payload.get("message"), dict):
        raise bad_request("The 'message' parameter is required.", code="ErrorInvalidRequest")
    save = payload.get("saveToSentItems", True)
    if not isinstance(save, bool):
        save = str(save).lower() != "false"
    with call.user.lock:
        message = build_message(call.user, payload["message"], draft=False)
        dispatch(call, call.user, message, save=save)
    return json_response(None, 202)


@message_routes("POST", "/send")
def send_draft(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-send: 202; the draft moves to Sent Items
    with call.user.lock:
        message = find_message(call)
        if not message["isDraft"]:
            raise GraphError(
                400, "ErrorInvalidOperation", "Only a draft message can be sent with /send."
            )
        dispatch(call, call.user, message, save=True)
    return json_response(None, 202)


def respond(call: Call, kind: str, *, send: bool) -> Response:
    payload = call.json()
    with call.user.lock:
        original = find_message(call)
        draft = reply_draft(call.user, original, kind, payload)
        if send:
            dispatch(call, call.user, draft, save=True)
            return json_response(None, 202)
        call.user.add_message(draft, "drafts")
        shown = public_message(call, draft)
    return json_response(shown, 201, headers=preference_headers(call))


@message_routes("POST", "/reply")
def reply(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-reply
    return respond(call, "reply", send=True)


@message_routes("POST", "/replyAll")
def reply_all(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-replyall
    return respond(call, "replyAll", send=True)


@message_routes("POST", "/forward")
def forward(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-forward
    return respond(call, "forward", send=True)


@message_routes("POST", "/createReply")
def create_reply(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-createreply: 201 and the draft
    return respond(call, "reply", send=False)


@message_routes("POST", "/createReplyAll")
def create_reply_all(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-createreplyall
    return respond(call, "replyAll", send=False)


@message_routes("POST", "/createForward")
def create_forward(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-createforward
    return respond(call, "forward", send=False)


# -- attachments -------------------------------------------------------------------------------


def find_attachment(message: dict[str, Any], key: str) -> dict[str, Any]:
    for attachment in message["_attachments"]:
        if attachment["id"] == key:
            return attachment
    raise item_not_found()


@message_routes("GET", "/attachments")
def list_attachments(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-list-attachments
    with call.user.lock:
        shown = [public_attachment(a) for a in find_message(call)["_attachments"]]
    return collection(call, shown, "microsoft.graph.attachment", default_order=None)


@message_routes("GET", "/attachments/{attachment}")
def get_attachment(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/attachment-get
    with call.user.lock:
        attachment = find_attachment(find_message(call), call.params["attachment"])
        shown = public_attachment(attachment)
    return json_response(odata.select(shown, select_of(call), "microsoft.graph.attachment"))


@message_routes("GET", "/attachments/{attachment}/$value")
def get_attachment_value(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/attachment-get (raw contents of a file attachment)
    with call.user.lock:
        attachment = find_attachment(find_message(call), call.params["attachment"])
    return Response(attachment["_bytes"], status=200, content_type=attachment["contentType"])


@message_routes("POST", "/attachments")
def add_attachment(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-post-attachments: files under 3 MB
    payload = call.json()
    with call.user.lock:
        message = find_message(call)
        attachment = read_attachment(payload)
        message["_attachments"].append(attachment)
        message["hasAttachments"] = any(not a["isInline"] for a in message["_attachments"])
        call.user.touch_message(message)
    return json_response(public_attachment(attachment), 201)


@message_routes("DELETE", "/attachments/{attachment}")
def delete_attachment(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/attachment-delete
    with call.user.lock:
        message = find_message(call)
        attachment = find_attachment(message, call.params["attachment"])
        message["_attachments"].remove(attachment)
        message["hasAttachments"] = any(not a["isInline"] for a in message["_attachments"])
        call.user.touch_message(message)
    return json_response(None, 204)


@message_routes("POST", "/attachments/createUploadSession")
def create_upload_session(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/attachment-createuploadsession and
    # https://learn.microsoft.com/graph/outlook-large-attachments (step 1): 201 and an
    # uploadSession whose uploadUrl is pre-authenticated.
    item = call.json().get("AttachmentItem") or {}
    size = item.get("size")
    if item.get("attachmentType", "file") != "file" or not item.get("name"):
        raise bad_request("AttachmentItem needs attachmentType 'file', a name and a size.")
    if not isinstance(size, int) or size < UPLOAD_MINIMUM:
        raise GraphError(
            400,
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        )
    if size > UPLOAD_MAXIMUM:
        raise GraphError(
            400,
            "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize",
            "Attachment size must not exceed 150 MB.",
        )
    with call.user.lock:
        message = find_message(call)
        session = UploadSession(
            id=new_item_id("AAMkAGUp"),
            token=secrets.token_urlsafe(32),
            mailbox=call.user,
            message_immutable_id=message["_immutableId"],
            name=str(item["name"]),
            size=size,
            content_type=str(item.get("contentType") or "application/octet-stream"),
            is_inline=bool(item.get("isInline")),
            expires_at=time.time() + 15 * 60,
        )
    call.standin.upload_sessions[session.id] = session
    return json_response(
        {
            "@odata.context": f"{call.standin.graph_url}/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": call.standin.upload_url(session),
            "expirationDateTime": stamp(now() + timedelta(minutes=15)),
            "nextExpectedRanges": ["0-"],
        },
        201,
    )


# -- delta -------------------------------------------------------------------------------------


@router.route("GET", "users/{user}/mailFolders/{folder}/messages/delta")
def messages_delta(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/message-delta and
    # https://learn.microsoft.com/graph/delta-query-messages: pages joined by @odata.nextLink,
    # the last one carrying @odata.deltaLink; a later round returns what changed since, and
    # removed items as {"id", "@removed": {"reason": "deleted"}}. The options of the first
    # request (the custom "changeType", created/updated/deleted, and a $filter, which delta
    # takes only as receivedDateTime ge|gt {value}) are carried in every link after it.
    args = {name.lower(): value for name, value in call.args.items()}
    size = page_size_preference(call)
    change_type = args.get("changetype")
    if change_type is not None and change_type not in ("created", "updated", "deleted"):
        raise bad_request(f"Invalid changeType '{change_type}'.")
    received = delta_filter(args.get("$filter"))
    with call.user.lock:
        folder_id = call.user.folder(call.params["folder"])["id"]
        if "$skiptoken" in args:
            since, offset, upto = decode_token(args["$skiptoken"])
        elif "$deltatoken" in args:
            since, offset, upto = int(decode_token(args["$deltatoken"])[0]), 0, call.user.sequence()
        else:
            since, offset, upto = INITIAL, 0, call.user.sequence()
        entries = [
            entry
            for entry in delta_entries(call, folder_id, since, upto, change_type)
            if "@removed" in entry or received is None or received.matches(entry)
        ]
    chunk = entries[offset : offset + size]
    body: dict[str, Any] = {"@odata.context": f"{call.standin.graph_url}/$metadata#Collection"}
    body["value"] = [
        entry if "@removed" in entry else odata.select(entry, select_of(call), MESSAGE_TYPE)
        for entry in chunk
    ]
    kept = {k: v for k, v in call.args.items() if k.lower() in ("$select", "$filter", "changetype")}
    if offset + size < len(entries):
        token = encode_token(since, offset + size, upto)
        body["@odata.nextLink"] = odata.next_link(call.url(), {**kept, "$skiptoken": token}, 0)
        body["@odata.nextLink"] = body["@odata.nextLink"].replace("&$skip=0", "")
    else:
        body["@odata.deltaLink"] = odata.next_link(
            call.url(), {**kept, "$deltatoken": encode_token(upto, 0, upto)}, 0
        ).replace("&$skip=0", "")
    return json_response(body, headers=preference_headers(call))


def delta_filter(text: str | None) -> odata.Filter | None:
    """The one $filter message delta takes: ``receivedDateTime ge|gt {value}``."""
    if text is None:
        return None
    if not re.fullmatch(r"\s*receivedDateTime\s+(ge|gt)\s+\S+\s*", text):
        raise bad_request(
            "Delta query supports $filter only on receivedDateTime with ge or gt.",
            code="ErrorInvalidUrlQueryFilter",
        )
    return odata.parse_filter(text, MESSAGE_TYPE)


def page_size_preference(call: Call) -> int:
    # Delta pages are sized with Prefer: odata.maxpagesize (delta-query-messages).
    value = call.prefer.get("odata.maxpagesize")
    if value and value.isdigit() and int(value) > 0:
        call.apply_preference(f"odata.maxpagesize={int(value)}")
        size = int(value)
    else:
        size = DEFAULT_PAGE
    return min(size, call.standin.page_cap or size)


# The "since" of a first round's pages; a delta token taken at sequence 0 is a later round.
INITIAL = -1


def delta_entries(
    call: Call, folder_id: str, since: int, upto: int, change_type: str | None = None
) -> list[dict[str, Any]]:
    """The folder's messages (first round), or what changed in ``(since, upto]``, of
    ``change_type`` only when given (a later round's filter; the first round has them all)."""
    mailbox = call.user
    if since == INITIAL:  # as the folder stood at ``upto``: later arrivals are the next round's
        arrived = {
            change.item
            for change in mailbox.changes
            if change.sequence <= upto and change.created and change.container == folder_id
        }
        return [
            public_message(call, m)
            for m in mailbox.messages.values()
            if m["parentFolderId"] == folder_id and m["_immutableId"] in arrived
        ]
    latest: dict[str, tuple[bool, str | None]] = {}
    created: set[str] = set()
    for change in mailbox.changes:
        in_range = since < change.sequence <= upto
        if in_range and change.kind == "messages" and change.container == folder_id:
            latest[change.item] = (change.removed, change.rest_id)
            if change.created:
                created.add(change.item)
    immutable_ids = call.wants_immutable_ids()
    entries = []
    for immutable, (removed, rest_id) in latest.items():
        message = mailbox.messages.get(immutable)
        if removed or message is None or message["parentFolderId"] != folder_id:
            if change_type in (None, "deleted"):
                entries.append(
                    {
                        "@odata.type": "#microsoft.graph.message",
                        "id": immutable if immutable_ids else (rest_id or immutable),
                        "@removed": {"reason": "deleted"},
                    }
                )
        elif change_type is None or change_type == (
            "created" if immutable in created else "updated"
        ):
            entries.append(public_message(call, message))
    return entries


def encode_token(since: int, offset: int, upto: int) -> str:
    return base64.urlsafe_b64encode(f"{since}.{offset}.{upto}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        since, offset, upto = base64.urlsafe_b64decode(padded).decode().split(".")
        return int(since), int(offset), int(upto)
    except (ValueError, binascii.Error) as error:
        raise GraphError(
            410, "SyncStateNotFound", "The sync state generation is not found."
        ) from error
