"""End to end: from the recipient's confirming POST to the callback's arrival at the receiver.

Each sample is a real subscription (made through the API) with a receiver path of its own.
The recipient's link is signed with the service's key (the same link the email carries), the
confirmation page is fetched and parsed like a browser would, then the clock starts and the
form is POSTed; the sample ends when the receiver records the callback. Web, worker and beat
all run. "Idle": samples one after another with nothing else going on. "Under load": the same
while the intake load generator (16 clients) posts subscriptions as fast as it can.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from approvals.approval.links import Links
from approvals.store.models import Recipient
from bench.harness import Background, new_tag
from bench.intake import API_PATH, subscription_body
from bench.stats import percentile
from tests.support.api import confirm_form

SAMPLE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Sample:
    subscription_id: str
    link: str
    path: str


def prepare(bench: Any, key: str, receiver: Any, count: int, sink: Any) -> list[Sample]:
    """``count`` subscriptions, each calling back to its own path; their mails sent."""
    tag = new_tag()
    made: list[tuple[str, str]] = []
    first_mail = sink.count()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=bench.base_url, headers=headers, timeout=30) as http:
        for index in range(count):
            path = receiver.new_path()
            answer = http.post(API_PATH, content=subscription_body(tag, index, receiver.url(path)))
            answer.raise_for_status()
            made.append((answer.json()["id"], path))
    links = Links(bench.settings.secret_key, bench.settings.secret_key_fallbacks)
    with bench.db.session() as session:
        recipients = dict(
            session.execute(
                select(Recipient.subscription_id, Recipient.id).where(
                    Recipient.subscription_id.in_([sid for sid, _ in made])
                )
            ).all()
        )
    # Start from a quiet worker: the mails of these subscriptions are out before sampling.
    from bench.mail import wait_for_count

    wait_for_count(sink, first_mail + count, 60)
    return [
        Sample(
            sid,
            f"{bench.base_url}/respond/{links.response_token(sid, recipients[sid])}",
            path,
        )
        for sid, path in made
    ]


def _confirm(browser: httpx.Client, sample: Sample, confirm_ms: list[float]) -> float:
    """Open the recipient's page and press Confirm, as a person would; when (wall clock) the
    confirming POST began. Its duration goes into ``confirm_ms``."""
    page = browser.get(sample.link, params={"option": "0"})
    page.raise_for_status()
    form = confirm_form(page.text)
    began_wall, began = time.time(), time.perf_counter()
    answer = browser.post(sample.link, data={**form, "comment": ""})
    confirm_ms.append((time.perf_counter() - began) * 1000)
    answer.raise_for_status()
    return began_wall


def _summary(latencies: list[float], timeouts: int, confirm_ms: list[float]) -> dict[str, Any]:
    return {
        "samples": len(latencies),
        "timeouts": timeouts,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "confirm_p50_ms": percentile(confirm_ms, 50),
    }


def measure(
    samples: list[Sample], receiver: Any, budget: float = 120.0, gap: float = 0.05
) -> dict[str, Any]:
    """Confirm each sample in turn; seconds from the POST to the callback's arrival.

    Stops taking samples when ``budget`` seconds are spent; a callback that has not arrived
    when its wait (at most ``SAMPLE_TIMEOUT``) ends counts as a timeout, with the time waited
    as its latency, a lower bound.
    """
    latencies: list[float] = []
    confirm_ms: list[float] = []
    timeouts = 0
    end = time.monotonic() + budget
    with httpx.Client(timeout=30, headers={"User-Agent": "Mozilla/5.0 (bench)"}) as browser:
        for sample in samples:
            if time.monotonic() >= end:
                break
            began_wall = _confirm(browser, sample, confirm_ms)
            deadline = min(time.monotonic() + SAMPLE_TIMEOUT, max(end, time.monotonic() + 1))
            got: list[Any] = []
            while time.monotonic() < deadline:
                got = receiver.received(sample.path)
                if got:
                    break
                time.sleep(0.002)
            if got:
                latencies.append(got[0].at - began_wall)
            else:
                timeouts += 1
                latencies.append(time.time() - began_wall)
            time.sleep(gap)
    return _summary(latencies, timeouts, confirm_ms)


def measure_spaced(
    samples: list[Sample], receiver: Any, budget: float, interval: float = 0.5
) -> dict[str, Any]:
    """Confirm one sample every ``interval`` seconds without waiting for its callback, then
    wait for all callbacks until ``budget`` seconds after the first confirmation.

    Under load a callback can wait behind many queued tasks; spacing the confirmations keeps
    the number of samples independent of that wait while adding no load of its own.
    """
    sent: list[tuple[Sample, float]] = []
    confirm_ms: list[float] = []
    end = time.monotonic() + budget
    with httpx.Client(timeout=30, headers={"User-Agent": "Mozilla/5.0 (bench)"}) as browser:
        for sample in samples:
            if time.monotonic() >= end - SAMPLE_TIMEOUT / 4:
                break
            began_wall = _confirm(browser, sample, confirm_ms)
            sent.append((sample, began_wall))
            time.sleep(interval)
    while time.monotonic() < end and not all(receiver.received(s.path) for s, _ in sent):
        time.sleep(0.01)
    latencies: list[float] = []
    timeouts = 0
    for sample, began_wall in sent:
        got = receiver.received(sample.path)
        if got:
            latencies.append(got[0].at - began_wall)
        else:
            timeouts += 1
            latencies.append(time.time() - began_wall)
    return _summary(latencies, timeouts, confirm_ms)


def under_load(
    bench: Any,
    key: str,
    receiver: Any,
    samples: list[Sample],
    notify_url: str,
    workdir: Path,
    budget: float,
    sink: Any,
) -> dict[str, Any]:
    """:func:`measure_spaced` while the intake generator runs, for at most ``budget`` s."""
    stop_file = workdir / f"stop-{new_tag()}"
    load = Background(
        "bench.intake",
        "--base-url",
        bench.base_url,
        "--key",
        key,
        "--notify-url",
        notify_url,
        "--tag",
        new_tag(),
        "--count",
        "1000000",
        "--duration",
        str(budget + 10),
        "--stop-file",
        str(stop_file),
    )
    mails_before = sink.count()
    try:
        time.sleep(1.5)  # clients connected and warm
        result = measure_spaced(samples, receiver, budget=budget)
        stop_file.touch()
        result["load"] = load.result(timeout=budget + 60)
        # Mails owed by the load's subscriptions that the worker had not sent when it ended.
        result["mail_backlog"] = result["load"]["created_total"] - (sink.count() - mails_before)
    finally:
        load.stop()
        stop_file.unlink(missing_ok=True)
    return result
