"""Which function runs each operationId (the worker's half of the route table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.graph.client import GraphClient
from worker.operations import mail
from worker.operations.results import Result
from worker.triggers.catalog import TRIGGERS, as_operation

Handler = Callable[[GraphClient, str, dict[str, Any]], Result]

HANDLERS: dict[str, Handler] = {
    "GetEmails": mail.get_emails,
    "GetEmailsV3": mail.get_emails_v3,
    "GetEmailV2": mail.get_email_v2,
    "SendEmail": mail.send_email,
    "SendEmailV2": mail.send_email_v2,
    "DeleteEmail": mail.delete_email,
    "DeleteEmail_V2": mail.delete_email,
    "MarkAsRead": mail.mark_as_read,
    "MarkAsRead_V3": mail.mark_as_read,
    "ReplyTo": mail.reply_to,
    "ReplyToV3": mail.reply_to_v3,
    "GetAttachment": mail.get_attachment,
    "GetAttachment_V2": mail.get_attachment_v2,
    # Polled triggers: one poll is one operation (approvals.triggers.polls).
    **{name: as_operation(trigger) for name, trigger in TRIGGERS.items()},
}


def handler_for(name: str) -> Handler | None:
    return HANDLERS.get(name)
