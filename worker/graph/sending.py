"""Sending and replying through Graph, with attachments of any size Graph accepts.

Graph takes a file attachment inline (base64 in the request) only under 3 MB; a larger one
goes through an upload session on a draft, which is then sent. So: everything small, one
``sendMail`` (or ``reply``) call; anything large, a draft (``POST /messages`` or
``createReply``), an upload session per large file, then ``send``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from worker.graph.client import GraphClient, segment

INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
UPLOAD_CHUNK = 320 * 1024 * 10  # upload sessions want ranges in multiples of 320 KiB


@dataclass(frozen=True)
class File:
    name: str
    content: bytes
    content_type: str = "application/octet-stream"


def _inline(files: list[File]) -> list[dict[str, Any]]:
    return [
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": f.name,
            "contentType": f.content_type,
            "contentBytes": base64.b64encode(f.content).decode("ascii"),
        }
        for f in files
    ]


def _split(files: list[File]) -> tuple[list[File], list[File]]:
    small = [f for f in files if len(f.content) < INLINE_ATTACHMENT_LIMIT]
    large = [f for f in files if len(f.content) >= INLINE_ATTACHMENT_LIMIT]
    return small, large


def send(graph: GraphClient, mailbox: str, message: dict[str, Any], files: list[File]) -> None:
    """Send ``message`` (Graph's resource, no attachments) with ``files`` from ``mailbox``."""
    small, large = _split(files)
    resource = {**message, **({"attachments": _inline(small)} if small else {})}
    if not large:
        graph.request(
            "POST", mailbox, "/sendMail", json={"message": resource, "saveToSentItems": True}
        )
        return
    draft = graph.request("POST", mailbox, "/messages", json=resource).json()
    _upload_and_send(graph, mailbox, draft["id"], large)


def reply(
    graph: GraphClient,
    mailbox: str,
    message_id: str,
    *,
    reply_all: bool,
    message: dict[str, Any] | None = None,
    comment: str | None = None,
    files: list[File] | None = None,
) -> None:
    """Reply (or reply all) to ``message_id``, so the answer threads with it."""
    small, large = _split(files or [])
    action = "replyAll" if reply_all else "reply"
    path = f"/messages/{segment(message_id)}"
    resource = {**(message or {}), **({"attachments": _inline(small)} if small else {})}
    if not large:
        body: dict[str, Any] = {"message": resource} if resource else {}
        if comment is not None:
            body["comment"] = comment
        graph.request("POST", mailbox, f"{path}/{action}", json=body)
        return
    create = "createReplyAll" if reply_all else "createReply"
    draft = graph.request("POST", mailbox, f"{path}/{create}", json={}).json()
    if comment is not None and "body" not in resource:
        resource["body"] = {"contentType": "Text", "content": comment}
    graph.request("PATCH", mailbox, f"/messages/{segment(draft['id'])}", json=resource)
    _upload_and_send(graph, mailbox, draft["id"], large)


def _upload_and_send(graph: GraphClient, mailbox: str, draft_id: str, large: list[File]) -> None:
    path = f"/messages/{segment(draft_id)}"
    for file in large:
        session = graph.request(
            "POST",
            mailbox,
            f"{path}/attachments/createUploadSession",
            json={
                "AttachmentItem": {
                    "attachmentType": "file",
                    "name": file.name,
                    "size": len(file.content),
                    "contentType": file.content_type,
                }
            },
        ).json()
        for start in range(0, len(file.content), UPLOAD_CHUNK):
            chunk = file.content[start : start + UPLOAD_CHUNK]
            end = start + len(chunk) - 1
            graph.upload(session["uploadUrl"], chunk, f"bytes {start}-{end}/{len(file.content)}")
    graph.request("POST", mailbox, f"{path}/send")
