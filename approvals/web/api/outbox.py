"""``/outbox/messages``: the mail the embedded default kept instead of sending it."""

from __future__ import annotations

from typing import Any

from flask import Response, g

from approvals import outbox
from approvals.errors import NotFound
from approvals.web import presenters
from approvals.web.request_db import request_transaction
from approvals.web.validation import query_choice, query_int


def list_messages() -> dict[str, Any]:
    limit = query_int("limit", 100, 1, 1000)
    with request_transaction() as session:
        found = outbox.list_messages(session, g.client_id, limit)
        return {"messages": [presenters.outbox_summary(m) for m in found]}


def show_message(id: int) -> Any:  # noqa: A002 - named like every other path id
    with request_transaction() as session:
        message = outbox.get_message(session, id, g.client_id)
        if message is None:
            raise NotFound("no such message", field="id")
        if query_choice("format", "json", ("json", "eml")) == "eml":
            return Response(
                message.raw,
                mimetype="message/rfc822",
                headers={"Content-Disposition": f'attachment; filename="message-{message.id}.eml"'},
            )
        return {**presenters.outbox_summary(message), "raw": message.raw}
