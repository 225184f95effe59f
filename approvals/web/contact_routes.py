"""The connector's contact operations: one row each, deprecated ones and their successors.

A folder is its id, or ``Contacts`` for the mailbox's default contacts folder (the folder
lists give both). Every row also takes ``mailboxAddress`` (a mailbox the key is bound to).
"""

from __future__ import annotations

from approvals.operations.contact_models import (
    Contact,
    Contact_V2,
    Contact_V2Patch,
    ContactPatch,
    ContactResponse,
    ContactResponse_V2,
    EntityListResponseContactResponse,
    EntityListResponseContactResponse_V2,
    EntityListResponseGraphContactFolder,
)
from approvals.operations.outlook_models import EntityListResponseTable
from approvals.web.operation_routes import (
    FILTER,
    MAILBOX_ADDRESS,
    ORDER_BY,
    SKIP,
    TOP,
    operation_route,
)
from approvals.web.route_types import Param

TAG = "Contacts"
FOLDER_TEXT = "Select a contacts folder (its id, or Contacts for the default folder)."
TABLE = Param("table", "path", {"type": "string"}, FOLDER_TEXT, encoding="double", graph_id=True)
FOLDER = Param("folder", "path", {"type": "string"}, FOLDER_TEXT, encoding="double", graph_id=True)
CONTACT_ID = Param(
    "id", "path", {"type": "string"}, "Id of the contact.", encoding="double", graph_id=True
)
LIST = (FILTER, ORDER_BY, TOP, SKIP, MAILBOX_ADDRESS)
OLD_ITEMS = "/datasets/contacts/tables/{table}/items"
ITEMS = "/codeless/v1.0/me/contactFolders/{folder}/contacts"

CONTACT_ROUTES = [
    operation_route(
        "GET",
        "/datasets/contacts/tables",
        "ContactGetTables",
        "Get contact folders",
        params=(MAILBOX_ADDRESS,),
        answer=EntityListResponseTable,
        deprecated=True,
        tag=TAG,
    ),
    operation_route(
        "GET",
        "/v2/datasets/contacts/tables",
        "ContactGetTablesV2",
        "Get contact folders (V2)",
        params=(MAILBOX_ADDRESS,),
        answer=EntityListResponseGraphContactFolder,
        description="The default Contacts folder first, then the folders made in it.",
        tag=TAG,
    ),
    operation_route(
        "GET",
        OLD_ITEMS,
        "ContactGetItems",
        "Get contacts",
        params=(TABLE, *LIST),
        answer=EntityListResponseContactResponse,
        deprecated=True,
        tag=TAG,
    ),
    operation_route(
        "POST",
        OLD_ITEMS,
        "ContactPostItem",
        "Create contact",
        params=(TABLE, MAILBOX_ADDRESS),
        body=Contact,
        body_name="item",
        answer=ContactResponse,
        repeatable=False,
        deprecated=True,
        tag=TAG,
    ),
    operation_route(
        "GET",
        OLD_ITEMS + "/{id}",
        "ContactGetItem",
        "Get contact",
        params=(TABLE, CONTACT_ID, MAILBOX_ADDRESS),
        answer=ContactResponse,
        deprecated=True,
        tag=TAG,
    ),
    operation_route(
        "DELETE",
        OLD_ITEMS + "/{id}",
        "ContactDeleteItem",
        "Delete contact",
        params=(TABLE, CONTACT_ID, MAILBOX_ADDRESS),
        deprecated=True,
        tag=TAG,
    ),
    operation_route(
        "PATCH",
        OLD_ITEMS + "/{id}",
        "ContactPatchItem",
        "Update contact",
        params=(TABLE, CONTACT_ID, MAILBOX_ADDRESS),
        body=ContactPatch,
        body_name="item",
        answer=ContactResponse,
        deprecated=True,
        description="Only the fields given change.",
        tag=TAG,
    ),
    operation_route(
        "GET",
        ITEMS,
        "ContactGetItems_V2",
        "Get contacts (V2)",
        params=(FOLDER, *LIST),
        answer=EntityListResponseContactResponse_V2,
        tag=TAG,
    ),
    operation_route(
        "POST",
        ITEMS,
        "ContactPostItem_V2",
        "Create contact (V2)",
        params=(FOLDER, MAILBOX_ADDRESS),
        body=Contact_V2,
        body_name="item",
        answer=ContactResponse_V2,
        status=201,
        repeatable=False,
        tag=TAG,
    ),
    operation_route(
        "GET",
        ITEMS + "/{id}",
        "ContactGetItem_V2",
        "Get contact (V2)",
        params=(FOLDER, CONTACT_ID, MAILBOX_ADDRESS),
        answer=ContactResponse_V2,
        tag=TAG,
    ),
    operation_route(
        "PATCH",
        ITEMS + "/{id}",
        "ContactPatchItem_V2",
        "Update contact (V2)",
        params=(FOLDER, CONTACT_ID, MAILBOX_ADDRESS),
        body=Contact_V2Patch,
        body_name="item",
        answer=ContactResponse_V2,
        description="Only the fields given change.",
        tag=TAG,
    ),
    operation_route(
        "DELETE",
        ITEMS + "/{id}",
        "ContactDeleteItem_V2",
        "Delete contact (V2)",
        params=(FOLDER, CONTACT_ID, MAILBOX_ADDRESS),
        status=204,
        tag=TAG,
    ),
]
