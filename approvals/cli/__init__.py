"""The ``approvals`` command: one module per command group, each importing what it needs
only when it runs (``approvals web`` runs a gunicorn master that never touches SQLAlchemy)."""

from __future__ import annotations

import click

from approvals.config import ConfigurationError


class _Commands(click.Group):
    """Every command reads the configuration; a value it cannot use ends it with the reason."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
@click.version_option(package_name="approvals")
def main() -> None:
    """approvals: approval and options emails with signed, retried callbacks."""


def _register() -> None:
    from approvals.cli import ask, db, keys, outbox, service, signin

    main.add_command(ask.ask)
    main.add_command(db.db)
    main.add_command(keys.keys)
    main.add_command(outbox.outbox)
    main.add_command(signin.signin_link)
    for command in (service.run, service.web, service.worker, service.beat):
        main.add_command(command)


_register()
