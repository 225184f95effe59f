"""Request bodies, named and defaulted as the Office 365 Outlook connector names them.

These models both validate requests and generate ``/openapi.json``, so the document can never
drift from what the service accepts.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import idna
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from approvals.policies.schemas import EscalationRule, PolicyFields, PolicyResponse

MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 200
MAX_RECIPIENTS = 500
MAX_URL_LENGTH = 2048
_SEPARATORS = re.compile(r"[;,]")


def split_addresses(value: str) -> list[str]:
    """Addresses separated by ``;`` (or ``,``), each checked, duplicates dropped ignoring case."""
    seen: set[str] = set()
    addresses: list[str] = []
    for part in _SEPARATORS.split(value):
        candidate = part.strip()
        if not candidate:
            continue
        try:
            address = validate_email(candidate, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise PydanticCustomError(
                "invalid_address",
                "'{address}' is not a valid email address: {reason}",
                {"address": candidate, "reason": str(exc)},
            ) from None
        if address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    if not addresses:
        raise PydanticCustomError("invalid_address", "at least one recipient address is required")
    if len(addresses) > MAX_RECIPIENTS:
        raise PydanticCustomError(
            "too_many_recipients", "at most {max} recipients", {"max": MAX_RECIPIENTS}
        )
    return addresses


def split_options(value: str) -> list[str]:
    """Comma-separated options, trimmed; 1 to 100, none blank, none repeated."""
    options = [part.strip() for part in value.split(",")]
    if any(not option for option in options):
        raise PydanticCustomError("invalid_options", "options must not be blank")
    if len(options) > MAX_OPTIONS:
        raise PydanticCustomError("invalid_options", "at most {max} options", {"max": MAX_OPTIONS})
    if any(len(option) > MAX_OPTION_LENGTH for option in options):
        raise PydanticCustomError(
            "invalid_options",
            "an option is longer than {max} characters",
            {"max": MAX_OPTION_LENGTH},
        )
    lowered = [option.lower() for option in options]
    if len(set(lowered)) != len(lowered):
        raise PydanticCustomError("invalid_options", "options must not repeat")
    return options


class ClientSendAttachment(BaseModel):
    """An attachment: a name and its content in base64."""

    Name: str = Field(min_length=1, max_length=255)
    ContentBytes: str = Field(json_schema_extra={"format": "byte"})

    @field_validator("ContentBytes")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise PydanticCustomError(
                "invalid_base64", "ContentBytes is not valid base64"
            ) from None
        return value

    def content(self) -> bytes:
        return base64.b64decode(self.ContentBytes)


class ApprovalMessage(BaseModel):
    """The approval email (connector definition ``ApprovalMessage``)."""

    model_config = ConfigDict(extra="ignore")

    To: str = Field(description="Email addresses separated by semicolons", min_length=1)
    Subject: str = Field("Approval Request", max_length=998)
    Options: str = Field("Approve, Reject", description="Comma-separated options")
    HeaderText: str | None = None
    SelectionText: str | None = None
    Body: str | None = None
    Importance: Literal["Low", "Normal", "High"] = "Normal"
    Attachments: list[ClientSendAttachment] | None = None
    UseOnlyHTMLMessage: bool = False
    HideHTMLMessage: bool = False
    ShowHTMLConfirmationDialog: bool = False
    HideMicrosoftFooter: bool = False

    @field_validator("To")
    @classmethod
    def _to(cls, value: str) -> str:
        return ";".join(split_addresses(value))

    @field_validator("Options")
    @classmethod
    def _options(cls, value: str) -> str:
        return ", ".join(split_options(value))

    def recipients(self) -> list[str]:
        return self.To.split(";")

    def option_list(self) -> list[str]:
        return split_options(self.Options)


class MessageWithOptions(ApprovalMessage):
    """The options email (connector definition ``MessageWithOptions``)."""

    Subject: str = Field("Your input is required", max_length=998)
    Options: str = Field("Choice1, Choice2, Choice3", description="Comma-separated options")


# What may stay as it is in a path, query or fragment; everything else is percent-encoded.
# "%" is kept so escapes the caller already wrote are not encoded twice.
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


def _ascii_host(host: str) -> str:
    """The host as DNS and HTTP carry it: an internationalised name in IDNA (UTS 46)."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise PydanticCustomError(
            "invalid_url",
            "NotificationUrl has an invalid host name: {reason}",
            {"reason": str(exc)},
        ) from None


