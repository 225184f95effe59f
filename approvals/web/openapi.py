"""``GET /openapi.json``, generated from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic.json_schema import models_json_schema

import approvals
from approvals.schemas import (
    ApprovalEmailSubscription,
    ErrorBody,
    OptionsEmailSubscription,
    SubscriptionResponse,
)

bp = Blueprint("openapi", __name__)

_MODELS = [ApprovalEmailSubscription, OptionsEmailSubscription, SubscriptionResponse, ErrorBody]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _kind_paths(kind: str, body: str, summary: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{body}"}
    errors = {
        "400": _error("Malformed request"),
        "401": _error("No valid API key"),
        "413": _error("Body too large"),
        "422": _error("Unprocessable request"),
    }
    item_params = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        f"/{kind}/$subscriptions": {
            "post": {
                "summary": summary,
                "operationId": f"create_{kind}",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                    }
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {
                    "201": {
                        "description": "Subscription created",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SubscriptionResponse"}
                            }
                        },
                    },
                    **errors,
                },
            }
        },
        f"/{kind}/$subscriptions/{{id}}": {
            "get": {
                "summary": "The subscription's state",
                "operationId": f"get_{kind}",
                "parameters": item_params,
                "responses": {
                    "200": {
                        "description": "State",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "401": errors["401"],
                    "404": _error("Unknown subscription"),
                },
            },
            "delete": {
                "summary": "Unsubscribe",
                "operationId": f"delete_{kind}",
                "parameters": item_params,
                "responses": {
                    "200": {
                        "description": "Cancelled",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "401": errors["401"],
                    "404": _error("Unknown subscription"),
                },
            },
        },
    }


def build_document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(model, "validation") for model in _MODELS], ref_template="#/components/schemas/{model}"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "approvals", "version": approvals.__version__},
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            **_kind_paths("approvalmail", "ApprovalEmailSubscription", "Send approval email"),
            **_kind_paths("mailwithoptions", "OptionsEmailSubscription", "Send email with options"),
        },
    }


@bp.get("/openapi.json")
def document() -> dict[str, Any]:
    return build_document()
