"""The connector's contact operations on Graph's contact folders and contacts.

A folder is its id, or ``Contacts`` (any case) for the default folder: Graph takes that
well-known name for the folder's id. ``Contact``/``ContactResponse`` (deprecated) differ from
Graph's contact in case and in ``MobilePhone1``; ``Contact_V2``/``ContactResponse_V2`` use
Graph's names. Each is mapped field by field; read-only fields a caller sends (ids, change
key, times) are dropped.
"""

from __future__ import annotations

from typing import Any

from worker.graph.client import GraphClient, segment
from worker.operations.listing import MAX_LIST, collect, odata_query, wanted
from worker.operations.results import Result, empty_result, json_result

DEFAULT_FOLDER = "Contacts"
# (the deprecated shape's name, Graph's and Contact_V2's), in the connector's order.
FIELDS = (
    ("GivenName", "givenName"),
    ("HomePhones", "homePhones"),
    ("Id", "id"),
    ("ParentFolderId", "parentFolderId"),
    ("Birthday", "birthday"),
    ("FileAs", "fileAs"),
    ("DisplayName", "displayName"),
    ("Initials", "initials"),
    ("MiddleName", "middleName"),
    ("NickName", "nickName"),
    ("Surname", "surname"),
    ("Title", "title"),
    ("Generation", "generation"),
    ("EmailAddresses", "emailAddresses"),
    ("ImAddresses", "imAddresses"),
    ("JobTitle", "jobTitle"),
    ("CompanyName", "companyName"),
    ("Department", "department"),
    ("OfficeLocation", "officeLocation"),
    ("Profession", "profession"),
    ("BusinessHomePage", "businessHomePage"),
    ("AssistantName", "assistantName"),
    ("Manager", "manager"),
    ("BusinessPhones", "businessPhones"),
    ("MobilePhone1", "mobilePhone"),
    ("HomeAddress", "homeAddress"),
    ("BusinessAddress", "businessAddress"),
    ("OtherAddress", "otherAddress"),
    ("YomiCompanyName", "yomiCompanyName"),
    ("YomiGivenName", "yomiGivenName"),
    ("YomiSurname", "yomiSurname"),
    ("Categories", "categories"),
    ("ChangeKey", "changeKey"),
    ("DateTimeCreated", "createdDateTime"),
    ("DateTimeLastModified", "lastModifiedDateTime"),
)
READ_ONLY = {"id", "parentFolderId", "changeKey", "createdDateTime", "lastModifiedDateTime"}
ADDRESSES = {"homeAddress", "businessAddress", "otherAddress"}
ADDRESS_PARTS = ("street", "city", "state", "countryOrRegion", "postalCode")


def _upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def _address(value: dict[str, Any] | None, *, pascal: bool) -> dict[str, Any]:
    value = value or {}
    return {(_upper_first(p) if pascal else p): value.get(p) for p in ADDRESS_PARTS}


def _emails(value: list[dict[str, Any]] | None, *, pascal: bool) -> list[dict[str, Any]]:
    keys = ("Name", "Address") if pascal else ("name", "address")
    return [{keys[0]: e.get("name"), keys[1]: e.get("address")} for e in value or ()]


def contact_v2(contact: dict[str, Any]) -> dict[str, Any]:
    """``ContactResponse_V2`` from Graph's contact."""
    answer: dict[str, Any] = {}
    for _, name in FIELDS:
        value = contact.get(name)
        if name in ADDRESSES:
            value = _address(value, pascal=False)
        elif name == "emailAddresses":
            value = _emails(value, pascal=False)
        answer[name] = value
    return answer


def contact_v1(contact: dict[str, Any]) -> dict[str, Any]:
    """``ContactResponse`` from Graph's contact."""
    answer: dict[str, Any] = {}
    for ours, name in FIELDS:
        value = contact.get(name)
        if name in ADDRESSES:
            value = _address(value, pascal=True)
        elif name == "emailAddresses":
            value = _emails(value, pascal=True)
        answer[ours] = value
    return answer


def graph_contact_v2(item: dict[str, Any]) -> dict[str, Any]:
    """Graph's contact for the writable fields a ``Contact_V2`` gives."""
    return {name: item[name] for _, name in FIELDS if name in item and name not in READ_ONLY}


def graph_contact_v1(item: dict[str, Any]) -> dict[str, Any]:
    """Graph's contact for the writable fields a ``Contact`` gives."""
    contact: dict[str, Any] = {}
    for ours, name in FIELDS:
        if ours not in item or name in READ_ONLY:
            continue
        value = item[ours]
        if name in ADDRESSES:
            value = {
                p: value.get(_upper_first(p))
                for p in ADDRESS_PARTS
                if value.get(_upper_first(p)) is not None
            }
        elif name == "emailAddresses":
            value = [
                {k: v for k, v in (("name", e.get("Name")), ("address", e.get("Address"))) if v}
                for e in value
            ]
        contact[name] = value
    return contact


