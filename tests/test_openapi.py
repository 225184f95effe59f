"""``/openapi.json`` lists every route the service serves, generated from the route table, with
the connector's operationIds where a route mirrors the connector."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from approvals.config import load_settings
from approvals.web.app import create_app

# A copy of shared/reference/ (the connector's published swagger, excerpt).
REFERENCE = Path(__file__).resolve().parent / "reference"
CONNECTOR = REFERENCE / "office365-outlook-connector.swagger.json"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    instance = tmp_path_factory.mktemp("openapi")
    return create_app(load_settings({"APPROVALS_INSTANCE_PATH": str(instance)}))


@pytest.fixture(scope="module")
def document(app: Flask) -> dict:
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200
    return answer.json


def _served(app: Flask) -> set[tuple[str, str]]:
    """Every route the app serves but the dashboard's (pages for a browser, not an API)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboard."):
            continue
        path = (
            re.sub(r"<int\([^)]*\):", "{", rule.rule)
            .replace("<int:", "{")
            .replace("<path:", "{")
            .replace("<", "{")
            .replace(">", "}")
        )
        found.update((method, path) for method in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_every_served_route_is_in_the_document_and_nothing_else(app: Flask, document: dict) -> None:
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == _served(app)


def test_operation_ids_are_unique_and_every_operation_has_one(document: dict) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all(ids)


def test_routes_that_mirror_the_connector_use_its_path_and_operation_id(document: dict) -> None:
    connector = json.loads(CONNECTOR.read_text())["paths"]
    mirrored = 0
    for path, item in document["paths"].items():
        theirs = connector.get("/{connectionId}" + path)
        if theirs is None:
            continue
        for method, operation in item.items():
            if method in theirs:
                assert operation["operationId"] == theirs[method]["operationId"], (method, path)
                mirrored += 1
    assert mirrored >= 7  # SendApprovalMail, SendMailWithOptions, their deletes, mail operations


def test_mirrored_operations_take_the_connectors_parameters_with_its_defaults(
    document: dict,
) -> None:
    connector = json.loads(CONNECTOR.read_text())["paths"]
    checked = 0
    for path, item in document["paths"].items():
        theirs = connector.get("/{connectionId}" + path, {})
        for method, operation in item.items():
            if method not in theirs:
                continue
            ours = {p["name"]: p for p in operation.get("parameters", [])}
            for param in theirs[method].get("parameters", []):
                if param.get("in") not in ("query", "path") or param["name"] == "connectionId":
                    continue
                assert param["name"] in ours, (method, path, param["name"])
                mine = ours[param["name"]]
                assert mine["in"] == param["in"], (method, path, param["name"])
                if "default" in param:
                    assert mine["schema"].get("default") == param["default"], (path, param["name"])
                if param.get("x-ms-url-encoding") == "double":
                    assert mine.get("x-ms-url-encoding") == "double", (path, param["name"])
                checked += 1
    assert checked >= 17


def test_request_and_answer_models_are_in_the_document(document: dict) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ApprovalMessage"]["properties"]["Subject"]["default"] == "Approval Request"
    assert schemas["MessageWithOptions"]["properties"]["Options"]["default"] == (
        "Choice1, Choice2, Choice3"
    )
    created = document["paths"]["/approvalmail/$subscriptions"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SubscriptionResponse"
    )
    for item in document["paths"].values():
        for operation in item.values():
            for answer in operation["responses"].values():
                for media in answer.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    assert ref is None or ref.split("/")[-1] in schemas


CALENDAR_AND_CONTACT_OPERATIONS = {
    "CalendarGetTables",
    "CalendarGetTables_V2",
    "CalendarGetItems",
    "V4CalendarGetItems",
    "GetEventsCalendarViewV3",
    "CalendarPostItem",
    "V4CalendarPostItem",
    "CalendarGetItem",
    "V3CalendarGetItem",
    "CalendarPatchItem",
    "V4CalendarPatchItem",
    "CalendarDeleteItem",
    "CalendarDeleteItem_V2",
    "ContactGetTables",
    "ContactGetTablesV2",
    "ContactGetItems",
    "ContactGetItems_V2",
    "ContactPostItem",
    "ContactPostItem_V2",
    "ContactGetItem",
    "ContactGetItem_V2",
    "ContactPatchItem",
    "ContactPatchItem_V2",
    "ContactDeleteItem",
    "ContactDeleteItem_V2",
}


def test_the_calendar_and_contact_operations_are_listed_at_the_connectors_paths(
    document: dict,
) -> None:
    connector = json.loads(CONNECTOR.read_text())["paths"]
    theirs = {
        op["operationId"]: (method, path.removeprefix("/{connectionId}"))
        for path, item in connector.items()
        for method, op in item.items()
        if isinstance(op, dict) and op.get("operationId") in CALENDAR_AND_CONTACT_OPERATIONS
    }
    ours = {
        op["operationId"]: (method, path)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if op["operationId"] in CALENDAR_AND_CONTACT_OPERATIONS
    }
    assert ours == theirs
    assert len(ours) == 25


# --- /swagger.json: the same API in OpenAPI 2.0, for Power Automate and Logic Apps ----------


@pytest.fixture(scope="module")
def swagger(app: Flask) -> dict:
    answer = app.test_client().get("/swagger.json")
    assert answer.status_code == 200
    return answer.json


def test_swagger_is_valid_openapi_2(swagger: dict) -> None:
    from openapi_spec_validator.validation import OpenAPIV2SpecValidator

    assert swagger["swagger"] == "2.0"
    assert [str(error)[:500] for error in OpenAPIV2SpecValidator(swagger).iter_errors()] == []


def test_swagger_lists_every_served_route_with_the_same_operation_ids(
    app: Flask, document: dict, swagger: dict
) -> None:
    def operations(doc: dict) -> dict[tuple[str, str], str]:
        return {
            (method.upper(), path): operation["operationId"]
            for path, item in doc["paths"].items()
            for method, operation in item.items()
            if not method.startswith("x-")
        }

    assert set(operations(swagger)) == _served(app)
    assert operations(swagger) == operations(document)


def test_swagger_marks_webhooks_labels_and_the_api_key_as_the_connector_products_read_them(
    swagger: dict,
) -> None:
    assert swagger["securityDefinitions"] == {
        "api_key": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Bearer ' followed by the API key (approvals keys create)",
        }
    }
    definitions = swagger["definitions"]
    for path, body in (
        ("/approvalmail/$subscriptions", "ApprovalEmailSubscription"),
        ("/mailwithoptions/$subscriptions", "OptionsEmailSubscription"),
    ):
        item = swagger["paths"][path]
        callback = item["x-ms-notification-content"]["schema"]["$ref"].split("/")[-1]
        assert "SelectedOption" in definitions[callback]["properties"]
        (parameter,) = [p for p in item["post"]["parameters"] if p["in"] == "body"]
        assert parameter["schema"]["$ref"] == f"#/definitions/{body}"
        notification = definitions[body]["properties"]["NotificationUrl"]
        assert notification["x-ms-notification-url"] is True
        assert notification["x-ms-visibility"] == "internal"
    for item in swagger["paths"].values():
        for method, operation in item.items():
            if method.startswith("x-"):
                continue
            assert operation["summary"]
            assert all(p["x-ms-summary"] for p in operation["parameters"]), operation
    assert swagger["paths"]["/openapi.json"]["get"]["security"] == []
    labels = definitions["ApprovalMessage"]["properties"]
    assert labels["HeaderText"]["x-ms-summary"] == "Header text"


