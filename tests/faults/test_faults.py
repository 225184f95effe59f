"""Faults injected while N subscriptions are in flight; nothing accepted may be lost.

One stack per run (``env``), N subscriptions of one or two recipients (``APPROVALS_FAULT_N``,
default 200). Each test starts the work, injects its fault when the work is part way through,
lets the service recover, and ``settle`` counts the end state and fails on anything lost or
stuck or any duplicate the design does not explain.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.faults.harness import FaultEnv, FaultRun, HoldingSink
from tests.support.api import ApiUser, answer, option_links
from tests.support.processes import ServiceProcess
from tests.support.receiver import Reply
from tests.support.stack import eventually

pytestmark = pytest.mark.timeout(300)

OUTAGE_SECONDS = 3.0


def backlog(env: FaultEnv, run: FaultRun) -> None:
    """All N subscribed while the worker is down, so its mail is owed at once when it starts."""
    env.stack.worker.stop()
    run.submit_all()
    env.stack.worker.start()


def test_no_fault(env: FaultEnv) -> None:
    """The control: the same run with nothing broken."""
    run = FaultRun(env, "none")
    backlog(env, run)
    run.confirm_all()
    figures = run.settle()
    assert figures.mail_duplicates == 0
    assert figures.callback_duplicates == 0


def test_worker_killed_while_sending_mail(env: FaultEnv) -> None:
    """The worker dies with mail claimed, some of it already handed to the SMTP server.

    Answers wait until every mail is in: a mail whose claim died with the worker is sent again
    when the claim is taken over (a duplicate, counted), or left alone if already answered.
    """
    run = FaultRun(env, "kill -9 worker during mail")
    backlog(env, run)
    run.wait_emailed(len(run.addresses) // 3)
    env.stack.worker.kill()
    at_kill = run.emailed()
    assert at_kill < len(run.addresses), "all mail went out before the kill"
    run.note(f"killed at {at_kill}/{len(run.addresses)} mails")
    time.sleep(1)
    env.stack.worker.start()
    run.wait_emailed(len(run.addresses))
    run.confirm_all()
    run.settle()


def test_worker_killed_while_delivering_callbacks(env: FaultEnv) -> None:
    run = FaultRun(env, "kill -9 worker during callbacks", reply=Reply(delay=0.5))
    run.submit_all()
    run.wait_emailed(len(run.addresses))
    run.start_confirming()
    run.wait_callbacks(run.n // 5)
    env.stack.worker.kill()
    in_flight = sum(1 for r in run.received() if r.at > time.time() - 0.5)
    at_kill = run.callbacks()
    assert at_kill < run.n, "every callback arrived before the kill"
    run.note(f"killed at {at_kill}/{run.n} callbacks, {in_flight} requests in flight")
    with run.env.receiver.lock:  # back to quick answers so the rest does not drag
        run.env.receiver.scripts[run.path] = [Reply()]
    env.stack.worker.start()
    run.confirm_all()
    run.settle()


@pytest.mark.postgres_redis
def test_redis_loses_every_message(env: FaultEnv) -> None:
    """What a Redis restart without persistence leaves: every queued message gone.

    The shared Redis server is not restarted (other stacks use it); this stack's keys (its own
    kombu prefix) are deleted while its worker is down and all the work is queued: half the mail,
    then the other half (published to a broker whose bindings were already gone), then the same
    for the callbacks. Only the rows and the beat sweeper can bring the work back.
    """
    run = FaultRun(env, "Redis keys wiped (4 times)")
    halves = run.plan[: run.n // 2], run.plan[run.n // 2 :]
    env.stack.worker.stop()
    wiped = []
    for half in halves:
        run.submit(half)
        owed = sum(len(p.addresses) for p in half)
        wiped.append(run.wait_until(lambda: env.queued("mail"), owed, 20, "mail in Redis"))
        env.wipe_broker()
    assert run.emailed() == 0
    env.stack.worker.start()
    run.wait_emailed(len(run.addresses))

    env.stack.worker.stop()
    for half in halves:
        run.confirm(half)
        wiped.append(run.wait_until(lambda: env.queued("callbacks"), len(half), 20, "in Redis"))
        env.wipe_broker()
    assert run.callbacks() == 0
    run.note(f"worker stopped; queued messages wiped: mail {wiped[:2]}, callbacks {wiped[2:]}")
    env.stack.worker.start()
    run.confirm_all()
    figures = run.settle()
    assert figures.mail_duplicates == 0
    assert figures.callback_duplicates == 0


def redis_cli(port: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True
    )


def restart_redis(port: int) -> None:
    """Stop the tests' Redis server (it keeps nothing on disk) and start it again as it was
    (CI starts it in .ci/run: loopback, no persistence, its folder and log file)."""
    config = {}
    for name in ("bind", "dir", "logfile"):
        answer = redis_cli(port, "config", "get", name).stdout.decode().splitlines()
        config[name] = answer[1] if len(answer) > 1 else ""
    redis_cli(port, "shutdown", "nosave")
    eventually(lambda: redis_cli(port, "ping").returncode != 0, timeout=10)
    for folder in (config["dir"], str(Path(config["logfile"]).parent)):
        Path(folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            *config["bind"].split(),
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            config["dir"],
            "--logfile",
            config["logfile"],
        ],
        check=True,
    )
    eventually(lambda: redis_cli(port, "ping").stdout.strip() == b"PONG", timeout=10)


@contextmanager
def restarting(process: ServiceProcess, run: FaultRun) -> Iterator[None]:
    """Start ``process`` again whenever it exits, as compose's restart policy and ``approvals
    run`` do, until the block ends; each restart is noted in the run's figures."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            assert process.process is not None
            try:
                code = process.process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            if not done.is_set():
                run.note(f"{process.command[0]} exited ({code}) and was restarted")
                process.start()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


