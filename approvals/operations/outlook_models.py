"""Connector shapes that calendars and contacts share: tables, addresses, email addresses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 4096


class Table(BaseModel):
    """A calendar or contact folder as the deprecated ``*GetTables`` list it."""

    Name: str | None = Field(None, description="The id; used at runtime.")
    DisplayName: str | None = None
    DynamicProperties: dict[str, Any] | None = None


class EntityListResponseTable(BaseModel):
    """``EntityListResponse[Table]``."""

    value: list[Table]


class EmailAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Name: str | None = Field(None, max_length=MAX_TEXT)
    Address: str | None = Field(None, max_length=320)


class EmailAddress_V2(BaseModel):  # noqa: N801 - the connector's name
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=MAX_TEXT)
    address: str | None = Field(None, max_length=320)


class PhysicalAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Street: str | None = Field(None, max_length=MAX_TEXT)
    City: str | None = Field(None, max_length=MAX_TEXT)
    State: str | None = Field(None, max_length=MAX_TEXT)
    CountryOrRegion: str | None = Field(None, max_length=MAX_TEXT)
    PostalCode: str | None = Field(None, max_length=MAX_TEXT)


class PhysicalAddress_V2(BaseModel):  # noqa: N801 - the connector's name
    model_config = ConfigDict(extra="forbid")

    street: str | None = Field(None, max_length=MAX_TEXT)
    city: str | None = Field(None, max_length=MAX_TEXT)
    state: str | None = Field(None, max_length=MAX_TEXT)
    countryOrRegion: str | None = Field(None, max_length=MAX_TEXT)
    postalCode: str | None = Field(None, max_length=MAX_TEXT)
