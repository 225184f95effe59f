"""The connector's contact operations through their routes, against the Graph stand-in.

The route -> task -> Graph path runs on both backends in the first test; the others check
behaviour that does not depend on the backend, on the embedded default only. Effects are
checked in the stand-in's mailboxes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.api import ApiUser
from tests.support.graph.mailbox import new_item_id
from tests.support.graph.server import GraphStandIn
from tests.support.m365 import bound_key, tenant_with
from tests.support.stack import Stack

OWN = "sales@contoso.example"
FOREIGN = "hr@contoso.example"
CONNECTOR = json.loads(
    (
        Path(__file__).resolve().parent / "reference" / "office365-outlook-connector.swagger.json"
    ).read_text()
)["definitions"]
READ_ONLY = {"id", "parentFolderId", "changeKey", "createdDateTime", "lastModifiedDateTime"}


@pytest.fixture
def tenant(graph: GraphStandIn) -> GraphStandIn:
    return tenant_with(graph, (OWN, FOREIGN))


@pytest.fixture
def m365(stack: Stack, tenant: GraphStandIn) -> Iterator[ApiUser]:
    user = bound_key(stack, "contacts", [OWN])
    yield user
    user.http.close()


def _id(value: str, times: int = 1) -> str:
    for _ in range(times):
        value = quote(value, safe="")
    return value


def _folder(tenant: GraphStandIn, name: str) -> str:
    """A contact folder made in OWN's default one, as ``POST /contactFolders`` makes it."""
    box = tenant.mailbox(OWN)
    with box.lock:
        folder = {"id": new_item_id("AAMkAGCf"), "displayName": name}
        box.contact_folders[folder["id"]] = folder
    return folder["id"]


def _stored(tenant: GraphStandIn) -> list[dict[str, Any]]:
    box = tenant.mailbox(OWN)
    with box.lock:
        return [dict(contact) for contact in box.contacts.values()]


def _address(n: int) -> dict[str, str]:
    return {
        "street": f"{n} Rue de Rivoli",
        "city": "Paris",
        "state": "IDF",
        "countryOrRegion": "France",
        "postalCode": f"7500{n}",
    }


EVERY_FIELD_V2 = {
    "givenName": "Ada",
    "homePhones": ["+33 1 00 00 00 01"],
    "birthday": "1990-05-17T11:59:00Z",
    "fileAs": "Lovelace, Ada",
    "displayName": "Ada Lovelace",
    "initials": "A.L.",
    "middleName": "Augusta",
    "nickName": "Countess",
    "surname": "Lovelace",
    "title": "Dr",
    "generation": "II",
    "emailAddresses": [{"name": "Ada", "address": "ada@fabrikam.example"}],
    "imAddresses": ["sip:ada@fabrikam.example"],
    "jobTitle": "Analyst",
    "companyName": "Fabrikam",
    "department": "Engines",
    "officeLocation": "Building 2",
    "profession": "Mathematician",
    "businessHomePage": "https://fabrikam.example/ada",
    "assistantName": "Charles",
    "manager": "Babbage",
    "businessPhones": ["+33 1 00 00 00 02"],
    "mobilePhone": "+33 6 00 00 00 03",
    "homeAddress": _address(1),
    "businessAddress": _address(2),
    "otherAddress": _address(3),
    "yomiCompanyName": "ファブリカム",
    "yomiGivenName": "エイダ",
    "yomiSurname": "ラブレス",
    "categories": ["Suppliers"],
}


