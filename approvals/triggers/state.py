"""The state a polled trigger's ``Location`` carries: signed, bound, opaque to the caller.

Logic Apps keeps no state for a polling trigger beyond the URL it was last told to poll, so
the URL carries it: the cursor where the next poll starts (a Graph delta link and when it
was taken; no secret), the API client and a digest of the trigger's parameters it is bound
to, and a chain digest that makes every state along one trigger's polls distinct (two polls
that found nothing may end on the same cursor, yet must not be taken for one another).
Signed with ``APPROVALS_SECRET_KEY`` (its fallbacks still read), so a tampered state, or one
made for another key or other parameters, is refused with 400.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from approvals.errors import BadRequest

SALT = "approvals.trigger-state"
# The query parameter that carries it (ours; the connector's engine keeps it in Location).
STATE_PARAM = "triggerState"


class InvalidTriggerState(BadRequest):
    code = "invalid_trigger_state"


@dataclass(frozen=True)
class TriggerState:
    client_id: str
    binding: str  # digest of the trigger, its mailbox and its parameters
    cursor: dict[str, Any]
    chain: str  # differs for every poll of one trigger


def binding(trigger: str, mailbox: str, params: dict[str, Any]) -> str:
    """What a state is bound to: the trigger, the mailbox and the parameters, with defaults."""
    canonical = json.dumps([trigger, mailbox, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def digest(token: str) -> str:
    """A token's fingerprint (64 hex characters): the key its poll is remembered by."""
    return hashlib.sha256(token.encode()).hexdigest()


class TriggerStates:
    """Makes and reads state tokens."""

    def __init__(self, secret_key: str, fallbacks: tuple[str, ...] = ()) -> None:
        # itsdangerous signs with the last key and accepts all of them.
        self._serializer = URLSafeSerializer([*reversed(fallbacks), secret_key], salt=SALT)

    def first(self, client_id: str, bound: str, cursor: dict[str, Any]) -> TriggerState:
        """The state of a trigger's first poll (each first poll is a trigger of its own)."""
        return TriggerState(client_id, bound, cursor, secrets.token_hex(8))

    def after(self, token: str, state: TriggerState, cursor: dict[str, Any]) -> TriggerState:
        """The state following ``token``: the same for every repeat of that poll."""
        return TriggerState(state.client_id, state.binding, cursor, digest(token)[:16])

    def dumps(self, state: TriggerState) -> str:
        return str(
            self._serializer.dumps(
                {"c": state.client_id, "b": state.binding, "k": state.cursor, "n": state.chain}
            )
        )

    def loads(self, token: str, *, client_id: str, bound: str) -> TriggerState:
        """The state in ``token``, if we signed it for this client and these parameters."""
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            raise InvalidTriggerState(
                "this trigger state was not issued by this service", field=STATE_PARAM
            ) from None
        if not (
            isinstance(value, dict)
            and isinstance(value.get("k"), dict)
            and isinstance(value.get("n"), str)
        ):
            raise InvalidTriggerState("unexpected trigger state", field=STATE_PARAM)
        if value.get("c") != client_id or value.get("b") != bound:
            raise InvalidTriggerState(
                "this trigger state belongs to another API key or other parameters",
                field=STATE_PARAM,
            )
        return TriggerState(client_id, bound, value["k"], value["n"])
