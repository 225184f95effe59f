"""The ``approvals`` command: run the service, manage keys, read the outbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import click

from approvals.config import ConfigurationError, load_settings

# Imports of SQLAlchemy, Alembic and the app stay inside the commands: `approvals web` runs a
# gunicorn master that never touches them, and every MB it loads is kept for its whole life.

# How long `approvals run` gives its processes to finish their work after Ctrl-C.
STOP_GRACE_SECONDS = 20
RESTART_DELAY_SECONDS = 1.0


def _db():  # type: ignore[no-untyped-def]
    from approvals.store.db import database_for

    return database_for(load_settings().database_url)


def upgrade(database) -> None:  # type: ignore[no-untyped-def]
    from approvals.store.migrate import upgrade as apply

    apply(database)


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


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    upgrade(_db())
    click.echo("database is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="default: APPROVALS_PORT or 8000")
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def web(host: str, port: int | None, workers: int, threads: int) -> None:
    """Serve the HTTP API and pages with gunicorn."""
    from approvals.web.server import serve

    serve(host, port or load_settings().port, workers=workers, threads=threads)


@main.command()
@click.option("--concurrency", default=None, type=int, help="default: APPROVALS_WORKER_CONCURRENCY")
@click.option("--queues", default=None, help="comma-separated; default callbacks,mail,approvals")
def worker(concurrency: int | None, queues: str | None) -> None:
    """Run a Celery worker (mail and callbacks)."""
    from approvals.web.worker_entry import celery_app
    from worker.celery_app import ALL_QUEUES

    n = concurrency or load_settings().worker_concurrency
    celery_app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            "--pool=threads",
            f"--concurrency={n}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queues or ",".join(ALL_QUEUES),
        ]
    )


@main.command()
def beat() -> None:
    """Run Celery beat: the sweeper that re-enqueues owed work and expires subscriptions."""
    from approvals.web.worker_entry import celery_app

    celery_app.start(["beat", "--loglevel=INFO"])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="default: APPROVALS_PORT or 8000")
def run(host: str, port: int | None) -> None:
    """Run web, worker and beat together on this machine (the embedded default)."""
    settings = load_settings()
    port = port or settings.port
    upgrade(_db())
    # The children must see the same instance folder and import this very installation
    # (-P: not a source tree that happens to be the current directory).
    env = dict(
        os.environ, APPROVALS_PORT=str(port), APPROVALS_INSTANCE_PATH=str(settings.instance_path)
    )
    me = [sys.executable, "-P", "-m", "approvals.web.cli"]
    commands = [
        [*me, "web", "--host", host, "--port", str(port)],
        [*me, "worker"],
        [*me, "beat"],
    ]
    children = [subprocess.Popen(command, env=env) for command in commands]
    base = env.get("APPROVALS_BASE_URL") or f"http://{host}:{port}"
    click.echo(
        f"approvals is running at {base} (data in {settings.instance_path}); Ctrl-C stops it"
    )
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.2)
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                # Like a process supervisor: a crashed process (say, a worker that lost its
                # broker) comes back; what it was doing is owed in the database.
                click.echo(f"{commands[index][4]} exited ({child.returncode}); restarting it")
                time.sleep(RESTART_DELAY_SECONDS)
                children[index] = subprocess.Popen(commands[index], env=env)
    code = 0
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    click.echo("approvals stopped")
    sys.exit(code)


@main.group()
def keys() -> None:
    """API keys (one per client; each client has its own webhook secret)."""


@keys.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print {id, name, key, webhook_secret}")
def keys_create(name: str, as_json: bool) -> None:
    """Create a client; its key and webhook secret are shown this once."""
    from approvals.clients import create_client
    from approvals.runtime import Runtime

    runtime = Runtime.from_settings(load_settings())
    upgrade(runtime.db)
    with runtime.db.session() as session:
        created = create_client(session, name, runtime.box)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": created.id,
                    "name": created.name,
                    "key": created.key,
                    "webhook_secret": created.webhook_secret,
                }
            )
        )
        return
    click.echo(f"id:             {created.id}\nname:           {created.name}")
    click.echo(f"api key:        {created.key}\nwebhook secret: {created.webhook_secret}")
    click.echo("Keep both now: the key is stored hashed and cannot be shown again.")


@keys.command("list")
def keys_list() -> None:
    """List clients (never their keys)."""
    from approvals.clients import list_clients

    with _db().session() as session:
        for client in list_clients(session):
            state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
            click.echo(f"{client.id}  {client.key_prefix}…  {state:20}  {client.name}")


@keys.command("revoke")
@click.argument("client_id")
def keys_revoke(client_id: str) -> None:
    """Revoke a client's key: its requests get 401 from now on."""
    from approvals.clients import revoke_client

    with _db().session() as session:
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


@main.group()
def outbox() -> None:
    """Mail kept by the outbox backend (the embedded default)."""


@outbox.command("list")
@click.option("--limit", default=50, show_default=True)
def outbox_list(limit: int) -> None:
    from approvals import outbox as store

    with _db().session() as session:
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

    with _db().session() as session:
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


if __name__ == "__main__":
    main()
