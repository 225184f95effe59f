"""The connector's mail shapes (its definitions, by the same names), for routes and documents.

Field names, types and defaults follow ``office365-outlook-connector.swagger.json``: a flow
built against the connector reads the same fields here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

MAX_SUBJECT = 255 * 4
MAX_ADDRESSES = 4096


class ClientSendAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Name: str = Field(min_length=1, max_length=255)
    ContentBytes: str = Field(description="The file, base64-encoded")

    @field_validator("ContentBytes")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64: {exc}") from None
        return value


class ClientSendHtmlMessage(BaseModel):
    """SendEmailV2's body: addresses separated by semicolons, an HTML body."""

    model_config = ConfigDict(extra="forbid")

    To: str = Field(min_length=3, max_length=MAX_ADDRESSES)
    Subject: str = Field(max_length=MAX_SUBJECT)
    Body: str
    From: str | None = Field(None, max_length=320)
    Cc: str | None = Field(None, max_length=MAX_ADDRESSES)
    Bcc: str | None = Field(None, max_length=MAX_ADDRESSES)
    Attachments: list[ClientSendAttachment] | None = None
    Sensitivity: str | None = None
    ReplyTo: str | None = Field(None, max_length=MAX_ADDRESSES)
    Importance: Literal["Low", "Normal", "High"] = "Normal"


class ClientSendMessage(ClientSendHtmlMessage):
    """SendEmail's body (deprecated): ``IsHtml`` says whether Body is HTML."""

    IsHtml: bool | None = None


class ReplyHtmlMessage(BaseModel):
    """ReplyToV3's body: an HTML reply, to whom the caller says (else the sender)."""

    model_config = ConfigDict(extra="forbid")

    To: str | None = Field(None, max_length=MAX_ADDRESSES)
    Cc: str | None = Field(None, max_length=MAX_ADDRESSES)
    Bcc: str | None = Field(None, max_length=MAX_ADDRESSES)
    Subject: str | None = Field(None, max_length=MAX_SUBJECT)
    Body: str | None = None
    ReplyAll: bool | None = None
    Importance: Literal["Low", "Normal", "High"] | None = None
    Attachments: list[ClientSendAttachment] | None = None


class MarkAsReadBody(BaseModel):
    """MarkAsRead_V3's body."""

    model_config = ConfigDict(extra="forbid")

    isRead: bool = Field(description="Mark as read (true) or unread (false).")


class ClientReceiveFileAttachment(BaseModel):
    Id: str | None = None
    Name: str | None = None
    ContentBytes: str | None = None
    ContentType: str | None = None
    Size: int | None = None
    IsInline: bool | None = None
    LastModifiedDateTime: str | None = None
    ContentId: str | None = None


class ClientReceiveMessageStringEnums(BaseModel):
    """A message as GetEmails (deprecated) answers it."""

    Importance: Literal["Low", "Normal", "High"] | None = None
    From: str | None = None
    To: str | None = None
    Cc: str | None = None
    Bcc: str | None = None
    ReplyTo: str | None = None
    Subject: str | None = None
    Body: str | None = None
    BodyPreview: str | None = None
    HasAttachment: bool | None = None
    Id: str | None = None
    InternetMessageId: str | None = None
    ConversationId: str | None = None
    DateTimeReceived: str | None = None
    IsRead: bool | None = None
    Attachments: list[ClientReceiveFileAttachment] | None = None
    IsHtml: bool | None = None


class ClientReceiveMessageList(RootModel[list[ClientReceiveMessageStringEnums]]):
    """GetEmails' answer: an array."""


class GraphClientReceiveFileAttachment(BaseModel):
    id: str | None = None
    name: str | None = None
    contentBytes: str | None = None
    contentType: str | None = None
    size: int | None = None
    isInline: bool | None = None
    lastModifiedDateTime: str | None = None
    contentId: str | None = None


class GraphClientReceiveMessage(BaseModel):
    """A message as GetEmailV2 and GetEmailsV3 answer it."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(None, alias="from")
    toRecipients: str | None = None
    ccRecipients: str | None = None
    bccRecipients: str | None = None
    replyTo: str | None = None
    subject: str | None = None
    body: str | None = None
    importance: Literal["low", "normal", "high"] | None = None
    bodyPreview: str | None = None
    hasAttachments: bool | None = None
    id: str | None = None
    internetMessageId: str | None = None
    conversationId: str | None = None
    receivedDateTime: str | None = None
    isRead: bool | None = None
    attachments: list[GraphClientReceiveFileAttachment] | None = None
    isHtml: bool | None = None


class BatchResponseGraphClientReceiveMessage(BaseModel):
    """``BatchResponse[GraphClientReceiveMessage]``: GetEmailsV3's answer."""

    value: list[GraphClientReceiveMessage]


class ClientReceiveMessage(ClientReceiveMessageStringEnums):
    """A message as OnNewEmail (deprecated) answers it: importance 0 (low), 1, 2 (high)."""

    Importance: int | None = None  # type: ignore[assignment]


class TriggerBatchResponseClientReceiveMessage(BaseModel):
    """``TriggerBatchResponse[ClientReceiveMessage]``: OnNewEmail's batch."""

    value: list[ClientReceiveMessage]


class TriggerBatchResponseGraphClientReceiveMessage(BaseModel):
    """``TriggerBatchResponse[GraphClientReceiveMessage]``: OnNewEmailV3's batch."""

    value: list[GraphClientReceiveMessage]
