"""Every error the service raises on purpose, in one tree.

ApprovalsError
├── RequestError                    answered to an API client; status and code below
│   ├── BadRequest (400)            malformed JSON, wrong types, bad addresses, bad URL
│   ├── Unauthorized (401)          no or unknown API key
│   ├── Forbidden (403)             a key acting beyond what it is bound to
│   ├── NotFound (404)              unknown id, or another client's
│   ├── PayloadTooLarge (413)       body over APPROVALS_MAX_REQUEST_BYTES
│   ├── Unprocessable (422)         well-formed but unacceptable: option rules, idempotency reuse
│   ├── TooManyRequests (429)       over a rate limit; says when to retry
│   ├── NotConfigured (501)         Microsoft 365 operations without APPROVALS_GRAPH_*
│   └── ServiceUnavailable (503)    the database dropped the connection; nothing was kept
├── InvalidToken                    a link or confirmation nonce we did not sign (a 4xx page)
├── CredentialDecryptError          a stored secret that none of our keys decrypts
├── MailError                       sending one email failed; the recipient's row shows why
│   ├── TransientMailError          try again later (connection refused, 4xx, timeout)
│   │   └── OurSideMailError        our login or sender was refused: retried until fixed
│   └── PermanentMailError          give up on this recipient (5xx for the recipient)
└── (configuration)                 :class:`approvals.config.ConfigurationError`, at start

One Flask handler (``approvals.web.app``) turns a :class:`RequestError` into
``{"error": {"code", "message", "field"}}`` with its status and headers; anything else that
reaches it is a 500 whose details stay in the log.
"""

from __future__ import annotations


class ApprovalsError(Exception):
    """Base of every error the service raises on purpose."""


class RequestError(ApprovalsError):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(RequestError):
    status = 400
    code = "bad_request"


class Unauthorized(RequestError):
    status = 401
    code = "unauthorized"


class Forbidden(RequestError):
    status = 403
    code = "forbidden"


class NotFound(RequestError):
    status = 404
    code = "not_found"


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class Unprocessable(RequestError):
    status = 422
    code = "unprocessable"


class NotConfigured(RequestError):
    status = 501
    code = "graph_not_configured"


class _RetryLater(RequestError):
    def __init__(self, message: str, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyRequests(_RetryLater):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(_RetryLater):
    status = 503
    code = "database_unavailable"


class InvalidToken(ApprovalsError):
    """The token was tampered with, signed by an unknown key, or is not ours."""


class CredentialDecryptError(ApprovalsError):
    """A stored secret cannot be decrypted with the current key or any fallback."""


class MailError(ApprovalsError):
    """Sending failed; the message is what the recipient's row will show."""


class TransientMailError(MailError):
    pass


class OurSideMailError(TransientMailError):
    """The server refused our login or our sender: a configuration problem of ours that no
    recipient can fix, so the mail stays owed (retried on the schedule, then at its last step)
    until the configuration is fixed or the subscription ends."""


class PermanentMailError(MailError):
    pass
