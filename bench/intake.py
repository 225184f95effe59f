"""Intake load: concurrent keep-alive clients posting subscriptions, in a process of its own.

``python -m bench.intake --base-url URL --path PATH [--key KEY] --notify-url URL --count N``
prints one JSON line: accepted per second, p50/p99 latency, status counts. It runs apart from
the benchmark process so the clients do not share a GIL with the SMTP sink and the receivers.
The same generator, the same bodies, drive our API and the bare baseline route.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
from collections import Counter
from typing import Any

import httpx

from bench.stats import percentile

API_PATH = "/approvalmail/$subscriptions"
BASELINE_PATH = "/baseline"
BODY_TEXT = (
    "Build 4.2.{i} passed every check.\n"
    "Changes: faster exports, a fix for the login redirect, updated translations.\n"
    "Rollback plan: redeploy 4.2.{prev}. Please approve or reject before 17:00."
)


def subscription_body(tag: str, index: int, notify_url: str) -> bytes:
    """A realistic approval request: one recipient, two options, a short body."""
    return json.dumps(
        {
            "NotificationUrl": notify_url,
            "Message": {
                "To": f"bench-{tag}-{index}@example.com",
                "Subject": f"Deploy build 4.2.{index} to production?",
                "Body": BODY_TEXT.format(i=index, prev=max(index - 1, 0)),
                "Options": "Approve, Reject",
                "Importance": "Normal",
            },
        }
    ).encode()


def run_load(
    *,
    base_url: str,
    path: str,
    key: str | None,
    notify_url: str,
    tag: str,
    count: int,
    concurrency: int,
    warmup: int,
    duration: float | None,
    stop_file: str | None,
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    counter = itertools.count()
    warm_counter = itertools.count()
    started = [0.0]
    # The clock starts as the barrier opens, before any client can look at it.
    barrier = threading.Barrier(
        concurrency + 1, action=lambda: started.__setitem__(0, time.perf_counter())
    )
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    warm_ok = 0

    def stopping() -> bool:
        if duration is not None and time.perf_counter() - started[0] > duration:
            return True
        return bool(stop_file) and os.path.exists(stop_file)  # type: ignore[arg-type]

    def client_loop() -> None:
        nonlocal warm_ok
        mine: list[float] = []
        seen: Counter[str] = Counter()
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            for _ in range(warmup):
                index = next(warm_counter)
                answer = client.post(path, content=subscription_body(f"{tag}w", index, notify_url))
                if answer.status_code == 201:
                    with lock:
                        warm_ok += 1
            barrier.wait()
            while True:
                index = next(counter)
                if index >= count or stopping():
                    break
                body = subscription_body(tag, index, notify_url)
                began = time.perf_counter()
                try:
                    status = str(client.post(path, content=body).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                mine.append(time.perf_counter() - began)
                seen[status] += 1
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started[0]
    accepted = statuses.get("201", 0)
    return {
        "requests": len(latencies),
        "accepted": accepted,
        "created_total": accepted + warm_ok,
        "statuses": dict(statuses),
        "elapsed": elapsed,
        "rate": accepted / elapsed if elapsed > 0 else float("nan"),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--path", default=API_PATH)
    parser.add_argument("--key")
    parser.add_argument("--notify-url", required=True)
    parser.add_argument("--tag", default="x")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2, help="requests per client, not timed")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    args = parser.parse_args()
    result = run_load(
        base_url=args.base_url,
        path=args.path,
        key=args.key,
        notify_url=args.notify_url,
        tag=args.tag,
        count=args.count,
        concurrency=args.concurrency,
        warmup=args.warmup,
        duration=args.duration,
        stop_file=args.stop_file,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
