"""Operation round trips: ``GET /v3/Mail`` through the service, or the same Graph call directly.

``python -m bench.graph_ops --mode ours --base-url URL --key KEY`` calls the service's
``GET /v3/Mail?top=10&fetchOnlyUnread=false`` (GetEmailsV3: web, broker, worker, Graph, and
back through the operation's row). ``--mode direct --standin JSON`` makes the Graph request
that operation makes (``GET /users/{mailbox}/mailFolders/inbox/messages`` with ``$top=10``,
``$orderby=receivedDateTime desc`` and ``Prefer: IdType="ImmutableId"``) straight to the
stand-in with httpx, over HTTPS trusting the stand-in's CA, with a bearer token taken once
from its token endpoint (client credentials) before the clock starts.

Two phases, one JSON line: ``sequential`` (one keep-alive client, ``--calls`` timed calls one
after another: p50/p99) and ``load`` (``--concurrency`` keep-alive clients calling as fast as
they are answered for ``--duration`` seconds: answers per second). It runs apart from the
benchmark process, like :mod:`bench.intake`.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from bench.stats import percentile

TOP = 10
API_PATH = "/v3/Mail"
IMMUTABLE_IDS = 'IdType="ImmutableId"'  # what worker.graph.client sends on every request


@dataclass(frozen=True)
class Target:
    """One request, made again and again: where, with which query and headers, trusting what."""

    url: str
    params: dict[str, str]
    headers: dict[str, str]
    verify: ssl.SSLContext | bool

    def client(self) -> httpx.Client:
        """A keep-alive client of its own (one per simulated caller)."""
        return httpx.Client(headers=self.headers, verify=self.verify, timeout=60, trust_env=False)


def ours(base_url: str, key: str) -> Target:
    """The service's GetEmailsV3 route, as a Logic App calls it."""
    return Target(
        base_url.rstrip("/") + API_PATH,
        {"top": str(TOP), "fetchOnlyUnread": "false"},
        {"Authorization": f"Bearer {key}"},
        False,
    )


def direct(standin: dict[str, str]) -> Target:
    """The Graph request GetEmailsV3 makes, with a token fetched once."""
    context = ssl.create_default_context(cafile=standin["ca_bundle_path"])
    with httpx.Client(verify=context, timeout=30, trust_env=False) as http:
        answer = http.post(
            standin["token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": standin["client_id"],
                "client_secret": standin["client_secret"],
                "scope": standin["scope"],
            },
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]
    mailbox = quote(standin["mailbox"], safe="@")
    return Target(
        f"{standin['graph_url']}/users/{mailbox}/mailFolders/inbox/messages",
        {"$top": str(TOP), "$orderby": "receivedDateTime desc"},
        {"Authorization": f"Bearer {token}", "Prefer": IMMUTABLE_IDS},
        context,
    )


def _check(answer: httpx.Response) -> None:
    """The first answer must be the list asked for, or the timings mean nothing."""
    if answer.status_code != 200:
        raise SystemExit(f"{answer.request.url} answered {answer.status_code}: {answer.text}")
    found = len(answer.json().get("value", []))
    if found != TOP:
        raise SystemExit(f"{answer.request.url} listed {found} messages, not {TOP}")


def _timed(call: Callable[[], httpx.Response]) -> tuple[float, str]:
    began = time.perf_counter()
    try:
        status = str(call().status_code)
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return time.perf_counter() - began, status


def _summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "max_ms": max(latencies, default=float("nan")) * 1000,
    }


def sequential(target: Target, calls: int, warmup: int) -> dict[str, Any]:
    """``calls`` round trips one after another on one kept connection."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    with target.client() as client:
        _check(client.get(target.url, params=target.params))
        for _ in range(warmup):
            client.get(target.url, params=target.params)
        wall_start = time.time()
        for _ in range(calls):
            took, status = _timed(lambda: client.get(target.url, params=target.params))
            latencies.append(took)
            statuses[status] += 1
        wall_end = time.time()
    return {
        "calls": calls,
        "statuses": dict(statuses),
        "wall_start": wall_start,
        "wall_end": wall_end,
        **_summary(latencies),
    }


def load(target: Target, concurrency: int, duration: float, warmup: int) -> dict[str, Any]:
    """``concurrency`` keep-alive clients, each calling again as soon as it is answered."""
    started = [0.0]
    # The clock starts as the barrier opens, before any client can look at it.
    barrier = threading.Barrier(
        concurrency + 1, action=lambda: started.__setitem__(0, time.perf_counter())
    )
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()

    def client_loop() -> None:
        mine: list[float] = []
        seen: Counter[str] = Counter()
        with target.client() as client:
            for _ in range(warmup):
                client.get(target.url, params=target.params)
            barrier.wait()
            while time.perf_counter() - started[0] < duration:
                took, status = _timed(lambda: client.get(target.url, params=target.params))
                mine.append(took)
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
    ok = statuses.get("200", 0)
    return {
        "concurrency": concurrency,
        "duration": duration,
        "elapsed": elapsed,
        "requests": len(latencies),
        "ok": ok,
        "statuses": dict(statuses),
        "rate": ok / elapsed if elapsed > 0 else float("nan"),
        **_summary(latencies),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.graph_ops")
    parser.add_argument("--mode", choices=["ours", "direct"], required=True)
    parser.add_argument("--base-url", help="the service (ours)")
    parser.add_argument("--key", help="an API key bound to the mailbox (ours)")
    parser.add_argument("--standin", help="the JSON line bench.graph_standin printed (direct)")
    parser.add_argument("--calls", type=int, default=200, help="sequential calls, timed")
    parser.add_argument("--warmup", type=int, default=10, help="sequential calls, not timed")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    args = parser.parse_args(argv)
    if args.mode == "ours":
        if not args.base_url or not args.key:
            parser.error("--mode ours takes --base-url and --key")
        target = ours(args.base_url, args.key)
    else:
        if not args.standin:
            parser.error("--mode direct takes --standin")
        target = direct(json.loads(args.standin))
    result: dict[str, Any] = {"mode": args.mode}
    if args.calls:
        result["sequential"] = sequential(target, args.calls, args.warmup)
    if args.duration and args.concurrency:
        result["load"] = load(target, args.concurrency, args.duration, warmup=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
