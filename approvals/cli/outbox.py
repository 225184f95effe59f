"""``approvals outbox``: read the mail the outbox backend kept."""

from __future__ import annotations

import click

from approvals.cli.common import database


@click.group()
def outbox() -> None:
    """Mail kept by the outbox backend (the embedded default)."""


@outbox.command("list")
@click.option("--limit", default=50, show_default=True)
def outbox_list(limit: int) -> None:
    from approvals import outbox as store

    with database().session() as session:
        for message in store.list_messages(session, limit=limit):
            click.echo(
                f"{message.id:>6}  {message.created_at:%Y-%m-%d %H:%M:%S}  "
                f"{message.to_address:30}  {message.subject}"
            )


@outbox.command("show")
@click.argument("message_id", type=int)
@click.option("--raw", is_flag=True, help="print the whole message (.eml) instead of its text")
def outbox_show(message_id: int, raw: bool) -> None:
    """Show a message: headers, its plain-text part (with the links) or the raw .eml."""
    import email
    from email import policy

    from approvals import outbox as store

    with database().session() as session:
        message = store.get_message(session, message_id)
        if message is None:
            raise click.ClickException(f"no message {message_id}")
        if raw:
            click.echo(message.raw)
            return
        parsed = email.message_from_string(message.raw, policy=policy.default)
        for header in ("From", "To", "Subject", "Date"):
            click.echo(f"{header}: {parsed[header]}")
        part = parsed.get_body(preferencelist=("plain", "html"))
        click.echo("")
        click.echo(part.get_content().replace("\r\n", "\n") if part else "")
