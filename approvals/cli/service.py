"""``approvals run|web|worker|beat``: the service's processes, together or one each."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time

import click

from approvals.cli.common import database, upgrade
from approvals.config import Settings, load_settings
from approvals.observability.logs import configure_logging
from approvals.observability.multiprocess import use_metrics_dir

# How long `approvals run` gives its processes to finish their work after Ctrl-C.
STOP_GRACE_SECONDS = 20
RESTART_DELAY_SECONDS = 1.0
# How often the supervisor looks for a child that exited.
SUPERVISE_SECONDS = 0.2


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="default: APPROVALS_PORT or 8000")
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def web(host: str, port: int | None, workers: int, threads: int) -> None:
    """Serve the HTTP API and pages with gunicorn."""
    settings = load_settings()
    use_metrics_dir(settings)
    configure_logging(settings, "web")
    from approvals.web.server import serve

    serve(host, port or settings.port, workers=workers, threads=threads)


@click.command()
@click.option("--concurrency", default=None, type=int, help="default: APPROVALS_WORKER_CONCURRENCY")
@click.option(
    "--queues", default=None, help="comma-separated; default callbacks,mail,graph,approvals"
)
def worker(concurrency: int | None, queues: str | None) -> None:
    """Run a Celery worker (mail, callbacks and Graph operations)."""
    settings = load_settings()
    use_metrics_dir(settings)
    configure_logging(settings, "worker")
    _stacks_on_sigusr2()
    from worker.celery_app import ALL_QUEUES
    from worker.entry import celery_app

    n = concurrency or settings.worker_concurrency
    celery_app.worker_main(
        [
            *_quiet(settings),
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


@click.command()
def beat() -> None:
    """Run Celery beat: the sweeper that re-enqueues owed work and expires subscriptions."""
    settings = load_settings()
    use_metrics_dir(settings)
    configure_logging(settings, "beat")
    _stacks_on_sigusr2()
    from worker.entry import celery_app

    celery_app.start([*_quiet(settings), "beat", "--loglevel=INFO"])


def _first_signin_link(settings: Settings, base_url: str) -> None:
    """On a new instance (no key yet), the way into the dashboard: a link that works once."""
    from approvals.cli.signin import new_signin_link
    from approvals.dashboard.accounts import SIGNIN_LINK_MINUTES

    link = new_signin_link(settings, only_if_new=True, base_url=base_url)
    if link:
        click.echo(
            f"Open the dashboard: {link}\n(works once, for {SIGNIN_LINK_MINUTES} minutes; "
            "`approvals signin-link` prints another)"
        )


def _stacks_on_sigusr2() -> None:
    """``kill -USR2 <pid>`` writes every thread's stack to the log: where a stuck process is."""
    faulthandler.register(signal.SIGUSR2, all_threads=True)


def _quiet(settings: Settings) -> list[str]:
    """JSON logs have no room for Celery's start-up banner; readable ones keep it."""
    return ["--quiet"] if settings.log_format == "json" else []


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="default: APPROVALS_PORT or 8000")
def run(host: str, port: int | None) -> None:
    """Run web, worker and beat together on this machine (the embedded default)."""
    settings = load_settings()
    port = port or settings.port
    use_metrics_dir(settings, clear=True)  # this run's processes count from zero
    upgrade(database())
    # The children must see the same instance folder and import this very installation
    # (-P: not a source tree that happens to be the current directory).
    env = dict(
        os.environ, APPROVALS_PORT=str(port), APPROVALS_INSTANCE_PATH=str(settings.instance_path)
    )
    me = [sys.executable, "-P", "-m", "approvals.cli"]
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
    _first_signin_link(settings, base)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(SUPERVISE_SECONDS)
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
