"""Which function finds each trigger's new items (the worker's half of the trigger rows).

A polled trigger runs as a connector operation (:func:`as_operation`): its answer holds the
batch and the cursor after it, which the web signs into the next ``Location``. A push
subscription's poll calls the same function (:mod:`worker.triggers.polling`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from approvals.triggers.polls import CURSOR
from worker.graph.client import GraphClient
from worker.operations.results import Result, json_result
from worker.triggers import mail
from worker.triggers.mail import Batch

Trigger = Callable[[GraphClient, str, dict[str, Any], dict[str, Any]], Batch]

TRIGGERS: dict[str, Trigger] = {
    "OnNewEmail": mail.on_new_email,
    "OnNewEmailV3": mail.on_new_email_v3,
}


def as_operation(trigger: Trigger) -> Callable[[GraphClient, str, dict[str, Any]], Result]:
    """``trigger`` as an operation handler: ``{"value": [...], "cursor": {...}}``."""

    def run(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
        own = {name: value for name, value in params.items() if name != CURSOR}
        batch = trigger(graph, mailbox, own, params[CURSOR])
        return json_result({"value": batch.items, CURSOR: batch.cursor})

    return run
