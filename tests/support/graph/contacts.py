"""Outlook personal contacts on Graph v1.0: contact folders and contacts.

``/contacts`` is the user's default contacts folder; ``/contactFolders`` lists the folders made
under it (https://learn.microsoft.com/graph/api/user-list-contactfolders). Contact properties
as the contact resource lists them (https://learn.microsoft.com/graph/api/resources/contact).
"""

from __future__ import annotations

import copy
from typing import Any

from werkzeug.wrappers import Response

from .errors import GraphError, bad_request, item_not_found
from .mailbox import new_item_id, stamp
from .messages import collection, select_of
from .odata import select
from .routing import Call, Router, json_response

CONTACT_TYPE = "microsoft.graph.contact"
CONTACT_FIELDS: dict[str, Any] = {
    "birthday": None,
    "fileAs": "",
    "displayName": "",
    "givenName": None,
    "initials": None,
    "middleName": None,
    "nickName": None,
    "surname": None,
    "title": None,
    "yomiGivenName": None,
    "yomiSurname": None,
    "yomiCompanyName": None,
    "generation": None,
    "imAddresses": [],
    "jobTitle": None,
    "companyName": None,
    "department": None,
    "officeLocation": None,
    "profession": None,
    "businessHomePage": None,
    "assistantName": None,
    "manager": None,
    "homePhones": [],
    "mobilePhone": None,
    "businessPhones": [],
    "spouseName": None,
    "personalNotes": "",
    "children": [],
    "emailAddresses": [],
    "homeAddress": {},
    "businessAddress": {},
    "otherAddress": {},
    "categories": [],
}

router = Router()


def public_contact(contact: dict[str, Any]) -> dict[str, Any]:
    shown = {key: copy.deepcopy(value) for key, value in contact.items() if key[0] != "_"}
    return {"@odata.etag": f'W/"{contact["changeKey"]}"', **shown}


def apply_fields(contact: dict[str, Any], payload: dict[str, Any]) -> None:
    for key, value in payload.items():
        if key not in CONTACT_FIELDS:
            raise bad_request(
                f"The property '{key}' does not exist on type '{CONTACT_TYPE}' or cannot be set.",
                code="ErrorInvalidProperty",
            )
        if key == "emailAddresses":
            for entry in value or []:
                if not isinstance(entry, dict) or "@" not in str(entry.get("address", "")):
                    raise bad_request("An email address of the contact is not valid.")
        contact[key] = copy.deepcopy(value)
    if not contact.get("displayName"):
        parts = [contact.get("givenName"), contact.get("surname")]
        contact["displayName"] = " ".join(p for p in parts if p)
    contact["fileAs"] = contact.get("fileAs") or ""


def folder_of(call: Call) -> str:
    return call.user.contact_folder(call.params.get("folder", "contacts"))


# -- folders -----------------------------------------------------------------------------------


def public_folder(call: Call, folder: dict[str, Any]) -> dict[str, Any]:
    return {**folder, "parentFolderId": call.user.default_contact_folder}


