"""The connector's contact shapes (its definitions, by the same names), for routes and documents.

``Contact``/``ContactResponse`` (PascalCase) belong to the deprecated operations,
``Contact_V2``/``ContactResponse_V2`` (Graph's names) to their successors. A PATCH body is
the same shape with every field optional (``...Patch``): only the fields given change.
Read-only fields (ids, change key, times) are taken, as callers copy whole contacts, and
ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from approvals.operations.outlook_models import (
    MAX_TEXT,
    EmailAddress,
    EmailAddress_V2,
    PhysicalAddress,
    PhysicalAddress_V2,
)

Text = Field(None, max_length=MAX_TEXT)


class ContactResponse(BaseModel):
    """A contact as the deprecated operations answer it."""

    GivenName: str | None = Text
    HomePhones: list[str] | None = None
    Id: str | None = None
    ParentFolderId: str | None = None
    Birthday: str | None = Field(None, description="date-time")
    FileAs: str | None = Text
    DisplayName: str | None = Text
    Initials: str | None = Text
    MiddleName: str | None = Text
    NickName: str | None = Text
    Surname: str | None = Text
    Title: str | None = Text
    Generation: str | None = Text
    EmailAddresses: list[EmailAddress] | None = None
    ImAddresses: list[str] | None = None
    JobTitle: str | None = Text
    CompanyName: str | None = Text
    Department: str | None = Text
    OfficeLocation: str | None = Text
    Profession: str | None = Text
    BusinessHomePage: str | None = Text
    AssistantName: str | None = Text
    Manager: str | None = Text
    BusinessPhones: list[str] | None = None
    MobilePhone1: str | None = Text
    HomeAddress: PhysicalAddress | None = None
    BusinessAddress: PhysicalAddress | None = None
    OtherAddress: PhysicalAddress | None = None
    YomiCompanyName: str | None = Text
    YomiGivenName: str | None = Text
    YomiSurname: str | None = Text
    Categories: list[str] | None = None
    ChangeKey: str | None = None
    DateTimeCreated: str | None = None
    DateTimeLastModified: str | None = None


class ContactPatch(ContactResponse):
    """ContactPatchItem's body: ``Contact`` with every field optional."""

    model_config = ConfigDict(extra="forbid")


class Contact(ContactPatch):
    """ContactPostItem's body."""

    GivenName: str = Field(max_length=MAX_TEXT)  # type: ignore[assignment]
    HomePhones: list[str]  # type: ignore[assignment]


class EntityListResponseContactResponse(BaseModel):
    """``EntityListResponse[ContactResponse]``: ContactGetItems' answer."""

    value: list[ContactResponse]


class ContactResponse_V2(BaseModel):  # noqa: N801 - the connector's name
    """A contact as the current operations answer it (Graph's field names)."""

    id: str | None = None
    parentFolderId: str | None = None
    birthday: str | None = Field(None, description="date-time")
    fileAs: str | None = Text
    displayName: str | None = Text
    givenName: str | None = Text
    initials: str | None = Text
    middleName: str | None = Text
    nickName: str | None = Text
    surname: str | None = Text
    title: str | None = Text
    generation: str | None = Text
    emailAddresses: list[EmailAddress_V2] | None = None
    imAddresses: list[str] | None = None
    jobTitle: str | None = Text
    companyName: str | None = Text
    department: str | None = Text
    officeLocation: str | None = Text
    profession: str | None = Text
    businessHomePage: str | None = Text
    assistantName: str | None = Text
    manager: str | None = Text
    homePhones: list[str] | None = None
    businessPhones: list[str] | None = None
    mobilePhone: str | None = Text
    homeAddress: PhysicalAddress_V2 | None = None
    businessAddress: PhysicalAddress_V2 | None = None
    otherAddress: PhysicalAddress_V2 | None = None
    yomiCompanyName: str | None = Text
    yomiGivenName: str | None = Text
    yomiSurname: str | None = Text
    categories: list[str] | None = None
    changeKey: str | None = None
    createdDateTime: str | None = None
    lastModifiedDateTime: str | None = None


class Contact_V2Patch(ContactResponse_V2):  # noqa: N801
    """ContactPatchItem_V2's body: ``Contact_V2`` with every field optional."""

    model_config = ConfigDict(extra="forbid")


class Contact_V2(Contact_V2Patch):  # noqa: N801 - the connector's name
    """ContactPostItem_V2's body."""

    givenName: str = Field(max_length=MAX_TEXT)  # type: ignore[assignment]
    homePhones: list[str]  # type: ignore[assignment]


class EntityListResponseContactResponse_V2(BaseModel):  # noqa: N801
    """``EntityListResponse[ContactResponse]_V2``: ContactGetItems_V2's answer."""

    value: list[ContactResponse_V2]


class GraphContactFolder(BaseModel):
    id: str | None = None
    displayName: str | None = None
    parentFolderId: str | None = None


class EntityListResponseGraphContactFolder(BaseModel):
    """``EntityListResponse[GraphContactFolder]``: ContactGetTablesV2's answer."""

    value: list[GraphContactFolder]
