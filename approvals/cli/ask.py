"""``approvals ask``: ask for an approval from a script or a CI job, and wait for the answer.

It talks to a running service over its HTTP API (``APPROVALS_URL``, ``APPROVALS_API_KEY``),
like any other client. With ``--wait`` it polls the subscription with a growing interval
(1 s up to 15 s: an answer is seen within seconds, a long wait costs a few requests a minute)
and ends with an exit code a shell can branch on:

0  the first option was chosen (Approve)       2  expired, cancelled, or --timeout reached
1  another option was chosen (Reject, ...)      3  an error (bad input, key, service down)

Ctrl-C (or SIGTERM, as CI systems send on cancel) while waiting cancels the request, so its
links stop working, unless ``--keep``.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, NoReturn

import click
import httpx

FIRST_OPTION, OTHER_OPTION, NO_ANSWER, ERROR = 0, 1, 2, 3
APPROVAL = "/approvalmail/$subscriptions"
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_START_SECONDS = 1.0
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 15.0
# Answers worth waiting out while polling: the service restarting, busy or rate limiting.
TRANSIENT = {429, 502, 503, 504}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``1h``, ``2d`` (or ``1h30m``) in seconds."""
    parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)\s*([smhd]?)\s*)+", text.lower())
    if not parts:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 30m, 1h or 2d")
    return sum(
        float(number) * _UNITS[unit or "s"]
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text.lower())
    )


class _Failed(Exception):
    """Something went wrong that the caller must see (exit 3)."""


@dataclass
class _Service:
    http: httpx.Client

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _Failed(f"cannot reach the service: {type(exc).__name__}: {exc}") from None

    def expect(self, answer: httpx.Response, *statuses: int) -> dict[str, Any]:
        if answer.status_code not in statuses:
            raise _Failed(f"the service answered {answer.status_code}: {_reason(answer)}")
        return answer.json()


def _reason(answer: httpx.Response) -> str:
    try:
        error = answer.json()["error"]
        field = f" ({error['field']})" if error.get("field") else ""
        return f"{error['code']}: {error['message']}{field}"
    except (ValueError, KeyError, TypeError):
        return answer.text[:300]


def _body(body: str | None, body_file: str | None) -> str | None:
    if body is not None and body_file is not None:
        raise _Failed("give --body or --body-file, not both")
    if body == "-":
        return sys.stdin.read()
    if body_file is not None:
        with click.open_file(body_file, encoding="utf-8") as handle:
            return handle.read()
    return body


