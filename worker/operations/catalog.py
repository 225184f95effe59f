"""Which function runs each operationId (the worker's half of the route table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.graph.client import GraphClient
from worker.operations import mail
from worker.operations.results import Result

Handler = Callable[[GraphClient, str, dict[str, Any]], Result]

HANDLERS: dict[str, Handler] = {
    "GetEmailV2": mail.get_email_v2,
    "GetEmailsV3": mail.get_emails_v3,
    "SendEmailV2": mail.send_email_v2,
}


def handler_for(name: str) -> Handler | None:
    return HANDLERS.get(name)
