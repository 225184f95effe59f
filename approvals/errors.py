"""The service's errors, each with the HTTP status and error code a client sees.

ApprovalsError
├── BadRequest (400)            malformed JSON, wrong types, bad addresses, bad URL
├── Unprocessable (422)         well-formed but unacceptable: option rules, idempotency reuse
├── Unauthorized (401)          no or unknown API key
├── NotFound (404)              unknown id, or another client's
└── PayloadTooLarge (413)       body over APPROVALS_MAX_REQUEST_BYTES

One Flask handler turns any of these into ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations


class ApprovalsError(Exception):
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


class BadRequest(ApprovalsError):
    status = 400
    code = "bad_request"


class Unprocessable(ApprovalsError):
    status = 422
    code = "unprocessable"


class Unauthorized(ApprovalsError):
    status = 401
    code = "unauthorized"


class NotFound(ApprovalsError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ApprovalsError):
    status = 413
    code = "payload_too_large"
