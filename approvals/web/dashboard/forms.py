"""The new-request form: its fields become the API's JSON body, validated by the API's models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from approvals.approval.schemas import REQUEST_MODELS, ApprovalEmailSubscription
from approvals.web.validation import validate_fields

KIND_LABELS = {"approvalmail": "Approval email", "mailwithoptions": "Email with options"}
MESSAGE_FIELDS = ("To", "Subject", "Options", "HeaderText", "SelectionText", "Body")
IMPORTANCE = ("Low", "Normal", "High")


@dataclass
class NewRequestForm:
    """What the person typed (shown again with the errors) and, once valid, the request."""

    kind: str = "approvalmail"
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    request: ApprovalEmailSubscription | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")


def blank_form(kind: str = "approvalmail") -> NewRequestForm:
    model = REQUEST_MODELS.get(kind, ApprovalEmailSubscription)
    message = model.model_fields["Message"].annotation
    defaults = {
        name: str(info.default)
        for name, info in message.model_fields.items()  # type: ignore[union-attr]
        if name in ("Subject", "Options")
    }
    return NewRequestForm(kind=kind if kind in REQUEST_MODELS else "approvalmail", values=defaults)


def read_form(form: MultiDict[str, str]) -> NewRequestForm:
    """The posted form, validated exactly as ``POST /<kind>/$subscriptions`` would be."""
    kind = form.get("kind", "approvalmail")
    values = {name: form.get(name, "").strip() for name in (*MESSAGE_FIELDS, "NotificationUrl")}
    values["Importance"] = form.get("Importance", "Normal")
    result = NewRequestForm(kind=kind, values=values)
    if kind not in REQUEST_MODELS:
        result.errors["kind"] = "choose an approval email or an email with options"
        return result
    message: dict[str, Any] = {name: values[name] for name in MESSAGE_FIELDS if values[name]}
    message["Importance"] = values["Importance"]
    body = {"NotificationUrl": values["NotificationUrl"] or None, "Message": message}
    request, problems = validate_fields(REQUEST_MODELS[kind], body)
    result.errors = {name.removeprefix("Message."): text for name, text in problems.items()}
    result.request, result.body = request, body
    return result
