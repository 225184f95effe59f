"""Which Microsoft 365 mailboxes an API client may act on.

The service's app registration has application permissions and could reach any mailbox of
the tenant; an API key must not. Each client is bound to a list of mailboxes, the first its
default; a request naming any other mailbox is refused before Graph is called.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from approvals.errors import BadRequest, Forbidden, NotFound
from approvals.store.models import ApiClient, ClientMailbox


class MailboxNotAllowed(Forbidden):
    code = "mailbox_not_allowed"


def normalise(address: str) -> str:
    """A mailbox address as stored and compared: validated, lower case."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise BadRequest(f"{address!r} is not a mailbox address: {exc}") from None


def set_mailboxes(session: Session, client_id: str, addresses: Sequence[str]) -> list[str]:
    """Bind ``client_id`` to exactly ``addresses`` (the first its default); returns them."""
    if session.get(ApiClient, client_id) is None:
        raise NotFound(f"no client {client_id}")
    bound = list(dict.fromkeys(normalise(address) for address in addresses))
    session.execute(delete(ClientMailbox).where(ClientMailbox.client_id == client_id))
    session.add_all(
        ClientMailbox(client_id=client_id, address=address, position=position)
        for position, address in enumerate(bound)
    )
    session.flush()
    return bound


def mailboxes_of(session: Session, client_id: str) -> list[str]:
    """The client's mailboxes, its default first."""
    return list(
        session.scalars(
            select(ClientMailbox.address)
            .where(ClientMailbox.client_id == client_id)
            .order_by(ClientMailbox.position)
        )
    )


def mailbox_for(own: Sequence[str], requested: str | None) -> str:
    """The mailbox a request acts on: ``requested`` if it is one of the client's mailboxes
    ``own`` (:func:`mailboxes_of`), else its default; :class:`MailboxNotAllowed` for any other
    mailbox or a client with none."""
    if not own:
        raise MailboxNotAllowed("this API key is bound to no mailbox")
    if not requested or requested.strip().lower() == "me":
        return own[0]
    wanted = requested.strip().lower()
    if wanted not in own:
        raise MailboxNotAllowed(f"this API key may not act on the mailbox {requested!r}")
    return wanted


def default_mailboxes(conn: Connection, client_ids: Collection[str]) -> dict[str, str]:
    """Each of ``client_ids``' default mailbox, for the ones that have one."""
    rows = conn.execute(
        select(ClientMailbox.client_id, ClientMailbox.address).where(
            ClientMailbox.client_id.in_(client_ids), ClientMailbox.position == 0
        )
    )
    return {row.client_id: row.address for row in rows}
