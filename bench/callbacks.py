"""Callbacks: deliveries per second from one worker process, against a raw httpx loop.

Ours: with the worker stopped, N deliveries are written through the product's
``approvals.delivery.service.create_delivery`` in one transaction and
``worker.tasks.deliver_callback`` is enqueued for them in batches of
``worker.celery_app.BATCH_SIZE`` ids, as the web's publisher and the sweeper send them, through
a Celery app configured like the service's (not left to the beat sweeper, which waits a grace
period). Then one worker process is started and the rate is taken from the receiver's arrival
times, first to last.

Baseline (``python -m bench.callbacks --url URL --bodies FILE``, a process of its own): the same
bodies POSTed in a plain loop over one keep-alive ``httpx.Client``, timed at the same receiver.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.stats import rate_between

DELIVER_TASK = "worker.tasks.deliver_callback"
SLOW_SHARE = 10  # every 10th delivery goes to the slow receiver
SLOW_SECONDS = 1.0


def payload(index: int) -> dict[str, Any]:
    """An ``ApprovalEmailResponse`` like the ones the service sends."""
    return {
        "SelectedOption": "Approve" if index % 3 else "Reject",
        "UserEmailAddress": f"bench-{index}@example.com",
        "UserTenantId": None,
        "UserId": uuid.uuid4().hex,
        "SubscriptionId": uuid.uuid4().hex,
        "Comment": "",
        "RespondedAt": "2026-11-24T20:03:26.166695Z",
    }


def make_deliveries(bench: Any, client_id: str, urls: list[str]) -> list[tuple[str, str]]:
    """Owe one delivery per URL, in one transaction; (id, body) pairs."""
    from approvals.delivery.service import create_delivery

    made: list[tuple[str, str]] = []
    with bench.db.session() as session:
        for index, url in enumerate(urls):
            delivery = create_delivery(
                session, client_id=client_id, url=url, payload=payload(index)
            )
            made.append((delivery.id, delivery.payload))
    return made


def enqueue(app: Any, ids: list[str]) -> float:
    """Publish ``deliver_callback`` for batches of ids on one producer; seconds it took."""
    from worker.celery_app import batches

    began = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for batch in batches(ids):
            app.send_task(DELIVER_TASK, args=(batch,), producer=producer)
    return time.perf_counter() - began


def wait_received(receiver: Any, path: str, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(receiver.received(path)) >= count:
            return True
        time.sleep(0.01)
    return len(receiver.received(path)) >= count


def fast_only(bench: Any, client_id: str, receiver: Any, count: int, timeout: float) -> dict:
    """``count`` deliveries to one fast receiver, drained by one fresh worker process."""
    path = receiver.new_path()
    made = make_deliveries(bench, client_id, [receiver.url(path)] * count)
    publish_seconds = enqueue(bench.celery(), [delivery_id for delivery_id, _ in made])
    bench.start_worker()
    try:
        complete = wait_received(receiver, path, count, timeout)
    finally:
        bench.stop_worker()
    arrived = receiver.received(path)
    return {
        "count": count,
        "delivered": len(arrived),
        "complete": complete,
        "publish_seconds": publish_seconds,
        "rate": rate_between(r.at for r in arrived),
        "bodies": [body for _, body in made],
    }


def with_slow_receiver(
    bench: Any, client_id: str, fast: Any, slow: Any, count: int, timeout: float
) -> dict[str, Any]:
    """Every ``SLOW_SHARE``-th delivery goes to a receiver answering after 1 s."""
    from tests.support.receiver import Reply

    fast_path = fast.new_path()
    slow_path = slow.new_path(Reply(200, delay=SLOW_SECONDS))
    urls = [
        slow.url(slow_path) if index % SLOW_SHARE == SLOW_SHARE - 1 else fast.url(fast_path)
        for index in range(count)
    ]
    slow_count = sum(1 for url in urls if slow_path in url)
    fast_count = count - slow_count
    made = make_deliveries(bench, client_id, urls)
    enqueue(bench.celery(), [delivery_id for delivery_id, _ in made])
    bench.start_worker()
    try:
        complete = wait_received(fast, fast_path, fast_count, timeout)
        # Let the slow ones finish too, so the next phase starts from an empty queue.
        wait_received(slow, slow_path, slow_count, timeout)
        deadline = time.monotonic() + SLOW_SECONDS * 2
        while time.monotonic() < deadline and _owed(bench):
            time.sleep(0.05)
    finally:
        bench.stop_worker()
    arrived = fast.received(fast_path)
    times = sorted(r.at for r in arrived)
    return {
        "fast": fast_count,
        "slow": slow_count,
        "delivered_fast": len(arrived),
        "complete": complete,
        "rate_fast": rate_between(times),
        "fast_span": (times[-1] - times[0]) if len(times) > 1 else float("nan"),
        "slow_delivered": len(slow.received(slow_path)),
    }


def _owed(bench: Any) -> int:
    from sqlalchemy import func, select

    from approvals.store.models import Delivery

    with bench.db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("due", "delivering")))
            )
            or 0
        )


def raw_loop(receiver: Any, bodies: list[str], workdir: Path, timeout: float) -> dict[str, Any]:
    """POST ``bodies`` from a plain keep-alive httpx loop in a process of its own."""
    from bench.harness import run_module

    path = receiver.new_path()
    file = workdir / f"bodies-{time.monotonic_ns()}.json"
    file.write_text(json.dumps(bodies))
    try:
        result = run_module(
            "bench.callbacks", "--url", receiver.url(path), "--bodies", str(file), timeout=timeout
        )
    finally:
        file.unlink(missing_ok=True)
    arrived = receiver.received(path)
    result.update(delivered=len(arrived), rate=rate_between(r.at for r in arrived))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True)
    args = parser.parse_args()
    bodies = [body.encode() for body in json.loads(Path(args.bodies).read_text())]
    headers = {"content-type": "application/json"}
    ok = 0
    with httpx.Client(timeout=15) as client:
        started = time.perf_counter()
        for body in bodies:
            ok += client.post(args.url, content=body, headers=headers).is_success
        elapsed = time.perf_counter() - started
    print(json.dumps({"count": len(bodies), "ok": ok, "elapsed": elapsed}))


if __name__ == "__main__":
    main()
