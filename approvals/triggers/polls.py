"""A polled trigger: each poll is one connector operation, remembered by its state.

Logic Apps' polling protocol: nothing new is 202 with a ``Location`` (the URL to poll next,
carrying the state) and ``Retry-After``; new items are 200 with ``{"value": [...]}`` and a
``Location``. The worker runs the poll against Graph like any operation (only the worker
calls Graph); the operation's idempotency key is the incoming state's digest, so a poll
repeated with the same ``Location`` (an engine retrying a poll whose answer it lost) gets the
same batch and the same next ``Location`` again, for as long as results are kept
(``APPROVALS_OPERATION_RESULT_TTL``). A poll that failed, or whose answer is no longer
kept, is run again when repeated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from approvals.operations import service
from approvals.store.status import OperationStatus
from approvals.triggers.state import TriggerState, TriggerStates, digest

# The operation parameter that carries the cursor beside the trigger's own parameters.
CURSOR = "cursor"
KEY_PREFIX = "trigger:"
# How soon to poll again while the worker is still on it.
RUNNING_RETRY_AFTER = service.POLL_AGAIN_SECONDS


def start(
    session: Session,
    *,
    client_id: str,
    trigger: str,
    mailbox: str,
    params: dict[str, Any],
    token: str,
    state: TriggerState,
    keep: timedelta,
) -> service.Started:
    """The poll for ``token``: started now, or the one an earlier request with it started."""
    fingerprint = digest(token)
    key = KEY_PREFIX + fingerprint
    service.release_key(session, client_id, key)
    return service.start(
        session,
        client_id=client_id,
        name=trigger,
        mailbox=mailbox,
        params={**params, CURSOR: state.cursor},
        repeatable=True,
        keep=keep,
        idempotency_key=key,
        fingerprint=fingerprint,
    )


def answer(
    recorded: service.Recorded | None,
    *,
    token: str,
    state: TriggerState,
    states: TriggerStates,
    location: Callable[[str], str],
    base_url: str,
    interval: float,
) -> service.Answer:
    """The trigger's answer to a poll: its batch, or 202; each with where to poll next."""
    if recorded is None or recorded.status not in service.FINISHED:
        return service.Answer(
            202, b"", {"Location": location(token), "Retry-After": str(RUNNING_RETRY_AFTER)}
        )
    if recorded.status == OperationStatus.FAILED:
        return service.answer(recorded, base_url)  # Graph's refusal, as operations answer it
    found = json.loads(recorded.result_body or b"{}")
    following = states.dumps(states.after(token, state, found[CURSOR]))
    headers = {"Location": location(following)}
    if not found["value"]:
        return service.Answer(202, b"", {**headers, "Retry-After": str(max(1, round(interval)))})
    body = json.dumps({"value": found["value"]}, separators=(",", ":")).encode()
    return service.Answer(200, body, {**headers, "Content-Type": "application/json"})
