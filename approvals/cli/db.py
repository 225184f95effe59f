"""``approvals db``: the database schema."""

from __future__ import annotations

import click

from approvals.cli.common import database, upgrade


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    upgrade(database())
    click.echo("database is up to date")