def test_a_trigger_row_is_a_trigger_in_swagger() -> None:
    import dataclasses

    from approvals.web.openapi import build_document
    from approvals.web.routes import ROUTES
    from approvals.web.swagger import build_swagger

    rows = [
        dataclasses.replace(r, trigger="batch") if r.operation_id == "GetEmailsV3" else r
        for r in ROUTES
    ]
    built = build_swagger(rows, build_document(), "https://approvals.example.com")

    assert built["paths"]["/v3/Mail"]["get"]["x-ms-trigger"] == "batch"
    assert "x-ms-trigger" not in built["paths"]["/Mail"]["get"]
    assert (built["host"], built["basePath"], built["schemes"]) == (
        "approvals.example.com",
        "/",
        ["https"],
    )


def test_the_policy_fields_of_issue_17_are_documented(document: dict) -> None:
    schemas = document["components"]["schemas"]
    for body in ("ApprovalEmailSubscription", "OptionsEmailSubscription"):
        fields = schemas[body]["properties"]
        assert {
            "Policy",
            "Reminders",
            "Escalation",
            "AllowReassign",
            "ExpiresAfter",
            "NotifyOnExpiry",
            "RequireComment",
        } <= fields.keys()
        assert not {"Policy", "ExpiresAfter"} & set(schemas[body].get("required", []))
    assert schemas["ApprovalPolicy"]["properties"]["Type"]["enum"] == [
        "First",
        "All",
        "Quorum",
        "Collect",
    ]
    state = schemas["SubscriptionState"]["properties"]
    assert {"policy", "outcome", "answers", "answersNeeded", "reminders"} <= state.keys()
    assert "ReassignResponse" in {
        operation["operationId"]
        for methods in document["paths"].values()
        for operation in methods.values()
    }
