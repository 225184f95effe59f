"""API clients: keys stored hashed and shown once, each client with its own webhook secret."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from approvals.crypto import SecretBox
from approvals.errors import NotFound
from approvals.store.models import ApiClient, utcnow

KEY_PREFIX = "apv_"


def hash_key(key: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class CreatedClient:
    id: str
    name: str
    key: str
    webhook_secret: str


def create_client(
    session: Session, name: str, box: SecretBox, *, is_admin: bool = False
) -> CreatedClient:
    """Create a client; the returned key is the only time it exists in clear.

    ``is_admin``: its dashboard sessions see every client's data.
    """
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    webhook_secret = new_webhook_secret()
    client = ApiClient(
        name=name,
        key_hash=hash_key(key),
        key_prefix=key[:10],
        webhook_secret=box.encrypt(webhook_secret),
        is_admin=is_admin,
    )
    session.add(client)
    session.flush()
    return CreatedClient(client.id, client.name, key, webhook_secret)


def rotate_webhook_secret(
    session: Session, client_id: str, box: SecretBox, overlap: timedelta
) -> str:
    """Give a client a new webhook secret; the old one keeps signing too for ``overlap``.

    During the overlap every callback carries both signatures (Standard Webhooks allows
    several), so a receiver can switch to the new secret whenever it likes.
    """
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"no client {client_id}", field="id")
    fresh = new_webhook_secret()
    client.previous_webhook_secret = client.webhook_secret
    client.previous_secret_until = utcnow() + overlap
    client.webhook_secret = box.encrypt(fresh)
    return fresh


def signing_secrets(
    current: str,
    previous: str | None,
    previous_until: datetime | None,
    box: SecretBox,
    now: datetime | None = None,
) -> list[str]:
    """The secrets a callback is signed with now: the current one, and the previous in overlap.

    Takes a client's stored (encrypted) columns, so the delivery path needs no ORM object.
    """
    now = now or utcnow()
    found = [box.decrypt(current)]
    if previous and previous_until is not None and previous_until > now:
        found.append(box.decrypt(previous))
    return found


def client_signing_secrets(
    client: ApiClient, box: SecretBox, now: datetime | None = None
) -> list[str]:
    return signing_secrets(
        client.webhook_secret,
        client.previous_webhook_secret,
        client.previous_secret_until,
        box,
        now,
    )


def authenticate(session: Session, key: str, key_hash: str | None = None) -> str | None:
    """The id of the active client holding ``key`` (whose hash may be passed in), or None."""
    if not key:
        return None
    return session.scalar(
        select(ApiClient.id).where(
            ApiClient.key_hash == (key_hash or hash_key(key)), ApiClient.revoked_at.is_(None)
        )
    )


def list_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.created_at)))


def revoke_client(session: Session, client_id: str) -> bool:
    """Revoke a key; its subscriptions keep running and calling back. False if unknown."""
    client = session.get(ApiClient, client_id)
    if client is None:
        return False
    if client.revoked_at is None:
        client.revoked_at = utcnow()
    return True
