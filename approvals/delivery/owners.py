"""Who a delivery belongs to, through one small interface instead of a foreign key.

A delivery names its owner by kind and id (``("approval", subscription id)``). The engine asks
the owner's kind one question: which of these owners are closed, so that what they still owe
is dropped instead of sent. A capability that owes callbacks registers its kind once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Protocol

from sqlalchemy import Connection

log = logging.getLogger(__name__)


class Owner(Protocol):
    """A kind of owner of deliveries (approval subscriptions, trigger subscriptions, ...)."""

    kind: str

    def closed(self, conn: Connection, ids: Collection[str]) -> set[str]:
        """Which of ``ids`` no longer want their callbacks (cancelled, expired, deleted)."""
        ...


_owners: dict[str, Owner] = {}


def register_owner(owner: Owner) -> None:
    _owners[owner.kind] = owner


def closed_owners(conn: Connection, owners: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(kind, id)`` pairs are closed; a kind nobody registered is never closed."""
    by_kind: dict[str, set[str]] = {}
    for kind, owner_id in owners:
        by_kind.setdefault(kind, set()).add(owner_id)
    closed: set[tuple[str, str]] = set()
    for kind, ids in by_kind.items():
        owner = _owners.get(kind)
        if owner is None:
            log.warning("deliveries owned by unknown kind %r are sent as usual", kind)
            continue
        closed.update((kind, owner_id) for owner_id in owner.closed(conn, ids))
    return closed
