"""Which function runs each operationId (the worker's half of the route table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.graph.client import GraphClient
from worker.operations import calendar, contacts, mail
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
    "CalendarGetTables": calendar.get_tables,
    "CalendarGetTables_V2": calendar.get_tables_v2,
    "CalendarGetItems": calendar.get_items,
    "V4CalendarGetItems": calendar.get_items_v4,
    "GetEventsCalendarViewV3": calendar.calendar_view_v3,
    "CalendarPostItem": calendar.post_item,
    "V4CalendarPostItem": calendar.post_item_v4,
    "CalendarGetItem": calendar.get_item,
    "V3CalendarGetItem": calendar.get_item_v3,
    "CalendarPatchItem": calendar.patch_item,
    "V4CalendarPatchItem": calendar.patch_item_v4,
    "CalendarDeleteItem": calendar.delete_item,
    "CalendarDeleteItem_V2": calendar.delete_item_v2,
    "ContactGetTables": contacts.get_tables,
    "ContactGetTablesV2": contacts.get_tables_v2,
    "ContactGetItems": contacts.get_items,
    "ContactGetItems_V2": contacts.get_items_v2,
    "ContactPostItem": contacts.post_item,
    "ContactPostItem_V2": contacts.post_item_v2,
    "ContactGetItem": contacts.get_item,
    "ContactGetItem_V2": contacts.get_item_v2,
    "ContactPatchItem": contacts.patch_item,
    "ContactPatchItem_V2": contacts.patch_item_v2,
    "ContactDeleteItem": contacts.delete_item,
    "ContactDeleteItem_V2": contacts.delete_item_v2,
    # Polled triggers: one poll is one operation (approvals.triggers.polls).
    **{name: as_operation(trigger) for name, trigger in TRIGGERS.items()},
}


def handler_for(name: str) -> Handler | None:
    return HANDLERS.get(name)
