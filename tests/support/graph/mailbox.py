"""The in-memory Exchange: mailboxes with their folders, messages, calendars and contacts.

Resources are kept as the JSON dicts Graph returns (so ``$filter`` and ``$select`` work on what a
client sees), with private bookkeeping under keys starting with ``_``. One lock guards a
mailbox; routes take it for every read and write.

Message ids follow "Obtain immutable identifiers for Outlook resources"
(https://learn.microsoft.com/graph/outlook-immutable-id): an item's default id changes when it
moves to another folder; its immutable id (asked for with ``Prefer: IdType="ImmutableId"``) does
not. Both are base64 text holding ``/``, ``+`` and ``=``, as Exchange's ids do, so a client that
does not percent-encode them in a path fails here.
"""

from __future__ import annotations

import base64
import copy
import itertools
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import GraphError, item_not_found

# mailFolder resource: well-known folder names
# (https://learn.microsoft.com/graph/api/resources/mailfolder#well-known-folder-names).
WELL_KNOWN_FOLDERS = {
    "inbox": "Inbox",
    "drafts": "Drafts",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "outbox": "Outbox",
    "junkemail": "Junk Email",
    "archive": "Archive",
    "conversationhistory": "Conversation History",
    "scheduled": "Scheduled",
    "searchfolders": "Search Folders",
    "clutter": "Clutter",
    "recoverableitemsdeletions": "Deletions",
}
ROOT = "msgfolderroot"


