"""Triggers: Graph requests per poll against the mailbox's size, and push latency.

``python -m bench.triggers_run --backend both [--quick]`` per backend: the Graph stand-in in
this process (its request log is what is counted), the service (web, worker, beat) pointed at
it, ``APPROVALS_TRIGGER_INTERVAL=1``. Figures:

- Graph requests per ``OnNewEmailV3`` poll with 0 and with 10 new messages, in a mailbox of
  100 and one of 10,000 messages (the cost must not grow with the mailbox);
- push latency: a message put in the stand-in at a random moment, to its batch's arrival at a
  local receiver (``webhook`` POST), p50 and p90 over the samples; the target is p50 within one
  interval plus 100 ms on PostgreSQL + Redis.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.harness import DEFAULT_PG_URL, DEFAULT_REDIS_URL, BenchStack, machine
from bench.report import BackendReport, Row, Target, render
from bench.stats import percentile
from tests.conftest import GRAPH_APP_ID, GRAPH_APP_SECRET, graph_env
from tests.support.graph.server import GraphStandIn
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import free_port

BACKENDS = {"embedded": "embedded (SQLite + SQLite broker)", "postgres-redis": "PostgreSQL + Redis"}
INTERVAL = 1.0
SIZES = (100, 10_000)
NEW = 10
LATENCY_TARGET_MS = INTERVAL * 1000 + 100
TRIGGER = "/v3/Mail/OnNewEmail"


def _populate(standin: GraphStandIn, address: str, messages: int) -> None:
    """``messages`` received a day ago and before; counts refreshed once, not per message."""
    mailbox = standin.add_mailbox(address)
    refresh, mailbox.refresh_counts = mailbox.refresh_counts, lambda: None  # type: ignore[method-assign]
    first = datetime.now(UTC) - timedelta(days=1, minutes=messages)
    for number in range(messages):
        standin.deliver(
            address, subject=f"old {number}", received=first + timedelta(minutes=number)
        )
    mailbox.refresh_counts = refresh  # type: ignore[method-assign]
    refresh()


def _requests(standin: GraphStandIn, address: str) -> int:
    return sum(1 for r in standin.requests() if r.mailbox and r.mailbox.lower() == address)


def _counted_poll(
    http: httpx.Client, standin: GraphStandIn, address: str, url: str
) -> tuple[httpx.Response, int]:
    before = _requests(standin, address)
    answer = http.get(url)
    while answer.status_code == 202 and answer.headers["Location"].endswith(url):
        answer = http.get(url)  # the poll still runs on the worker: the same URL again
    assert answer.status_code in (200, 202), answer.text
    return answer, _requests(standin, address) - before


def _poll_costs(
    bench: BenchStack, standin: GraphStandIn, address: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """Requests of a first poll, a poll with nothing new, a poll with :data:`NEW` new."""
    from approvals.mailboxes import set_mailboxes

    created, http = bench.stack.new_client(f"bench {address}")
    with bench.db.session() as session:
        set_mailboxes(session, created.id, [address])
    try:
        first, first_cost = _counted_poll(http, standin, address, TRIGGER)
        quiet, quiet_cost = _counted_poll(http, standin, address, first.headers["Location"])
        for number in range(NEW):
            standin.deliver(address, subject=f"new {number}")
        began = time.perf_counter()
        found, found_cost = _counted_poll(http, standin, address, quiet.headers["Location"])
        took = time.perf_counter() - began
        assert found.status_code == 200 and len(found.json()["value"]) == NEW, found.text
    finally:
        http.close()
    log(f"{address}: first poll {first_cost}, 0 new {quiet_cost}, {NEW} new {found_cost} requests")
    return {"first": first_cost, "none_new": quiet_cost, "ten_new": found_cost, "ms": took * 1000}


def _push_latency(
    bench: BenchStack, standin: GraphStandIn, samples: int, log: Callable[[str], None]
) -> list[float]:
    """Milliseconds from a message put in the stand-in to its batch at the receiver."""
    from approvals.mailboxes import set_mailboxes

    address = "pushed@contoso.example"
    standin.add_mailbox(address)
    created, http = bench.stack.new_client("bench push")
    with bench.db.session() as session:
        set_mailboxes(session, created.id, [address])
    receiver = CallbackReceiver()
    path = receiver.new_path()
    pace = random.Random(14)
    latencies: list[float] = []
    try:
        answer = http.post(
            f"{TRIGGER}/$subscriptions", json={"NotificationUrl": receiver.url(path)}
        )
        assert answer.status_code == 201, answer.text
        state_url = answer.headers["Location"]
        deadline = time.monotonic() + 60
        while not http.get(state_url).json()["lastPollAt"]:  # started: the baseline is taken
            assert time.monotonic() < deadline, "the subscription was never polled"
            time.sleep(0.05)
        for sample in range(samples):
            time.sleep(pace.uniform(0, INTERVAL))  # mail arrives at any moment of the interval
            sent = time.time()
            standin.deliver(address, subject=f"push {sample}")
            arrived = receiver.wait_for(path, sample + 1, timeout=30)[sample]
            latencies.append((arrived.at - sent) * 1000)
    finally:
        http.close()
        receiver.close()
    log(f"push latency p50 {percentile(latencies, 50):.0f} ms over {samples} samples")
    return latencies


def measure(
    backend: str,
    *,
    samples: int,
    pg_url: str = DEFAULT_PG_URL,
    redis_url: str = DEFAULT_REDIS_URL,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    began = time.monotonic()
    log = log or (
        lambda m: print(
            f"[{backend} triggers {time.monotonic() - began:6.1f}s] {m}", file=sys.stderr
        )
    )
    results: dict[str, Any] = {"backend": backend, "samples": samples, "costs": {}}
    bench: BenchStack | None = None
    with GraphStandIn() as standin:
        standin.register_app(GRAPH_APP_ID, secret=GRAPH_APP_SECRET)
        addresses = {size: f"size-{size}@contoso.example" for size in SIZES}
        for size, address in addresses.items():
            _populate(standin, address, size)
        log("stand-in populated")
        try:
            bench = BenchStack(
                backend,
                free_port(),
                web_workers=1,
                web_threads=8,
                pg_url=pg_url,
                redis_url=redis_url,
            )
            bench.stack.env.update(graph_env(standin))
            bench.stack.env["APPROVALS_TRIGGER_INTERVAL"] = str(INTERVAL)
            bench.start_web()
            bench.start_worker()
            bench.start_beat()
            for size, address in addresses.items():
                results["costs"][size] = _poll_costs(bench, standin, address, log)
            results["latency_ms"] = _push_latency(bench, standin, samples, log)
        finally:
            if bench is not None:
                bench.stop()
    return results


def build_report(results: dict[str, Any]) -> BackendReport:
    backend, costs = results["backend"], results["costs"]
    small, large = costs[SIZES[0]], costs[SIZES[-1]]
    latencies = results["latency_ms"]
    p50 = percentile(latencies, 50)
    report = BackendReport(f"{BACKENDS[backend]}: triggers (OnNewEmailV3)")
    report.rows = [
        Row(
            f"Graph requests per poll, 0 new, {SIZES[-1]:,} messages (baseline: {SIZES[0]})",
            large["none_new"],
            small["none_new"],
        ),
        Row(
            f"Graph requests per poll, {NEW} new, {SIZES[-1]:,} messages (baseline: {SIZES[0]})",
            large["ten_new"],
            small["ten_new"],
        ),
        Row(
            f"Graph requests of a first poll, {SIZES[-1]:,} messages (baseline: {SIZES[0]})",
            large["first"],
            small["first"],
        ),
        Row(
            f"poll with {NEW} new through the service, ms ({SIZES[-1]:,} / {SIZES[0]})",
            large["ms"],
            small["ms"],
        ),
        Row(
            "push latency p50, message in Graph → batch at receiver, ms (baseline: target)",
            p50,
            LATENCY_TARGET_MS,
            p50 / LATENCY_TARGET_MS,
        ),
        Row("push latency p90, ms", percentile(latencies, 90)),
    ]
    flat = large["none_new"] == small["none_new"] and large["ten_new"] == small["ten_new"]
    report.targets = [
        Target(f"Graph requests per poll flat in mailbox size ({SIZES[0]} vs {SIZES[-1]:,})", flat),
    ]
    if backend == "postgres-redis":
        report.targets.append(
            Target(
                f"push latency p50 ≤ interval + 100 ms = {LATENCY_TARGET_MS:.0f} ms (is {p50:.0f})",
                p50 <= LATENCY_TARGET_MS,
            )
        )
    report.notes = [
        f"APPROVALS_TRIGGER_INTERVAL={INTERVAL:g} s; {results['samples']} push samples, each "
        "message put in the stand-in at a random moment of the interval (seeded), one at a time.",
        "Requests counted in the stand-in's log (Graph calls for that mailbox, no token calls).",
    ]
    return report


def render_results(results: dict[str, Any]) -> str:
    return render(build_report(results)).replace("Targets (issue 6):", "Targets:")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.triggers_run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="embedded")
    parser.add_argument("--quick", action="store_true", help="10 push samples instead of 30")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    args = parser.parse_args(argv)
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    info = machine()
    shown = sys.argv[1:] if argv is None else argv
    sections = [
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, load average "
        f"at start {info['load']}. Command: `python -m bench.triggers_run {' '.join(shown)}`",
        "",
    ]
    raw = []
    for backend in backends:
        results = measure(
            backend, samples=10 if args.quick else 30, pg_url=args.pg_url, redis_url=args.redis_url
        )
        raw.append(results)
        sections.append(render_results(results))
        print(sections[-1], flush=True)
    if args.output:
        args.output.write_text("\n".join(sections) + "\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": raw}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