@pytest.mark.postgres_redis
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to restart")
def test_redis_restarted(env: FaultEnv) -> None:
    """The Redis server itself restarted while mail and answers are in flight.

    Every queued message is gone and every connection (web, worker, beat, rate limits) is cut;
    they reconnect, and the rows and the sweeper bring the lost work back.
    """
    run = FaultRun(env, "Redis server restarted")
    backlog(env, run)
    run.start_confirming()
    run.wait_emailed(len(run.addresses) // 3)
    run.note(f"restarted at {run.emailed()}/{len(run.addresses)} mails")
    # kombu's Redis transport can die reconnecting (AttributeError in restore_unacked), at
    # once or later; the worker then exits and comes back, as it would in production.
    with restarting(env.stack.worker, run):
        restart_redis(urlsplit(env.stack.env["APPROVALS_BROKER_URL"]).port or 6379)
        run.confirm_all()
        run.settle()


@pytest.mark.postgres_redis
def test_postgres_connections_terminated(env: FaultEnv) -> None:
    """Every connection to the stack's database cut once a second through mail and callbacks.

    Answers wait until every mail is in; a mail whose "sent" could not be recorded is sent again
    when its claim is taken over (a duplicate, counted), or left alone if already answered.
    """
    run = FaultRun(env, "pg_terminate_backend (every 1 s)")
    stop = threading.Event()
    rounds: list[int] = []

    def terminate() -> None:
        while not stop.wait(1.0):
            rounds.append(env.terminate_connections())

    killer = threading.Thread(target=terminate, daemon=True)
    killer.start()
    try:
        run.submit_all()
        run.wait_emailed(len(run.addresses))
        run.confirm_all()
        # Keep going until half the callbacks are in, so deliveries are hit too.
        run.wait_callbacks(run.n // 2)
    finally:
        stop.set()
        killer.join()
    run.note(f"{len(rounds)} rounds, {sum(rounds)} connections terminated")
    assert sum(rounds) > 0
    run.settle()


def test_smtp_server_down_for_a_while(env: FaultEnv) -> None:
    run = FaultRun(env, f"SMTP server down {OUTAGE_SECONDS:g} s")
    backlog(env, run)
    run.start_confirming()
    run.wait_emailed(len(run.addresses) // 4)
    env.smtp.stop()
    at_stop = run.emailed()
    assert at_stop < len(run.addresses), "all mail went out before the outage"
    time.sleep(OUTAGE_SECONDS)
    assert run.emailed() == at_stop
    env.smtp.start()
    run.note(f"down at {at_stop}/{len(run.addresses)} mails")
    run.confirm_all()
    run.settle()


def test_callback_receiver_down_for_a_while(env: FaultEnv) -> None:
    run = FaultRun(env, f"receiver answers 503 for {OUTAGE_SECONDS:g} s")
    run.submit_all()
    run.wait_emailed(len(run.addresses))
    run.start_confirming()
    run.wait_callbacks(run.n // 5)
    with run.receiver_answers(Reply(503, body=b"down")):
        at_start = run.callbacks()
        time.sleep(OUTAGE_SECONDS)
    refused = len(run.refused)
    assert at_start < run.n, "every callback arrived before the outage"
    assert refused > 0, "no callback was attempted during the outage"
    run.note(f"down at {at_start}/{run.n} callbacks, {refused} requests refused")
    run.confirm_all()
    figures = run.settle()
    assert figures.mail_duplicates == 0
    assert figures.callback_duplicates == 0


def test_a_recipient_who_answered_is_not_shown_as_never_emailed(holding_env: FaultEnv) -> None:
    """The worker dies after the SMTP server took the mail, before it heard "250".

    The recipient has the mail and answers through it. When the dead worker's claim is taken
    over, the subscription is already completed, so the mail is (rightly) not sent again, but
    the row must not then claim it was never sent to the very person who answered it.
    """
    env = holding_env
    smtp = env.smtp
    assert isinstance(smtp, HoldingSink)
    created, http = env.stack.new_client("held")
    api = ApiUser(created.id, created.key, created.webhook_secret, http)
    address = f"held-{uuid.uuid4().hex[:8]}@example.com"
    try:
        smtp.release.clear()
        subscription_id = api.subscribe(address, env.receiver.url(env.receiver.new_path()))["id"]
        mail = smtp.wait_for(address)[0]
        env.stack.worker.kill()  # it is waiting for the "250" the server keeps back
        smtp.release.set()
        env.stack.worker.start()
        assert answer(option_links(mail)[0]).status_code == 200

        def settled() -> dict[str, Any] | None:
            row = api.state(subscription_id)["recipients"][0]
            return row if row["emailStatus"] != "sending" else None

        recipient = eventually(settled, timeout=30)
        assert api.state(subscription_id)["response"]["UserEmailAddress"] == address
        assert len(smtp.messages_for(address)) == 1
        assert recipient["emailStatus"] == "sent", recipient
    finally:
        http.close()