def new_item_id(prefix: str = "AAMkAG") -> str:
    """An opaque base64 id that always holds ``/``, ``+`` and ``=``."""
    while True:
        text = base64.b64encode(secrets.token_bytes(46)).decode()
        if "/" in text and "+" in text and text.endswith("="):
            return prefix + text


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime | None = None) -> str:
    """Graph's DateTimeOffset text for mail: seconds, UTC, ``Z``."""
    return (moment or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recipient(address: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


@dataclass
class Change:
    """One entry of a mailbox's change log, read by delta queries."""

    sequence: int
    kind: str  # "messages", "events", "contacts"
    container: str  # folder, calendar or contact folder id
    item: str  # immutable id
    removed: bool
    rest_id: str | None = None  # the default id the item had then, for "@removed" entries
    created: bool = False  # the item came into the container (new, or moved in)


@dataclass
class Mailbox:
    """One user's mailbox; ``id`` is the user object id, ``address`` the userPrincipalName."""

    address: str
    display_name: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # by immutable id
    rest_ids: dict[str, str] = field(default_factory=dict)  # current default id -> immutable
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _sequence: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        root = self._folder(ROOT, "Top of Information Store", parent=None)
        for name, display in WELL_KNOWN_FOLDERS.items():
            self._folder(name, display, parent=root["id"])
        self.default_calendar = self.add_calendar("Calendar", default=True)
        self.default_contact_folder = new_item_id("AQMkAD")

    def owner(self) -> dict[str, Any]:
        return recipient(self.address, self.display_name)

    # -- folders ----------------------------------------------------------------------------

    def _folder(self, well_known: str | None, display: str, parent: str | None) -> dict:
        folder = {
            "id": new_item_id("AQMkAD"),
            "displayName": display,
            "parentFolderId": parent,
            "childFolderCount": 0,
            "unreadItemCount": 0,
            "totalItemCount": 0,
            "isHidden": False,
            "_wellKnownName": well_known,
        }
        self.folders[folder["id"]] = folder
        if parent is not None:
            self.folders[parent]["childFolderCount"] += 1
        return folder

    def add_folder(self, display: str, parent: str | None = None) -> dict[str, Any]:
        return self._folder(None, display, parent or self.folder(ROOT)["id"])

    def folder(self, key: str) -> dict[str, Any]:
        """A folder by id or well-known name (case-insensitive), or ``ErrorItemNotFound``."""
        if key in self.folders:
            return self.folders[key]
        lowered = key.lower()
        for folder in self.folders.values():
            if folder["_wellKnownName"] == lowered:
                return folder
        raise item_not_found()

    def refresh_counts(self) -> None:
        for folder in self.folders.values():
            folder["totalItemCount"] = folder["unreadItemCount"] = 0
        for message in self.messages.values():
            folder = self.folders[message["parentFolderId"]]
            folder["totalItemCount"] += 1
            folder["unreadItemCount"] += 0 if message["isRead"] else 1

    # -- messages ---------------------------------------------------------------------------

    def add_message(self, message: dict[str, Any], folder: str) -> dict[str, Any]:
        """File a message (a full resource dict) in ``folder``; it gets fresh ids."""
        immutable = new_item_id("AAkALgAA")
        message["_immutableId"] = immutable
        message["_attachments"] = message.get("_attachments", [])
        message["parentFolderId"] = self.folder(folder)["id"]
        self._give_rest_id(message)
        self.messages[immutable] = message
        self.record("messages", message["parentFolderId"], immutable, removed=False, created=True)
        self.refresh_counts()
        return message

    def _give_rest_id(self, message: dict[str, Any]) -> None:
        old = message.get("id")
        if old is not None:
            self.rest_ids.pop(old, None)
        message["id"] = new_item_id()
        message["changeKey"] = new_item_id("CQAAAB")
        self.rest_ids[message["id"]] = message["_immutableId"]

    def message(self, key: str) -> dict[str, Any]:
        """A message by its current default id or its immutable id."""
        immutable = self.rest_ids.get(key, key)
        found = self.messages.get(immutable)
        if found is None:
            raise item_not_found()
        return found

    def move_message(self, message: dict[str, Any], folder: str) -> dict[str, Any]:
        target = self.folder(folder)
        self.record(
            "messages",
            message["parentFolderId"],
            message["_immutableId"],
            removed=True,
            rest_id=message["id"],
        )
        message["parentFolderId"] = target["id"]
        message["lastModifiedDateTime"] = stamp()
        self._give_rest_id(message)
        self.record("messages", target["id"], message["_immutableId"], removed=False, created=True)
        self.refresh_counts()
        return message

    def copy_message(self, message: dict[str, Any], folder: str) -> dict[str, Any]:
        duplicate = copy.deepcopy({k: v for k, v in message.items() if k != "id"})
        duplicate.pop("_immutableId", None)
        return self.add_message(duplicate, folder)

    def delete_message(self, message: dict[str, Any]) -> None:
        immutable = message["_immutableId"]
        self.messages.pop(immutable, None)
        self.rest_ids.pop(message["id"], None)
        self.record(
            "messages", message["parentFolderId"], immutable, removed=True, rest_id=message["id"]
        )
        self.refresh_counts()

    def touch_message(self, message: dict[str, Any]) -> None:
        message["lastModifiedDateTime"] = stamp()
        message["changeKey"] = new_item_id("CQAAAB")
        self.record("messages", message["parentFolderId"], message["_immutableId"], removed=False)
        self.refresh_counts()

    # -- calendars and events ---------------------------------------------------------------

    def add_calendar(self, name: str, default: bool = False) -> dict[str, Any]:
        calendar = {
            "id": new_item_id("AAMkAGI2"),
            "name": name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": default,
            "changeKey": new_item_id("nfZyf7"),
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "isRemovable": not default,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "owner": {"name": self.display_name, "address": self.address},
        }
        self.calendars[calendar["id"]] = calendar
        return calendar

    def calendar(self, key: str) -> dict[str, Any]:
        if key in self.calendars:
            return self.calendars[key]
        raise item_not_found()

    def event(self, key: str) -> dict[str, Any]:
        if key in self.events:
            return self.events[key]
        raise item_not_found()

    # -- contacts ---------------------------------------------------------------------------

    def contact_folder(self, key: str) -> str:
        """A contact folder id; ``contacts`` names the default folder."""
        if key == self.default_contact_folder or key.lower() == "contacts":
            return self.default_contact_folder
        if key in self.contact_folders:
            return key
        raise item_not_found()

    def contact(self, key: str) -> dict[str, Any]:
        if key in self.contacts:
            return self.contacts[key]
        raise item_not_found()

    # -- change log -------------------------------------------------------------------------

    def record(
        self,
        kind: str,
        container: str,
        item: str,
        *,
        removed: bool,
        rest_id: str | None = None,
        created: bool = False,
    ) -> None:
        self.changes.append(
            Change(next(self._sequence), kind, container, item, removed, rest_id, created)
        )

    def sequence(self) -> int:
        return self.changes[-1].sequence if self.changes else 0


class Directory:
    """The tenant's mailboxes, found by object id or userPrincipalName (case-insensitive)."""

    def __init__(self) -> None:
        self.mailboxes: dict[str, Mailbox] = {}
        self.lock = threading.Lock()

    def add(self, address: str, display_name: str | None = None) -> Mailbox:
        mailbox = Mailbox(address=address, display_name=display_name or address.split("@")[0])
        with self.lock:
            self.mailboxes[mailbox.id] = mailbox
        return mailbox

    def find(self, key: str) -> Mailbox | None:
        with self.lock:
            if key in self.mailboxes:
                return self.mailboxes[key]
            lowered = key.lower()
            for mailbox in self.mailboxes.values():
                if mailbox.address.lower() == lowered:
                    return mailbox
        return None

    def get(self, key: str) -> Mailbox:
        mailbox = self.find(key)
        if mailbox is None:
            # What Graph answers for /users/{unknown}/messages; see
            # https://learn.microsoft.com/answers/questions/1055547.
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        return mailbox

    def clear(self) -> None:
        with self.lock:
            self.mailboxes.clear()
