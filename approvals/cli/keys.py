"""``approvals keys``: API clients, their keys and webhook secrets."""

from __future__ import annotations

import json

import click

from approvals.cli.common import database, upgrade
from approvals.config import load_settings


@click.group()
def keys() -> None:
    """API keys (one per client; each client has its own webhook secret)."""


@keys.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print {id, name, key, webhook_secret}")
@click.option(
    "--mailbox",
    "mailboxes",
    multiple=True,
    help="a Microsoft 365 mailbox the key may act on (repeat; the first is its default)",
)
@click.option("--admin", is_flag=True, help="its dashboard sessions see every client's data")
def keys_create(name: str, as_json: bool, mailboxes: tuple[str, ...], admin: bool) -> None:
    """Create a client; its key and webhook secret are shown this once."""
    from approvals.clients import create_client
    from approvals.errors import RequestError
    from approvals.mailboxes import set_mailboxes
    from approvals.runtime import Runtime

    runtime = Runtime.from_settings(load_settings())
    upgrade(runtime.db)
    try:
        with runtime.db.session() as session:
            created = create_client(session, name, runtime.box, is_admin=admin)
            bound = set_mailboxes(session, created.id, mailboxes)
    except RequestError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": created.id,
                    "name": created.name,
                    "key": created.key,
                    "webhook_secret": created.webhook_secret,
                    "mailboxes": bound,
                    "admin": admin,
                }
            )
        )
        return
    click.echo(f"id:             {created.id}\nname:           {created.name}")
    click.echo(f"api key:        {created.key}\nwebhook secret: {created.webhook_secret}")
    if bound:
        click.echo(f"mailboxes:      {', '.join(bound)}")
    click.echo("Keep both now: the key is stored hashed and cannot be shown again.")


@keys.command("list")
def keys_list() -> None:
    """List clients (never their keys)."""
    from approvals.clients import list_clients

    with database().session() as session:
        for client in list_clients(session):
            state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
            if client.is_admin:
                state += " admin"
            click.echo(f"{client.id}  {client.key_prefix}…  {state:20}  {client.name}")


@keys.command("revoke")
@click.argument("client_id")
def keys_revoke(client_id: str) -> None:
    """Revoke a client's key: its requests get 401 from now on."""
    from approvals.clients import revoke_client

    with database().session() as session:
        if not revoke_client(session, client_id):
            raise click.ClickException(f"no client {client_id}")
    click.echo(f"revoked {client_id}")


@keys.command("rotate-secret")
@click.argument("client_id")
@click.option(
    "--overlap-hours",
    default=24.0,
    show_default=True,
    help="how long the old secret keeps signing too",
)
def keys_rotate_secret(client_id: str, overlap_hours: float) -> None:
    """Give a client a new webhook secret; both sign callbacks during the overlap."""
    from datetime import timedelta

    from approvals.clients import rotate_webhook_secret
    from approvals.errors import NotFound
    from approvals.runtime import Runtime

    runtime = Runtime.from_settings(load_settings())
    try:
        with runtime.db.session() as session:
            fresh = rotate_webhook_secret(
                session, client_id, runtime.box, timedelta(hours=overlap_hours)
            )
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"new webhook secret: {fresh}")
    click.echo(f"the old secret also signs for {overlap_hours:g} more hours")


@keys.command("mailboxes")
@click.argument("client_id")
@click.argument("addresses", nargs=-1)
@click.option("--clear", is_flag=True, help="bind the key to no mailbox")
def keys_mailboxes(client_id: str, addresses: tuple[str, ...], clear: bool) -> None:
    """Show a client's mailboxes, or bind it to ADDRESSES (the first its default)."""
    from approvals.errors import RequestError
    from approvals.mailboxes import mailboxes_of, set_mailboxes
    from approvals.store.models import ApiClient

    db = database()
    upgrade(db)
    try:
        with db.session() as session:
            if addresses or clear:
                bound = set_mailboxes(session, client_id, addresses)
            elif session.get(ApiClient, client_id) is None:
                raise click.ClickException(f"no client {client_id}")
            else:
                bound = mailboxes_of(session, client_id)
    except RequestError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("\n".join(bound) if bound else f"{client_id} is bound to no mailbox")