def _contacts(folder: str) -> str:
    # The default folder's well-known name, ``contacts``, serves Graph as its id.
    return f"/contactFolders/{segment(folder)}/contacts"


def _contact(folder: str, contact_id: str) -> str:
    return f"{_contacts(folder)}/{segment(contact_id)}"


# -- folders --------------------------------------------------------------------------------


def _folders(graph: GraphClient, mailbox: str) -> tuple[str, list[dict[str, Any]]]:
    """The default folder's id and the folders made in it. Graph lists only the latter; the
    former is their parent (without any, its well-known name, which serves as its id)."""
    folders = collect(graph, mailbox, "/contactFolders", {"$top": str(MAX_LIST)}, MAX_LIST)
    parents = [f.get("parentFolderId") for f in folders if f.get("parentFolderId")]
    return (parents[0] if parents else DEFAULT_FOLDER), folders


def get_tables(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactGetTables (deprecated): the default folder and the others, as ``Table``."""
    default, folders = _folders(graph, mailbox)
    value = [{"Name": default, "DisplayName": DEFAULT_FOLDER}] + [
        {"Name": f.get("id"), "DisplayName": f.get("displayName")} for f in folders
    ]
    return json_result({"value": value})


def get_tables_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactGetTablesV2: the default folder and the others, as ``GraphContactFolder``."""
    default, folders = _folders(graph, mailbox)
    value = [{"id": default, "displayName": DEFAULT_FOLDER, "parentFolderId": None}] + [
        {
            "id": f.get("id"),
            "displayName": f.get("displayName"),
            "parentFolderId": f.get("parentFolderId"),
        }
        for f in folders
    ]
    return json_result({"value": value})


# -- contacts -------------------------------------------------------------------------------


def _list(graph: GraphClient, mailbox: str, folder: str, params: dict[str, Any]) -> list[dict]:
    return collect(graph, mailbox, _contacts(folder), odata_query(params), wanted(params))


def get_items(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactGetItems (deprecated)."""
    found = _list(graph, mailbox, params["table"], params)
    return json_result({"value": [contact_v1(c) for c in found]})


def get_items_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactGetItems_V2."""
    found = _list(graph, mailbox, params["folder"], params)
    return json_result({"value": [contact_v2(c) for c in found]})


def get_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactGetItem (deprecated)."""
    path = _contact(params["table"], params["id"])
    return json_result(contact_v1(graph.request("GET", mailbox, path).json()))


def get_item_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactGetItem_V2."""
    path = _contact(params["folder"], params["id"])
    return json_result(contact_v2(graph.request("GET", mailbox, path).json()))


def post_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactPostItem (deprecated): 200 and the contact created."""
    body = graph_contact_v1(params["item"])
    created = graph.request("POST", mailbox, _contacts(params["table"]), json=body).json()
    return json_result(contact_v1(created))


def post_item_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactPostItem_V2: 201 and the contact created, as the connector answers it."""
    body = graph_contact_v2(params["item"])
    created = graph.request("POST", mailbox, _contacts(params["folder"]), json=body).json()
    return json_result(contact_v2(created), status=201)


def _patched(graph: GraphClient, mailbox: str, path: str, body: dict[str, Any]) -> dict:
    if not body:  # nothing writable given: the contact as it is
        return graph.request("GET", mailbox, path).json()
    return graph.request("PATCH", mailbox, path, json=body).json()


def patch_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactPatchItem (deprecated): only the fields given change."""
    path = _contact(params["table"], params["id"])
    return json_result(contact_v1(_patched(graph, mailbox, path, graph_contact_v1(params["item"]))))


def patch_item_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactPatchItem_V2: only the fields given change."""
    path = _contact(params["folder"], params["id"])
    return json_result(contact_v2(_patched(graph, mailbox, path, graph_contact_v2(params["item"]))))


def delete_item(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactDeleteItem (deprecated): 200; a second delete is 404."""
    graph.request("DELETE", mailbox, _contact(params["table"], params["id"]))
    return empty_result()


def delete_item_v2(graph: GraphClient, mailbox: str, params: dict[str, Any]) -> Result:
    """ContactDeleteItem_V2: 204, as the connector answers it."""
    graph.request("DELETE", mailbox, _contact(params["folder"], params["id"]))
    return empty_result(204)
