"""``approvals signin-link``: a one-time link into the dashboard, as an admin."""

from __future__ import annotations

import click

from approvals.config import Settings, load_settings


def new_signin_link(
    settings: Settings, *, only_if_new: bool = False, base_url: str | None = None
) -> str | None:
    """A sign-in link for the instance's admin client (made if there is none).

    ``only_if_new``: only for an instance without any key yet (what ``approvals run`` prints
    on its first start), else None. ``base_url``: where the service is reached, if not
    ``APPROVALS_BASE_URL`` (``approvals run --port`` serves elsewhere).
    """
    from approvals.dashboard.accounts import admin_client, create_signin_link, has_keys
    from approvals.runtime import Runtime

    runtime = Runtime.from_settings(settings)
    with runtime.db.session() as session:
        if only_if_new and has_keys(session):
            return None
        token = create_signin_link(session, admin_client(session, runtime.box))
    return f"{base_url or settings.base_url}/dashboard/signin/{token}"


@click.command("signin-link")
def signin_link() -> None:
    """Print a one-time dashboard sign-in link (valid once, for 15 minutes) as an admin."""
    from approvals.cli.common import database, upgrade
    from approvals.dashboard.accounts import SIGNIN_LINK_MINUTES

    upgrade(database())
    link = new_signin_link(load_settings())
    click.echo(link)
    click.echo(f"It works once, for {SIGNIN_LINK_MINUTES} minutes.", err=True)
