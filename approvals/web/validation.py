"""Turn a request body into a validated model, or into one clear 400/422 error."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from approvals.errors import BadRequest, PayloadTooLarge, RequestError, Unprocessable

Model = TypeVar("Model", bound=BaseModel)

# pydantic error types that mean "the request is malformed" (400); the rest are 422.
_BAD_REQUEST_CODES = {
    "missing": "missing_field",
    "invalid_address": "invalid_address",
    "invalid_url": "invalid_url",
    "too_many_recipients": "invalid_address",
    "invalid_time_zone": "invalid_time_zone",
    "invalid_time_range": "invalid_time_range",
}


# Deeper than any real request; deep enough nesting would exhaust Python's recursion later.
MAX_JSON_DEPTH = 32


def read_body(max_bytes: int) -> bytes:
    """The request body, refusing more than ``max_bytes`` even when it arrives chunked.

    With a Content-Length Werkzeug refuses an oversized body itself; a chunked body it would
    silently cut at the limit, so that one is read here and measured.
    """
    if request.content_length is not None:
        return request.get_data()
    data = request.environ["wsgi.input"].read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    return data


def parse_json(raw: bytes) -> Any:
    """The body as UTF-8 JSON; anything else is a 400, never a 500."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not UTF-8: {exc}", code="malformed_json") from None
    if not text.strip():
        raise BadRequest(
            "the request body is empty; a JSON object is required", code="malformed_json"
        )
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(
            f"the request body is not valid JSON: {exc}", code="malformed_json"
        ) from None
    _check_values(body)
    return body


def _check_values(body: Any) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH, NUL characters and lone surrogates.

    NUL cannot be stored in PostgreSQL text nor sent in a mail header, and a lone surrogate
    (from a ``\\ud800`` escape) cannot be encoded at all; both would fail much later.
    """
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(
                f"the request body is nested deeper than {MAX_JSON_DEPTH} levels",
                code="malformed_json",
            )
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise BadRequest("text must not contain NUL characters", code="invalid_characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(
                    "text must not contain lone surrogates", code="invalid_characters"
                ) from None


def _error_for(error: dict[str, Any]) -> RequestError:
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


def validate_fields(
    model: type[Model], body: dict[str, Any]
) -> tuple[Model | None, dict[str, str]]:
    """Validate a form's ``body`` like the API's; every problem by field, for the form to show
    beside each field (the API stops at the first)."""
    _check_values(body)
    try:
        return model.model_validate(body), {}
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors(include_url=False):
            failure = _error_for(error)
            problems.setdefault(failure.field or "", error["msg"])
        return None, problems


def query_int(name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within bounds; anything else is a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10) or not (
        minimum <= int(raw) <= maximum
    ):
        raise BadRequest(
            f"{name} must be a whole number from {minimum} to {maximum}",
            code="invalid_value",
            field=name,
        )
    return int(raw)


def query_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A query parameter that must be one of ``choices``; anything else is a 400 naming it."""
    raw = request.args.get(name, default)
    if raw not in choices:
        raise BadRequest(
            f"{name} must be one of {', '.join(choices)}", code="invalid_value", field=name
        )
    return raw
