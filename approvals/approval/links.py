"""Signed tokens for recipient links and the confirmation form.

A response token binds one recipient of one subscription; it carries no expiry of its own
because it lives exactly as long as its subscription, which the page checks in the database.
Rotating ``APPROVALS_SECRET_KEY`` keeps old links valid while the old key is a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from approvals.errors import InvalidToken

RESPONSE_SALT = "approvals.respond"
CONFIRM_SALT = "approvals.confirm"
# A person has this long between opening the page and pressing Confirm.
CONFIRM_MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ResponseTarget:
    subscription_id: str
    recipient_id: str


class Links:
    """Makes and reads the tokens in email links and on the confirmation form."""

    def __init__(self, secret_key: str, fallbacks: tuple[str, ...] = ()) -> None:
        # itsdangerous signs with the last key and accepts all of them.
        keys = [*reversed(fallbacks), secret_key]
        self._response = URLSafeSerializer(keys, salt=RESPONSE_SALT)
        self._confirm = URLSafeTimedSerializer(keys, salt=CONFIRM_SALT)

    def response_token(self, subscription_id: str, recipient_id: str) -> str:
        return self._response.dumps([subscription_id, recipient_id])

    def read_response_token(self, token: str) -> ResponseTarget:
        try:
            value = self._response.loads(token)
        except BadSignature as exc:
            raise InvalidToken(str(exc)) from exc
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
        ):
            raise InvalidToken("unexpected token payload")
        return ResponseTarget(subscription_id=value[0], recipient_id=value[1])

    def confirm_nonce(self, token: str, option: int) -> str:
        """The form's CSRF nonce: proves the POST came from the page we rendered for this link."""
        return self._confirm.dumps([token[-32:], option])

    def check_confirm_nonce(self, nonce: str, token: str, option: int) -> None:
        try:
            value = self._confirm.loads(nonce, max_age=CONFIRM_MAX_AGE_SECONDS)
        except SignatureExpired as exc:
            raise InvalidToken("the confirmation page is too old; open the link again") from exc
        except BadSignature as exc:
            raise InvalidToken(str(exc)) from exc
        if value != [token[-32:], option]:
            raise InvalidToken("nonce does not match this link")

    def reassign_nonce(self, token: str) -> str:
        """The hand-over form's nonce: the POST came from the page we rendered for this link."""
        return self._confirm.dumps([token[-32:], "reassign"])

    def check_reassign_nonce(self, nonce: str, token: str) -> None:
        try:
            value = self._confirm.loads(nonce, max_age=CONFIRM_MAX_AGE_SECONDS)
        except SignatureExpired as exc:
            raise InvalidToken("the page is too old; open the link again") from exc
        except BadSignature as exc:
            raise InvalidToken(str(exc)) from exc
        if value != [token[-32:], "reassign"]:
            raise InvalidToken("nonce does not match this link")