def _cancelled(signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt


class _AskCommand(click.Command):
    """Usage errors exit 3 like every other error: 2 means "no answer" to the caller."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = ERROR
            raise


@click.command(cls=_AskCommand)
@click.option("--to", required=True, help="recipients, separated by ';' or ','")
@click.option("--subject", default="Approval Request", show_default=True)
@click.option("--options", default="Approve, Reject", show_default=True, help="comma-separated")
@click.option("--body", default=None, help="the message text ('-' reads it from stdin)")
@click.option("--body-file", default=None, help="read the message text from this file")
@click.option("--importance", type=click.Choice(["Low", "Normal", "High"]), default="Normal")
@click.option("--notify", default=None, help="a NotificationUrl to POST the answer to as well")
@click.option("--idempotency-key", default=None, help="a retried command asks only once")
@click.option("--wait", is_flag=True, help="block until answered; the exit code says how")
@click.option("--timeout", default=None, help="with --wait: give up after this long (e.g. 1h)")
@click.option("--keep", is_flag=True, help="with --wait: Ctrl-C leaves the request open")
@click.option("--json", "as_json", is_flag=True, help="print the answer as JSON")
@click.option("--url", envvar="APPROVALS_URL", required=True, help="[env: APPROVALS_URL]")
@click.option(
    "--api-key", envvar="APPROVALS_API_KEY", required=True, help="[env: APPROVALS_API_KEY]"
)
def ask(
    to: str,
    subject: str,
    options: str,
    body: str | None,
    body_file: str | None,
    importance: str,
    notify: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: str | None,
    keep: bool,
    as_json: bool,
    url: str,
    api_key: str,
) -> None:
    """Email an approval request and print its id; with --wait, print the answer and exit 0
    (first option), 1 (another option), 2 (expired, cancelled or timed out) or 3 (error)."""
    try:
        limit = parse_duration(timeout) if timeout else None
    except click.BadParameter as exc:
        _fail(exc.format_message())
    headers = {"Authorization": f"Bearer {api_key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with httpx.Client(
        base_url=url.rstrip("/"), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
    ) as http:
        service = _Service(http)
        try:
            message = {"To": to, "Subject": subject, "Options": options}
            message["Importance"] = importance
            text = _body(body, body_file)
            if text is not None:
                message["Body"] = text
            request = {"NotificationUrl": notify, "Message": message}
            created = service.expect(service.call("POST", APPROVAL, json=request), 201)
        except _Failed as exc:
            _fail(str(exc))
        if not wait:
            click.echo(json.dumps(created) if as_json else created["id"])
            return
        signal.signal(signal.SIGTERM, _cancelled)
        try:
            try:
                if not as_json:  # the answer goes to stdout; the id to the log
                    click.echo(created["id"], err=True)
                state = _wait(service, created["id"], limit)
            except KeyboardInterrupt:
                state = _give_up(service, created["id"], keep, "interrupted")
        except _Failed as exc:
            _fail(str(exc))
        sys.exit(_report(state, as_json))


def _wait(service: _Service, subscription_id: str, limit: float | None) -> dict[str, Any]:
    """Poll until the subscription is no longer pending (or ``limit`` seconds have passed)."""
    deadline = None if limit is None else time.monotonic() + limit
    interval = POLL_START_SECONDS
    while True:
        answer = service.call("GET", f"{APPROVAL}/{subscription_id}")
        if answer.status_code not in TRANSIENT:
            state = service.expect(answer, 200)
            if state["status"] != "pending":
                return state
        if deadline is not None and time.monotonic() >= deadline:
            return _give_up(service, subscription_id, keep=False, why="timed out")
        pause = interval if deadline is None else min(interval, deadline - time.monotonic())
        time.sleep(max(0.0, pause))
        interval = min(interval * POLL_GROWTH, POLL_MAX_SECONDS)


def _give_up(service: _Service, subscription_id: str, keep: bool, why: str) -> dict[str, Any]:
    """Stop waiting: cancel the request (its links stop working) unless ``keep``."""
    if keep:
        click.echo(f"{why}; the request stays open: {subscription_id}", err=True)
        return {"id": subscription_id, "status": "pending", "response": None}
    answer = service.call("DELETE", f"{APPROVAL}/{subscription_id}")
    service.expect(answer, 200)
    # Someone may have answered just before the cancellation: the state says which won.
    state = service.expect(service.call("GET", f"{APPROVAL}/{subscription_id}"), 200)
    if state["status"] == "cancelled":
        click.echo(f"{why}; request cancelled", err=True)
    return state


def _report(state: dict[str, Any], as_json: bool) -> int:
    response = state.get("response")
    if as_json:
        click.echo(json.dumps({"id": state["id"], "status": state["status"], "response": response}))
    elif response:
        comment = f": {response['Comment']}" if response.get("Comment") else ""
        click.echo(f"{response['SelectedOption']} by {response['UserEmailAddress']}{comment}")
    else:
        click.echo(state["status"])
    if state["status"] != "completed" or not response:
        return NO_ANSWER
    return FIRST_OPTION if response["SelectedOption"] == _first(state) else OTHER_OPTION


def _first(state: dict[str, Any]) -> str | None:
    options = state.get("options")
    return options[0] if options else None


def _fail(message: str) -> NoReturn:
    click.echo(f"approvals ask: {message}", err=True)
    sys.exit(ERROR)
