"""Turn a request body into a validated model, or into one clear 400/422 error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from approvals.errors import ApprovalsError, BadRequest, Unprocessable

Model = TypeVar("Model", bound=BaseModel)

# pydantic error types that mean "the request is malformed" (400); the rest are 422.
_BAD_REQUEST_CODES = {
    "missing": "missing_field",
    "invalid_address": "invalid_address",
    "invalid_url": "invalid_url",
    "too_many_recipients": "invalid_address",
}


def parse_json(raw: bytes) -> Any:
    """The body as JSON; anything that is not UTF-8 JSON is a 400, never a 500."""
    if not raw.strip():
        raise BadRequest(
            "the request body is empty; a JSON object is required", code="malformed_json"
        )
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(
            f"the request body is not valid JSON: {exc}", code="malformed_json"
        ) from None


def _error_for(error: dict[str, Any]) -> ApprovalsError:
    field = ".".join(str(part) for part in error["loc"]) or None
    kind = error["type"]
    message = error["msg"] if not field else f"{field}: {error['msg']}"
    if kind in _BAD_REQUEST_CODES:
        return BadRequest(message, code=_BAD_REQUEST_CODES[kind], field=field)
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return BadRequest(message, code="invalid_type", field=field)
    return Unprocessable(
        message, code=kind if kind.startswith("invalid_") else "invalid_value", field=field
    )


def validate_body(model: type[Model], body: Any) -> Model:
    """Validate ``body``; the first problem found becomes the error the client sees."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_type")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # Prefer a 400 (malformed) over a 422 so clients fix the shape first.
        mapped = [_error_for(error) for error in errors]
        mapped.sort(key=lambda err: err.status)
        raise mapped[0] from None
