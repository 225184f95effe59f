"""``/deliveries``: how a callback went, and sending a failed one again."""

from __future__ import annotations

from typing import Any

from flask import g

from approvals.delivery.service import get_delivery, retry_delivery
from approvals.web import presenters
from approvals.web.request_db import request_transaction


def show(id: str) -> dict[str, Any]:  # noqa: A002 - named like every other path id
    with request_transaction() as session:
        return presenters.delivery(get_delivery(session, g.client_id, id))


def retry(id: str) -> tuple[dict[str, Any], int]:  # noqa: A002
    with request_transaction() as session:
        delivery = retry_delivery(session, g.client_id, id)
        return presenters.delivery(delivery), 202
