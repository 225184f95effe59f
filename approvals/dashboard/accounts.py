"""Who is signed in: an API key or a one-time link in, a browser session out.

Sessions and links are random tokens stored by their SHA-256 only. A session ends at its
expiry, at sign-out, or when its key is revoked (checked on every page). A link works once,
for :data:`SIGNIN_LINK_MINUTES`, and signs in as an admin client.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from approvals.clients import authenticate, create_client, hash_key
from approvals.crypto import SecretBox
from approvals.store.models import ApiClient, DashboardSession, SigninLink, utcnow

SIGNIN_LINK_MINUTES = 15
# The client a first sign-in link signs in as, made when an instance has no admin key yet.
# Its key is thrown away at once: this client is reached through links only.
FIRST_ADMIN_NAME = "admin (sign-in links)"


@dataclass(frozen=True)
class Viewer:
    """The signed-in client: an admin sees every client's data, anyone else only their own."""

    client_id: str
    name: str
    is_admin: bool

    def sees(self, client_id: str) -> bool:
        return self.is_admin or client_id == self.client_id


def _token() -> str:
    return secrets.token_urlsafe(32)


def client_for_key(session: Session, key: str) -> str | None:
    """The active client holding ``key`` (the API's own check), or None."""
    return authenticate(session, key.strip())


def _store_token(
    session: Session,
    row: type[DashboardSession] | type[SigninLink],
    client_id: str,
    lasts: timedelta,
) -> str:
    """A new random token for ``client_id``, stored as its hash in a ``row`` that lasts that
    long; the token itself is returned and kept nowhere here."""
    token = _token()
    now = utcnow()
    session.add(
        row(token_hash=hash_key(token), client_id=client_id, created_at=now, expires_at=now + lasts)
    )
    return token


def start_session(session: Session, client_id: str, lifetime: timedelta) -> str:
    """A new browser session for ``client_id``; the token goes into the cookie."""
    return _store_token(session, DashboardSession, client_id, lifetime)


def viewer_for_session(session: Session, token: str) -> Viewer | None:
    """Who a session cookie belongs to, while the session lasts and its key is not revoked."""
    if not token:
        return None
    row = session.execute(
        select(ApiClient.id, ApiClient.name, ApiClient.is_admin)
        .join(DashboardSession, DashboardSession.client_id == ApiClient.id)
        .where(
            DashboardSession.token_hash == hash_key(token),
            DashboardSession.expires_at > utcnow(),
            ApiClient.revoked_at.is_(None),
        )
    ).first()
    return Viewer(row.id, row.name, bool(row.is_admin)) if row is not None else None


def end_session(session: Session, token: str) -> None:
    """Sign out: the cookie's session stops working everywhere at once."""
    session.execute(delete(DashboardSession).where(DashboardSession.token_hash == hash_key(token)))


def admin_client(session: Session, box: SecretBox) -> str:
    """The oldest active admin client; one is made (its key discarded) when there is none."""
    found = session.scalar(
        select(ApiClient.id)
        .where(ApiClient.is_admin.is_(True), ApiClient.revoked_at.is_(None))
        .order_by(ApiClient.created_at)
        .limit(1)
    )
    if found is not None:
        return found
    return create_client(session, FIRST_ADMIN_NAME, box, is_admin=True).id


def has_keys(session: Session) -> bool:
    """Whether any active client exists: a new instance has none."""
    return (
        session.scalar(select(ApiClient.id).where(ApiClient.revoked_at.is_(None)).limit(1))
        is not None
    )


def create_signin_link(session: Session, client_id: str) -> str:
    """A one-time sign-in token for ``client_id``, valid for :data:`SIGNIN_LINK_MINUTES`."""
    return _store_token(session, SigninLink, client_id, timedelta(minutes=SIGNIN_LINK_MINUTES))


def use_signin_link(session: Session, token: str) -> str | None:
    """The client a link signs in as, once: a second use, an expired or unknown link is None.

    One conditional UPDATE, so two browsers racing with one link get one session between them.
    """
    now = utcnow()
    client_id = session.scalar(
        update(SigninLink)
        .where(
            SigninLink.token_hash == hash_key(token),
            SigninLink.used_at.is_(None),
            SigninLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(SigninLink.client_id)
    )
    if client_id is None:
        return None
    active = session.scalar(
        select(ApiClient.id).where(ApiClient.id == client_id, ApiClient.revoked_at.is_(None))
    )
    return active
