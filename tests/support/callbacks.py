"""Helpers for callback tests: answer a request, watch its delivery, script the receiver."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.api import ApiUser, answer, option_links
from tests.support.receiver import CallbackReceiver, Reply
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import eventually


def links_for(api: ApiUser, smtp: SmtpSink, address: str, url: str) -> tuple[str, list[str]]:
    """Subscribe ``address`` with ``url`` as NotificationUrl; the id and the email's links."""
    created = api.subscribe(address, url)
    return created["id"], option_links(smtp.wait_for(address)[0])


def confirm(link: str, comment: str = "") -> None:
    confirmed = answer(link, comment=comment)
    assert confirmed.status_code == 200, confirmed.text


def delivery(api: ApiUser, subscription_id: str) -> dict[str, Any]:
    found = api.state(subscription_id)["delivery"]
    assert found is not None, "the subscription owes no callback"
    return found


def delivery_ends(
    api: ApiUser, subscription_id: str, status: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll until the delivery reaches ``status``; its final JSON."""
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        nonlocal last
        last = delivery(api, subscription_id)
        return last if last["status"] == status else None

    try:
        return eventually(reached, timeout=timeout, interval=0.1)
    except AssertionError as exc:
        raise AssertionError(f"delivery never became {status!r}; last: {last!r}") from exc


def holds(check: Callable[[], bool], seconds: float, interval: float = 0.1) -> None:
    """Poll ``check`` for ``seconds``; fail as soon as it is false once."""
    deadline = time.monotonic() + seconds
    while True:
        assert check(), "condition stopped holding"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def rescript(receiver: CallbackReceiver, path: str, *replies: Reply) -> None:
    """Change how ``path`` answers from now on."""
    with receiver.lock:
        receiver.scripts[path] = list(replies)
