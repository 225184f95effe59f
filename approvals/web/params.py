"""A route's query and path parameters, read by the schemas its row declares.

Connector operations take their parameters as the connector does: booleans as ``true`` or
``false``, integers within their bounds, strings from an enum, defaults when absent. A path
parameter the connector marks ``x-ms-url-encoding: double`` (Graph ids hold ``/``, ``+``,
``=``) is taken double-encoded, as Logic Apps sends it, or single-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from flask import request

from approvals.errors import BadRequest

if TYPE_CHECKING:
    from approvals.web.routes import Param, Route

MAX_TEXT = 4096


def read_params(
    route: Route, path_values: dict[str, str], query: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every declared query and path parameter, typed, with its default when absent.

    ``query``: the query parameters given another way (a push trigger subscription's
    ``parameters``, JSON scalars), instead of the request's query string."""
    values: dict[str, Any] = {}
    for param in route.params:
        if param.where == "path":
            raw: str | None = path_values.get(param.name)
            # Graph ids never hold "%": one left over means the caller encoded twice.
            if raw is not None and (param.encoding == "double" or param.graph_id) and "%" in raw:
                raw = unquote(raw)
        elif param.where == "query":
            raw = request.args.get(param.name) if query is None else _text(param, query)
        elif param.preference:
            raw = preference(request.headers.getlist("Prefer"), param.preference)
            if raw is not None:
                values[param.preference] = param.check(raw) if param.check else raw
            continue
        else:
            continue
        if raw is None or (raw == "" and param.where == "query"):
            if "default" in param.schema:
                values[param.name] = param.schema["default"]
            elif param.required:
                raise BadRequest(
                    f"{param.name} is required", code="missing_field", field=param.name
                )
            continue
        value = _typed(param, raw)
        values[param.name] = param.check(value) if param.check else value
    return values


def _text(param: Param, given: Mapping[str, Any]) -> str | None:
    """A JSON scalar as the query string would carry it."""
    value = given.get(param.name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise _bad(param, "must be a string, a number or true/false")


_PREFERENCE = re.compile(r'\s*([^=,;\s]+)\s*(?:=\s*("[^"]*"|[^,;]*))?[^,]*(?:,|$)')


def preference(headers: list[str], name: str) -> str | None:
    """The value of the preference ``name`` in ``Prefer`` headers (RFC 7240), unquoted."""
    for header in headers:
        for match in _PREFERENCE.finditer(header):
            if match.group(1).lower() == name.lower():
                return (match.group(2) or "").strip().strip('"')
    return None


def _typed(param: Param, raw: str) -> Any:
    schema = param.schema
    kind = schema.get("type", "string")
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise _bad(param, "must be true or false")
        return lowered == "true"
    if kind == "integer":
        text = raw.strip()
        if not (text.lstrip("-").isdigit() and text.isascii() and len(text) < 10):
            raise _bad(param, "must be a whole number")
        number = int(text)
        if number < schema.get("minimum", number) or number > schema.get("maximum", number):
            raise _bad(
                param, f"must be from {schema.get('minimum', '…')} to {schema.get('maximum', '…')}"
            )
        return number
    if "enum" in schema and raw not in schema["enum"]:
        raise _bad(param, "must be one of " + ", ".join(map(str, schema["enum"])))
    if len(raw) > schema.get("maxLength", MAX_TEXT):
        raise _bad(param, f"is longer than {schema.get('maxLength', MAX_TEXT)} characters")
    if "\x00" in raw:
        raise _bad(param, "must not contain NUL characters")
    return raw


def _bad(param: Param, problem: str) -> BadRequest:
    return BadRequest(f"{param.name} {problem}", code="invalid_value", field=param.name)
