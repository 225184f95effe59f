"""``approvals ask``, run as a CI job runs it: a real process against the running service,
answered by a person through the email's link; the exit code is what the job branches on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.api import ApiUser, answer, option_links, text_part
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack


def ask(stack: Stack, key: str, *args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APPROVALS_")},
        "APPROVALS_URL": stack.base_url,
        "APPROVALS_API_KEY": key,
    }
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "approvals.cli", "ask", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(stdin or "")
    process.stdin.close()
    process.stdin = None  # written whole: communicate() has nothing more to send
    return process


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


@pytest.mark.parametrize(("option", "code"), [(0, 0), (1, 1)])
def test_wait_prints_the_answer_and_exits_0_for_the_first_option_1_for_another(
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    address: str,
    tmp_path: Path,
    option: int,
    code: int,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Changelog: fixes 12 and 14.\n")
    running = ask(
        stack, api.key, "--to", address, "--subject", "Deploy 4.2?", "--body-file", str(notes),
        "--wait", "--timeout", "1h", "--json",
    )  # fmt: skip
    mail = smtp.wait_for(address)[0]
    assert answer(option_links(mail)[option], comment="go").status_code == 200

    returncode, out, err = finished(running)

    assert returncode == code, err
    printed = json.loads(out)
    assert printed["status"] == "completed"
    assert printed["response"]["SelectedOption"] == ["Approve", "Reject"][option]
    assert printed["response"]["Comment"] == "go"
    assert mail["Subject"] == "Deploy 4.2?"
    assert "Changelog: fixes 12 and 14." in text_part(mail)
    assert api.state(printed["id"])["notificationUrl"] is None  # nobody to call back


@pytest.mark.parametrize("keep", [False, True])
def test_ctrl_c_while_waiting_cancels_the_request_unless_keep(
    stack: Stack, api: ApiUser, smtp: SmtpSink, address: str, keep: bool
) -> None:
    running = ask(stack, api.key, "--to", address, "--body", "-", "--wait",
                  *(["--keep"] if keep else []), stdin="Body from stdin")  # fmt: skip
    link = option_links(smtp.wait_for(address)[0])[0]

    running.send_signal(signal.SIGINT)
    returncode, out, err = finished(running)

    assert returncode == 2, err
    page = httpx.get(link, timeout=20)
    if keep:
        assert out.strip() == "pending"
        assert page.status_code == 200  # still open: the link still works
    else:
        assert out.strip() == "cancelled"
        assert page.status_code == 410


def test_without_wait_it_prints_the_id_and_errors_exit_3(
    stack: Stack, api: ApiUser, smtp: SmtpSink, address: str
) -> None:
    returncode, out, err = finished(ask(stack, api.key, "--to", address, "--options", "A, B"))
    assert returncode == 0, err
    state = api.state(out.strip())
    assert state["status"] == "pending" and state["options"] == ["A", "B"]

    returncode, out, err = finished(ask(stack, api.key, "--to", "not an address"))
    assert (returncode, out) == (3, "")
    assert "invalid_address" in err

    returncode, _, err = finished(ask(stack, "apv_made_up", "--to", address))
    assert returncode == 3 and "401" in err

    returncode, out, err = finished(ask(stack, api.key, "--to", address, "--wait",
                                        "--timeout", "1s"))  # fmt: skip
    assert returncode == 2 and out.strip() == "cancelled", err
