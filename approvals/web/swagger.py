"""``GET /swagger.json``: the same API as ``/openapi.json``, in the OpenAPI 2.0 (Swagger)
shape that Power Automate and Logic Apps import as a custom connector.

It is translated from the OpenAPI 3.1 document (:func:`approvals.web.openapi.build_document`),
itself generated from the route table, so the two cannot drift. What only the connector
products read comes from the same rows: ``x-ms-summary`` labels, ``x-ms-notification-url`` on
a webhook's ``NotificationUrl``, ``x-ms-notification-content`` describing its callback,
``x-ms-trigger`` on triggers; security is the API key in the ``Authorization`` header.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from approvals.web.openapi import SCHEMAS, build_document
from approvals.web.route_types import Route

DEFINITIONS = "#/definitions/"
NOTIFICATION_URL = "NotificationUrl"
# JSON Schema (2020-12) keywords Swagger 2.0's schema object has no room for.
_DROPPED = {
    "$defs",
    "$schema",
    "const",
    "examples",
    "prefixItems",
    "contentEncoding",
    "contentMediaType",
    "propertyNames",
    "unevaluatedProperties",
    "dependentRequired",
    "if",
    "then",
    "else",
    "not",
    "discriminator",
    "exclusiveMinimum",
    "exclusiveMaximum",
}
# Keywords a non-body parameter takes over from its schema.
_PARAMETER_KEYWORDS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "x-nullable",
)


def label(name: str) -> str:
    """A field's name as a person reads it: ``folderPath`` -> ``Folder path``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-]+", " ", name).split()
    text = " ".join(w if w.isupper() else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def schema(value: Any) -> Any:
    """A JSON Schema (as pydantic writes it) in Swagger 2.0's subset."""
    if isinstance(value, list):
        return [schema(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "$ref":
            out[key] = item.replace(SCHEMAS, DEFINITIONS)
        elif key in ("anyOf", "oneOf"):
            # Swagger 2.0 has neither: "X or null" is X with x-nullable; any other union
            # keeps its first form (the one the docs lead with).
            forms = [form for form in item if form.get("type") != "null"]
            if len(forms) < len(item):
                out["x-nullable"] = True
            out.update(schema(forms[0]) if forms else {})
        elif key == "type" and isinstance(item, list):
            types = [t for t in item if t != "null"]
            if len(types) < len(item):
                out["x-nullable"] = True
            if types:
                out["type"] = types[0]
        elif key == "type" and item == "null":
            out["x-nullable"] = True
        elif key == "const":
            out["enum"] = [item]
        elif key == "examples" and isinstance(item, list) and item:
            out["example"] = item[0]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(item, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = item
            out[key] = True
        elif key in _DROPPED or (key == "default" and item is None):
            continue  # (Swagger 2.0 validators take no null default, even with x-nullable)
        elif key == "properties":
            out[key] = {name: _property(name, form) for name, form in item.items()}
        else:
            out[key] = schema(item)
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    return out


def _property(name: str, form: dict[str, Any]) -> dict[str, Any]:
    converted = schema(form)
    converted.pop("title", None)
    if "$ref" in converted:
        return converted  # a $ref must stand alone in Swagger 2.0
    converted["x-ms-summary"] = label(name)
    if name == NOTIFICATION_URL:
        # The flow engine fills it with its callback URL; a person never types it.
        converted["x-ms-notification-url"] = True
        converted["x-ms-visibility"] = "internal"
    return converted


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    form = schema(parameter.get("schema", {}))
    out = {
        "name": parameter["name"],
        "in": parameter["in"],
        "required": parameter.get("required", False),
        "x-ms-summary": label(parameter["name"]),
        **{key: form[key] for key in _PARAMETER_KEYWORDS if key in form},
    }
    out.setdefault("type", "string")
    for key in ("description", "x-ms-url-encoding"):
        if key in parameter:
            out[key] = parameter[key]
    return out


def _answer(answer: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    out: dict[str, Any] = {"description": answer.get("description") or "OK"}
    media = set(answer.get("content", {}))
    for kind, content in answer.get("content", {}).items():
        form = content.get("schema", {})
        if form.get("format") == "binary":
            out["schema"] = {"type": "string", "format": "binary"}
        elif kind.startswith("text/"):
            out["schema"] = {"type": "string"}
        else:
            out["schema"] = schema(form)
        break
    return out, media


def _operation(route: Route, operation: dict[str, Any]) -> dict[str, Any]:
    parameters = [_parameter(p) for p in operation.get("parameters", [])]
    consumes: list[str] = []
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        consumes = ["application/json"]
        parameters.append(
            {
                "name": route.body_name,
                "in": "body",
                "required": True,
                "schema": schema(body["application/json"]["schema"]),
                "x-ms-summary": label(route.body_name),
            }
        )
    elif "application/x-www-form-urlencoded" in body:
        consumes = ["application/x-www-form-urlencoded"]
        form = body["application/x-www-form-urlencoded"]["schema"]
        for name, field in form["properties"].items():
            parameters.append(
                {
                    "name": name,
                    "in": "formData",
                    "required": name in form.get("required", []),
                    "x-ms-summary": label(name),
                    **{k: v for k, v in schema(field).items() if k in _PARAMETER_KEYWORDS},
                }
            )
    responses: dict[str, Any] = {}
    produces: set[str] = set()
    for status, answer in operation["responses"].items():
        responses[status], media = _answer(answer)
        produces |= media
    out: dict[str, Any] = {
        "operationId": operation["operationId"],
        "summary": operation["summary"],
        "tags": operation.get("tags", []),
        "parameters": parameters,
        "responses": responses,
        "consumes": consumes,
        "produces": sorted(produces),
    }
    for key in ("description", "deprecated", "security"):
        if key in operation:
            out[key] = operation[key] if key != "security" else []
    if route.trigger:
        out["x-ms-trigger"] = route.trigger
    if route.deprecated:
        out["x-ms-visibility"] = "internal"
    return out


def build_swagger(routes: list[Route], document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The OpenAPI 2.0 form of ``document`` (built from ``routes``), served at ``base_url``."""
    rows = {route.operation_id: route for route in routes}
    paths: dict[str, dict[str, Any]] = {}
    for path, item in document["paths"].items():
        out: dict[str, Any] = {}
        for method, operation in item.items():
            route = rows[operation["operationId"]]
            out[method] = _operation(route, operation)
            if route.notification is not None:
                # Where the connector writes it: beside the operation, naming the callback.
                out["x-ms-notification-content"] = {
                    "description": "The answer, POSTed to NotificationUrl",
                    "schema": {"$ref": DEFINITIONS + route.notification.__name__},
                }
        paths[path] = out
    where = urlsplit(base_url)
    definitions = {name: schema(form) for name, form in document["components"]["schemas"].items()}
    for definition in definitions.values():
        definition.pop("title", None)
    return {
        "swagger": "2.0",
        "info": {
            "title": "approvals",
            "version": document["info"]["version"],
            "description": "Approval and options emails with signed callbacks, and the Office "
            "365 Outlook connector's operations, self-hosted.",
        },
        "host": where.netloc,
        "basePath": where.path or "/",
        "schemes": [where.scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "api_key": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "'Bearer ' followed by the API key (approvals keys create)",
            }
        },
        "security": [{"api_key": []}],
        "paths": paths,
        "definitions": definitions,
    }


@cache
def _cached(base_url: str) -> dict[str, Any]:
    from approvals.web.routes import ROUTES

    return build_swagger(ROUTES, build_document(), base_url)


def document() -> dict[str, Any]:
    from approvals.web.runtime import current_runtime

    return _cached(current_runtime().settings.base_url)