@router.route("GET", "users/{user}/contactFolders")
def list_contact_folders(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-contactfolders
    with call.user.lock:
        folders = [public_folder(call, f) for f in call.user.contact_folders.values()]
    return collection(call, folders, "microsoft.graph.contactFolder", default_order=None)


@router.route("POST", "users/{user}/contactFolders")
def create_contact_folder(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-post-contactfolders
    name = str(call.json().get("displayName") or "")
    if not name:
        raise bad_request("The displayName property is required.", code="ErrorInvalidRequest")
    with call.user.lock:
        if any(
            f["displayName"].lower() == name.lower() for f in call.user.contact_folders.values()
        ):
            raise GraphError(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        folder = {"id": new_item_id("AAMkAGCf"), "displayName": name}
        call.user.contact_folders[folder["id"]] = folder
        shown = public_folder(call, folder)
    return json_response(shown, 201)


@router.route("GET", "users/{user}/contactFolders/{folder}")
def get_contact_folder(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/contactfolder-get
    with call.user.lock:
        key = folder_of(call)
        if key not in call.user.contact_folders:
            raise item_not_found()
        shown = public_folder(call, call.user.contact_folders[key])
    return json_response(select(shown, select_of(call), "microsoft.graph.contactFolder"))


@router.route("DELETE", "users/{user}/contactFolders/{folder}")
def delete_contact_folder(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/contactfolder-delete
    with call.user.lock:
        key = folder_of(call)
        if key not in call.user.contact_folders:
            raise item_not_found()
        del call.user.contact_folders[key]
        for contact_id in [k for k, c in call.user.contacts.items() if c["parentFolderId"] == key]:
            del call.user.contacts[contact_id]
    return json_response(None, 204)


# -- contacts ----------------------------------------------------------------------------------


def contact_routes(method: str, suffix: str = ""):  # type: ignore[no-untyped-def]
    """Register under ``/contacts`` and ``/contactFolders/{id}/contacts`` (contact-get etc.)."""

    def register(handler):  # type: ignore[no-untyped-def]
        router.add(method, f"users/{{user}}/contacts{suffix}", handler)
        router.add(method, f"users/{{user}}/contactFolders/{{folder}}/contacts{suffix}", handler)
        return handler

    return register


def find_contact(call: Call) -> dict[str, Any]:
    folder = folder_of(call)
    contact = call.user.contact(call.params["contact"])
    if "folder" in call.params and contact["parentFolderId"] != folder:
        raise item_not_found()
    return contact


@contact_routes("GET")
def list_contacts(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-list-contacts and
    # https://learn.microsoft.com/graph/api/contactfolder-list-contacts
    with call.user.lock:
        folder = folder_of(call)
        shown = [
            public_contact(c) for c in call.user.contacts.values() if c["parentFolderId"] == folder
        ]
    known = {"id", "createdDateTime", "lastModifiedDateTime", "changeKey", "parentFolderId"}
    return collection(
        call, shown, CONTACT_TYPE, default_order=None, known=known | set(CONTACT_FIELDS)
    )


@contact_routes("POST")
def create_contact(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/user-post-contacts: 201 and the contact
    payload = call.json()
    with call.user.lock:
        folder = folder_of(call)
        moment = stamp()
        contact: dict[str, Any] = {
            "id": new_item_id("AAMkAGCo"),
            "createdDateTime": moment,
            "lastModifiedDateTime": moment,
            "changeKey": new_item_id("EQAAAB"),
            "parentFolderId": folder,
            **copy.deepcopy(CONTACT_FIELDS),
        }
        apply_fields(contact, payload)
        call.user.contacts[contact["id"]] = contact
        call.user.record("contacts", folder, contact["id"], removed=False)
        shown = public_contact(contact)
    return json_response(shown, 201)


@contact_routes("GET", "/{contact}")
def get_contact(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/contact-get
    with call.user.lock:
        shown = public_contact(find_contact(call))
    return json_response(select(shown, select_of(call), CONTACT_TYPE))


@contact_routes("PATCH", "/{contact}")
def update_contact(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/contact-update
    payload = call.json()
    with call.user.lock:
        contact = find_contact(call)
        apply_fields(contact, payload)
        contact["lastModifiedDateTime"] = stamp()
        contact["changeKey"] = new_item_id("EQAAAB")
        call.user.record("contacts", contact["parentFolderId"], contact["id"], removed=False)
        shown = public_contact(contact)
    return json_response(shown)


@contact_routes("DELETE", "/{contact}")
def delete_contact(call: Call) -> Response:
    # https://learn.microsoft.com/graph/api/contact-delete
    with call.user.lock:
        contact = find_contact(call)
        del call.user.contacts[contact["id"]]
        call.user.record("contacts", contact["parentFolderId"], contact["id"], removed=True)
    return json_response(None, 204)
