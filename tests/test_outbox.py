"""The embedded default's outbox: mail kept in the database, read over the API and the CLI."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
from email import policy
from pathlib import Path

import httpx

from tests.conftest import make_stack
from tests.support.api import ApiUser, option_links
from tests.support.smtp_sink import SmtpSink, free_port
from tests.support.stack import eventually


def test_outbox_keeps_each_mail_readable_by_api_and_cli(
    tmp_path: Path, smtp: SmtpSink, address: str
) -> None:
    stack, _ = make_stack("embedded", tmp_path, smtp, {"APPROVALS_MAIL_BACKEND": "outbox"})
    stack.start()
    try:
        created, http = stack.new_client()
        api = ApiUser(created.id, created.key, created.webhook_secret, http)
        api.subscribe(
            f"{address};bob-{address}",
            "https://hooks.example.com/x",
            Subject="Kept in the outbox",
        )
        listing = eventually(
            lambda: (m := http.get("/outbox/messages").json()["messages"]) and len(m) == 2 and m
        )
        assert {m["to"] for m in listing} == {address, f"bob-{address}"}
        assert smtp.messages_for(address) == []  # nothing went over SMTP
        first = listing[0]["id"]
        eml = http.get(f"/outbox/messages/{first}", params={"format": "eml"})
        assert eml.headers["content-type"].startswith("message/rfc822")
        message = email.message_from_bytes(eml.content, policy=policy.default)
        assert message["Subject"] == "Kept in the outbox"
        assert len(option_links(message)) == 2
        # Another client sees none of it.
        _, other = stack.new_client("other")
        assert other.get("/outbox/messages").json()["messages"] == []
        assert other.get(f"/outbox/messages/{first}").status_code == 404
        shown = subprocess.run(
            [sys.executable, "-m", "approvals.cli", "outbox", "show", str(first)],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "Subject: Kept in the outbox" in shown
        assert option_links(message)[0] in shown
    finally:
        stack.stop()


def test_run_serves_and_stops_all_its_processes_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPROVALS_")}
    env["APPROVALS_INSTANCE_PATH"] = str(tmp_path)
    with open(tmp_path / "run.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "approvals.cli", "run", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def serving() -> bool:
        assert process.poll() is None, (tmp_path / "run.log").read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
        except httpx.TransportError:
            return False

    try:
        try:
            # Migrations, then web, worker and beat on a busy two-core machine: up to a minute.
            eventually(serving, timeout=60, interval=0.2)
        except AssertionError as exc:
            raise AssertionError((tmp_path / "run.log").read_text()) from exc
        children = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 3
        # A new instance prints the way into the dashboard: a link that signs in once.
        printed = re.search(r"Open the dashboard: (\S+)", (tmp_path / "run.log").read_text())
        assert printed, (tmp_path / "run.log").read_text()
        assert printed.group(1).startswith(f"http://127.0.0.1:{port}/dashboard/signin/")
        signed_in = httpx.get(printed.group(1))
        assert (
            signed_in.status_code == 303 and "approvals_session=" in signed_in.headers["set-cookie"]
        )
        assert httpx.get(printed.group(1)).status_code == 410
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        for child in children:
            assert (
                not Path(f"/proc/{child}").exists()
                or "zombie" in Path(f"/proc/{child}/status").read_text()
            )
    finally:
        if process.poll() is None:
            process.terminate()  # `approvals run` stops its web, worker and beat on SIGTERM
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