def normalise_url(value: str) -> str:
    """An absolute http(s) URL in the ASCII form HTTP sends: an internationalised host in IDNA,
    other characters of path, query and fragment percent-encoded (RFC 3986/3987)."""
    if len(value) > MAX_URL_LENGTH:
        raise PydanticCustomError("invalid_url", "NotificationUrl is longer than 2048 characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise PydanticCustomError("invalid_url", "NotificationUrl contains control characters")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("invalid_url", "NotificationUrl must be an absolute http(s) URL")
    try:
        port = parts.port
    except ValueError:
        raise PydanticCustomError("invalid_url", "NotificationUrl has an invalid port") from None
    if " " in parts.hostname or "\\" in parts.hostname:
        raise PydanticCustomError("invalid_url", "NotificationUrl has an invalid host name")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = _ascii_host(host) + (f":{port}" if port is not None else "")
    if parts.username is not None:
        userinfo = quote(unquote(parts.username), safe="")
        if parts.password is not None:
            userinfo += ":" + quote(unquote(parts.password), safe="")
        netloc = f"{userinfo}@{netloc}"
    normal = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URL_SAFE) or "/",
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )
    if len(normal) > MAX_URL_LENGTH:
        raise PydanticCustomError("invalid_url", "NotificationUrl is longer than 2048 characters")
    return normal


class _EmailSubscription(PolicyFields):
    # Required, as in the connector; null (an extension) asks for no callback at all: the
    # caller polls the subscription instead (``approvals ask --wait`` does).
    NotificationUrl: str | None = Field(
        description="Where the chosen option is POSTed (kept in the ASCII form HTTP sends); "
        "null for no callback (poll the subscription instead)"
    )

    @field_validator("NotificationUrl")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else normalise_url(value)

    @field_validator("Escalation")
    @classmethod
    def _escalation_to(cls, value: EscalationRule | None) -> EscalationRule | None:
        if value is not None:
            value.To = ";".join(split_addresses(value.To))
        return value

    @model_validator(mode="after")
    def _policy(self) -> _EmailSubscription:
        message: ApprovalMessage = self.Message  # type: ignore[attr-defined]
        self.check_policy(message.option_list(), len(message.recipients()))
        return self


class ApprovalEmailSubscription(_EmailSubscription):
    """``POST /approvalmail/$subscriptions``."""

    Message: ApprovalMessage


class OptionsEmailSubscription(_EmailSubscription):
    """``POST /mailwithoptions/$subscriptions``."""

    Message: MessageWithOptions


SubscriptionRequest = ApprovalEmailSubscription | OptionsEmailSubscription

REQUEST_MODELS: dict[str, type[ApprovalEmailSubscription] | type[OptionsEmailSubscription]] = {
    "approvalmail": ApprovalEmailSubscription,
    "mailwithoptions": OptionsEmailSubscription,
}


class SubscriptionResponse(BaseModel):
    """The 201 answer (connector definition ``SubscriptionResponse``)."""

    id: str
    resource: str
    notificationType: str
    notificationUrl: str | None = Field(description="null: no callback was asked for")


class ApprovalEmailResponse(BaseModel):
    """The callback POSTed to NotificationUrl (the connector's definition, plus our fields).

    For a request decided under the ``First`` policy it is the connector's body; under the
    other policies, and when a request expires, the connector's fields carry the deciding
    answer (null when none decided it) and ``Outcome`` and ``Responses`` are added.
    """

    SelectedOption: str | None = Field(
        description="The option confirmed (or decided); null when undecided or expired"
    )
    UserEmailAddress: str | None = Field(description="The address of the recipient who answered")
    UserTenantId: str | None = Field(None, description="Always null (no Entra tenant)")
    UserId: str | None = Field(description="The recipient's id")
    SubscriptionId: str = Field(description="The subscription answered")
    Comment: str = Field("", description="The recipient's comment, if any")
    RespondedAt: str | None = Field(description="When they confirmed (ISO 8601, UTC)")
    Outcome: Literal["decided", "undecided", "expired"] | None = Field(
        None, description="How the request ended (approval policies and expiry only)"
    )
    Responses: list[PolicyResponse] | None = Field(
        None, description="Every recorded answer (approval policies and expiry only)"
    )