def test_a_contact_round_trips_every_field_and_is_updated_and_deleted(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    folder = _folder(tenant, "Suppliers")
    folders = m365.http.get("/v2/datasets/contacts/tables")
    assert folders.status_code == 200, folders.text
    default, made = folders.json()["value"]
    assert (default["displayName"], made["displayName"]) == ("Contacts", "Suppliers")
    assert made["id"] == folder and made["parentFolderId"] == default["id"]
    items = f"/codeless/v1.0/me/contactFolders/{_id(folder, 2)}/contacts"

    created = m365.http.post(
        items, json=EVERY_FIELD_V2, headers={"Idempotency-Key": f"add-{uuid.uuid4()}"}
    )

    assert created.status_code == 201, created.text
    contact = created.json()
    assert set(contact) == set(CONNECTOR["ContactResponse_V2"]["properties"])
    assert {k: contact[k] for k in EVERY_FIELD_V2} == EVERY_FIELD_V2
    assert contact["parentFolderId"] == folder
    [stored] = _stored(tenant)
    assert {k: stored[k] for k in EVERY_FIELD_V2} == EVERY_FIELD_V2
    one = f"{items}/{_id(contact['id'], 2)}"
    read = m365.http.get(one)
    assert read.status_code == 200 and read.json() == contact
    listed = m365.http.get(items)
    assert [c["id"] for c in listed.json()["value"]] == [contact["id"]]

    patched = m365.http.patch(one, json={"jobTitle": "Chief Analyst", "id": "ignored"})
    assert patched.status_code == 200, patched.text
    [after] = _stored(tenant)
    assert after["jobTitle"] == "Chief Analyst"
    assert {k: after[k] for k in EVERY_FIELD_V2 if k != "jobTitle"} == {
        k: v for k, v in EVERY_FIELD_V2.items() if k != "jobTitle"
    }
    assert patched.json()["jobTitle"] == "Chief Analyst" and patched.json()["id"] == contact["id"]

    deleted = m365.http.delete(one)
    assert deleted.status_code == 204, deleted.text
    assert _stored(tenant) == []
    assert m365.http.get(one).status_code == 404
    assert m365.http.delete(one).status_code == 404


def test_the_deprecated_operations_use_the_pascal_case_shapes(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    tables = m365.http.get("/datasets/contacts/tables")
    assert tables.status_code == 200, tables.text
    [default] = tables.json()["value"]
    assert default["DisplayName"] == "Contacts"
    every_field = {
        (k[0].upper() + k[1:] if k != "mobilePhone" else "MobilePhone1"): v
        for k, v in EVERY_FIELD_V2.items()
    }
    every_field["EmailAddresses"] = [{"Name": "Ada", "Address": "ada@fabrikam.example"}]
    for part in ("HomeAddress", "BusinessAddress", "OtherAddress"):
        every_field[part] = {k[0].upper() + k[1:]: v for k, v in every_field[part].items()}
    assert set(every_field) == set(CONNECTOR["Contact"]["properties"]) - {
        "Id",
        "ParentFolderId",
        "ChangeKey",
        "DateTimeCreated",
        "DateTimeLastModified",
    }
    items = f"/datasets/contacts/tables/{_id(default['Name'], 2)}/items"

    created = m365.http.post(items, json=every_field)

    assert created.status_code == 200, created.text
    contact = created.json()
    assert set(contact) == set(CONNECTOR["ContactResponse"]["properties"])
    assert {k: contact[k] for k in every_field} == every_field
    [stored] = _stored(tenant)
    assert {k: stored[k] for k in EVERY_FIELD_V2} == EVERY_FIELD_V2
    # The default folder answers to its name as well as to its id.
    by_name = m365.http.get(f"/datasets/contacts/tables/Contacts/items/{_id(contact['Id'])}")
    assert by_name.status_code == 200 and by_name.json() == contact
    m365.http.post(items, json={"GivenName": "Grace", "Surname": "Hopper", "HomePhones": []})
    found = m365.http.get(items, params={"$filter": "givenName eq 'Grace'"})
    assert [c["Surname"] for c in found.json()["value"]] == ["Hopper"]
    ordered = m365.http.get(items, params={"$orderby": "givenName desc"})
    assert [c["GivenName"] for c in ordered.json()["value"]] == ["Grace", "Ada"]

    one = f"{items}/{_id(contact['Id'], 2)}"
    patched = m365.http.patch(one, json={"MobilePhone1": "+33 6 99 99 99 99"})
    assert patched.status_code == 200, patched.text
    ada = next(c for c in _stored(tenant) if c["givenName"] == "Ada")
    assert ada["mobilePhone"] == "+33 6 99 99 99 99" and ada["jobTitle"] == "Analyst"

    assert m365.http.delete(one).status_code == 200
    assert [c["givenName"] for c in _stored(tenant)] == ["Grace"]
    assert m365.http.delete(one).status_code == 404


def _refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text


def test_lists_follow_graphs_pages_within_top_and_bad_input_is_a_clear_4xx(
    m365: ApiUser, tenant: GraphStandIn
) -> None:
    items = "/codeless/v1.0/me/contactFolders/Contacts/contacts"
    for name in ("Alan", "Barbara", "Claude", "Donald", "Edsger"):
        added = m365.http.post(items, json={"givenName": name, "homePhones": []})
        assert added.status_code == 201, added.text
    tenant.cap_page_size(2)

    every = m365.http.get(items, params={"$orderby": "givenName"})
    four = m365.http.get(items, params={"$orderby": "givenName", "$top": "4", "$skip": "1"})

    assert [c["givenName"] for c in every.json()["value"]] == [
        "Alan",
        "Barbara",
        "Claude",
        "Donald",
        "Edsger",
    ]
    assert [c["givenName"] for c in four.json()["value"]] == [
        "Barbara",
        "Claude",
        "Donald",
        "Edsger",
    ]

    asked = len(tenant.requests())
    _refused(m365.http.get(items, params={"$top": "257"}), 400, "invalid_value")
    _refused(m365.http.get(items, params={"$filter": "(givenName eq 'Alan'"}), 400, "invalid_odata")
    _refused(m365.http.post(items, json={"surname": "Nobody"}), 400, "missing_field")
    _refused(m365.http.get(items, params={"mailboxAddress": FOREIGN}), 403, "mailbox_not_allowed")
    assert len(tenant.requests()) == asked  # none of these reached Graph
    unknown = f"/codeless/v1.0/me/contactFolders/{_id('AAMkAGno/such+folder=')}/contacts"
    _refused(m365.http.get(unknown), 404, "ErrorItemNotFound")
    _refused(
        m365.http.post(unknown, json={"givenName": "Lost", "homePhones": []}),
        404,
        "ErrorItemNotFound",
    )
    assert len(_stored(tenant)) == 5
