"""``GET /openapi.json``: generated whole from the route table and its pydantic models.

Nothing here is written per route: a row of :data:`approvals.web.routes.ROUTES` is a path in
the document, with the connector's operationId, its parameters, body and answer schemas, and
the error statuses it can give.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import approvals
from approvals.operations.answers import OperationPending
from approvals.web.answers import ErrorBody

if TYPE_CHECKING:
    from approvals.web.routes import Route

ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "No valid API key (or, on /metrics, metrics token)",
    403: "Not allowed for this key (mailbox_not_allowed: a mailbox it is not bound to)",
    404: "Not found (or another client's)",
    409: "Already answered",
    410: "Withdrawn or expired",
    413: "Body too large",
    414: "Request line too long (the web server's limit, 8 KB); answered as HTML",
    422: "Unprocessable request",
    501: "No Microsoft 365 tenant is configured (APPROVALS_GRAPH_*)",
    502: "Microsoft Graph failed (its code and message are in the error)",
    504: "Microsoft Graph did not answer in time",
    429: "Too many requests (see Retry-After)",
    503: "Database unavailable for a moment; nothing was kept (see Retry-After)",
}
# Every route can be refused for these, whatever it does (400: an unknown query parameter).
ALWAYS = {"api": (400, 401, 429, 503), "page": (429, 503), "public": ()}
SCHEMAS = "#/components/schemas/"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS + model.__name__}


def _error(route: Route, status: int) -> dict[str, Any]:
    if (route.access == "page" and status != 503) or status == 414:
        html = {"text/html": {"schema": {"type": "string"}}}
        return {"description": ERROR_DESCRIPTIONS[status], "content": html}
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": _ref(ErrorBody)}},
    }


def _operation(route: Route) -> dict[str, Any]:
    if route.answer is not None:
        success = {route.media: {"schema": _ref(route.answer)}}
    elif route.media in ("text/html", "text/plain"):
        success = {route.media: {"schema": {"type": "string"}}}
    elif route.media != "application/json":
        success = {route.media: {"schema": {"type": "string", "format": "binary"}}}
    else:
        success = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {str(route.status): {"description": "OK", "content": success}}
    if route.status == 204:
        responses["204"] = {"description": "Done; no content"}
    if route.deferrable:
        responses["202"] = {
            "description": "Still running: poll Location (/operations/{id}) after Retry-After",
            "content": {"application/json": {"schema": _ref(OperationPending)}},
        }
    for status, description, model in route.also:
        responses[str(status)] = {
            "description": description,
            "content": {route.media: {"schema": _ref(model)}},
        }
    if route.trigger:
        responses["202"] = {
            "description": "Nothing new: poll Location (it carries the trigger's state) after "
            "Retry-After"
        }
    has_query = any(p.where == "query" for p in route.params)
    for status in sorted({*route.errors, *ALWAYS[route.access], *((414,) if has_query else ())}):
        responses[str(status)] = _error(route, status)
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "schema": p.schema,
                **({"description": p.description} if p.description else {}),
                **({"x-ms-url-encoding": "double"} if p.encoding == "double" else {}),
            }
            for p in route.params
        ],
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if route.deprecated:
        operation["deprecated"] = True
    if route.trigger:
        operation["x-ms-trigger"] = route.trigger
    if route.access != "api":
        operation["security"] = []
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    elif route.access == "page" and route.method == "POST":
        operation["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": CONFIRM_FORM}},
        }
    return operation


CONFIRM_FORM = {
    "type": "object",
    "required": ["option", "nonce"],
    "properties": {
        "option": {"type": "integer", "minimum": 0},
        "nonce": {"type": "string", "description": "signed for this link and option"},
        "comment": {"type": "string", "maxLength": 2000},
    },
}


@cache
def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route the service serves."""
    from approvals.web.routes import ROUTES

    models = {ErrorBody, OperationPending}
    for route in ROUTES:
        models.update(m for m in (route.body, route.answer) if m is not None)
        models.update(model for _, _, model in route.also)
        if route.notification is not None:
            models.add(route.notification)
    _, schemas = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template=SCHEMAS + "{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "approvals", "version": approvals.__version__},
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def document() -> dict[str, Any]:
    return build_document()
