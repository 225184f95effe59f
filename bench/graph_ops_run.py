"""Graph operation round trip: ``GET /v3/Mail`` through the service against the same Graph call.

``python -m bench.graph_ops_run --backend both [--quick]`` (also a step of ``python -m bench``)
per backend: the Graph stand-in in a process of its own (:mod:`bench.graph_standin`, 50
messages in one mailbox), the service (web, worker, beat) pointed at it with the variables
``tests.conftest.graph_env`` gives a test stack, an API key bound to that mailbox; then, in
each run, :mod:`bench.graph_ops` once direct (httpx to the stand-in) and once through the
service, the order alternating between runs. Figures: p50 overhead = ours p50 - direct p50 of
the same run (one client, calls one after another), and the rate at 16 clients, ours / direct.

Beside them, where the time goes: from the operations' rows, the span from the web's insert
to the worker's recorded answer (``finished_at - created_at``), and each process's CPU time
per call during the load phase (from /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
from sqlalchemy import select

from bench.harness import (
    DEFAULT_PG_URL,
    DEFAULT_REDIS_URL,
    ROOT,
    BenchStack,
    machine,
    module_command,
    process_tree,
    run_module,
)
from bench.report import BackendReport, Row, Target, render
from bench.stats import median, percentile
from tests.support.smtp_sink import free_port

BACKENDS = {"embedded": "embedded (SQLite + SQLite broker)", "postgres-redis": "PostgreSQL + Redis"}
FIGURE = "Graph operation round trip GET /v3/Mail top 10"
CONCURRENCY = 16
MESSAGES = 50
# The targets: p50 overhead in ms per backend, and the rate at 16 clients.
OVERHEAD_TARGET_MS = {"postgres-redis": 10.0, "embedded": 150.0}
RATE_TARGET = 0.5
TICKS = os.sysconf("SC_CLK_TCK")


def _log_to_stderr(backend: str) -> Callable[[str], None]:
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{backend} graph {time.monotonic() - began:6.1f}s] {message}", file=sys.stderr)

    return log


class StandInProcess:
    """``python -m bench.graph_standin`` in its own process group; its JSON line read."""

    def __init__(self, messages: int, log_path: Path, timeout: float = 60) -> None:
        with open(log_path, "ab") as errors:
            self.process = subprocess.Popen(
                module_command("bench.graph_standin", "--messages", str(messages)),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until printed, or EOF if it died
        if not line:
            self.stop()
            raise RuntimeError(f"the Graph stand-in exited; see {log_path}")
        self.info: dict[str, str] = json.loads(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self) -> dict[str, str]:
        """``tests.conftest.graph_env`` for the stand-in in the other process."""
        from tests.conftest import graph_env
        from tests.support.graph.server import GraphStandIn

        return graph_env(cast(GraphStandIn, SimpleNamespace(**self.info)))

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 15)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
            except ProcessLookupError:
                pass
        if self.process.stdout is not None:
            self.process.stdout.close()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process and its descendants alive now."""
    if pid is None:
        return float("nan")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _cpu(pids: dict[str, int | None]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def _spans_ms(bench: BenchStack, client_id: str, start: float, end: float) -> list[float]:
    """``finished_at - created_at`` of the operations the client started in [start, end]."""
    from datetime import UTC, datetime

    from approvals.store.models import Operation

    since = datetime.fromtimestamp(start - 0.5, UTC)
    until = datetime.fromtimestamp(end + 0.5, UTC)
    with bench.db.session() as session:
        rows = session.execute(
            select(Operation.created_at, Operation.finished_at).where(
                Operation.client_id == client_id,
                Operation.created_at >= since,
                Operation.created_at <= until,
            )
        ).all()
    return [(done - made).total_seconds() * 1000 for made, done in rows if done is not None]


def _wait_ready(base_url: str, key: str, timeout: float = 90) -> float:
    """One operation answered 200 (the worker has its token and its Graph connection)."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {key}"}
    params = {"top": "10", "fetchOnlyUnread": "false"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as http:
        while True:
            began = time.perf_counter()
            answer = http.get("/v3/Mail", params=params)
            if answer.status_code == 200:
                return time.perf_counter() - began
            if time.monotonic() > deadline:
                raise RuntimeError(f"/v3/Mail never answered 200: {answer.status_code}")
            time.sleep(0.2)


def measure(
    backend: str,
    *,
    runs: int,
    calls: int,
    duration: float,
    web_workers: int = 1,
    web_threads: int = 8,
    pg_url: str = DEFAULT_PG_URL,
    redis_url: str = DEFAULT_REDIS_URL,
    messages: int = MESSAGES,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Both sides, ``runs`` times, on one service instance; raw figures per run."""
    from approvals.config import load_settings
    from approvals.mailboxes import set_mailboxes

    log = log or _log_to_stderr(backend)
    results: dict[str, Any] = {
        "backend": backend,
        "runs": [],
        "calls": calls,
        "duration": duration,
        "concurrency": CONCURRENCY,
        "messages": messages,
    }
    bench: BenchStack | None = None
    standin: StandInProcess | None = None
    try:
        # Nothing here sends mail: the SMTP port is a free one nobody listens on.
        bench = BenchStack(
            backend,
            free_port(),
            web_workers=web_workers,
            web_threads=web_threads,
            pg_url=pg_url,
            redis_url=redis_url,
        )
        standin = StandInProcess(messages, bench.tmp / "standin.log")
        # Web, worker and beat take bench.stack.env (this dict) when they start.
        bench.stack.env.update(standin.env())
        bench.settings = load_settings(bench.stack.env)
        bench.start_web()
        created, http = bench.stack.new_client("graph-bench")
        http.close()
        with bench.db.session() as session:
            set_mailboxes(session, created.id, [standin.info["mailbox"]])
        bench.start_worker()
        bench.start_beat()
        first = _wait_ready(bench.base_url, created.key)
        log(f"service ready in {bench.tmp}; first operation took {first * 1000:.0f} ms")
        results["web_args"] = bench.web_args
        pids = {"web": bench.pid("web"), "worker": bench.pid("worker"), "standin": standin.pid}
        common = ["--calls", str(calls), "--duration", str(duration)]
        common += ["--concurrency", str(CONCURRENCY)]
        sides = {
            "direct": ["--mode", "direct", "--standin", json.dumps(standin.info)],
            "ours": ["--mode", "ours", "--base-url", bench.base_url, "--key", created.key],
        }
        for run in range(runs):
            order = ["direct", "ours"] if run % 2 == 0 else ["ours", "direct"]
            found: dict[str, Any] = {"order": order}
            for side in order:
                before = _cpu(pids)
                found[side] = run_module(
                    "bench.graph_ops", *sides[side], *common, timeout=calls + duration * 3 + 120
                )
                after = _cpu(pids)
                done = found[side]["sequential"]["calls"] + found[side]["load"]["requests"]
                found[side]["cpu_ms_per_call"] = {
                    name: (after[name] - before[name]) * 1000 / done for name in pids
                }
            seq = found["ours"]["sequential"]
            spans = _spans_ms(bench, created.id, seq["wall_start"], seq["wall_end"])
            found["ours"]["worker_span"] = {
                "count": len(spans),
                "p50_ms": percentile(spans, 50),
                "p90_ms": percentile(spans, 90),
            }
            found["overhead_p50_ms"] = seq["p50_ms"] - found["direct"]["sequential"]["p50_ms"]
            found["rate_ratio"] = found["ours"]["load"]["rate"] / found["direct"]["load"]["rate"]
            results["runs"].append(found)
            log(
                f"run {run + 1}: p50 ours {seq['p50_ms']:.1f} ms, direct "
                f"{found['direct']['sequential']['p50_ms']:.1f} ms, overhead "
                f"{found['overhead_p50_ms']:.1f} ms (row span p50 "
                f"{found['ours']['worker_span']['p50_ms']:.1f} ms); {CONCURRENCY} clients: ours "
                f"{found['ours']['load']['rate']:.0f}/s, direct "
                f"{found['direct']['load']['rate']:.0f}/s ({found['rate_ratio']:.2f}×); "
                f"CPU ms/call ours {_fmt(found['ours']['cpu_ms_per_call'])}, direct "
                f"{_fmt(found['direct']['cpu_ms_per_call'])}"
            )
    finally:
        if bench is not None:
            bench.stop()
        if standin is not None:
            standin.stop()
    return results


def _fmt(cpu: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.1f}" for name, value in cpu.items())


def _med(runs: list[dict[str, Any]], *keys: str) -> float:
    def get(item: Any) -> float:
        for key in keys:
            item = item[key]
        return float(item)

    return median(get(run) for run in runs)


def _spread(runs: list[dict[str, Any]], key: str, fmt: str) -> str:
    return ", ".join(format(run[key], fmt) for run in runs)


def build_report(results: dict[str, Any]) -> BackendReport:
    """The rows, targets and notes of one backend."""
    backend, runs = results["backend"], results["runs"]
    report = BackendReport(f"{BACKENDS[backend]}: {FIGURE}")
    ours_p50, direct_p50 = (
        _med(runs, "ours", "sequential", "p50_ms"),
        _med(runs, "direct", "sequential", "p50_ms"),
    )
    ours_p99, direct_p99 = (
        _med(runs, "ours", "sequential", "p99_ms"),
        _med(runs, "direct", "sequential", "p99_ms"),
    )
    overhead = median(run["overhead_p50_ms"] for run in runs)
    ours_rate, direct_rate = (
        _med(runs, "ours", "load", "rate"),
        _med(runs, "direct", "load", "rate"),
    )
    rate_ratio = median(run["rate_ratio"] for run in runs)
    target = OVERHEAD_TARGET_MS[backend]
    report.rows = [
        Row(
            "p50 latency, 1 client, ms (baseline: direct)",
            ours_p50,
            direct_p50,
            ours_p50 / direct_p50,
        ),
        Row("p99 latency, 1 client, ms", ours_p99, direct_p99, ours_p99 / direct_p99),
        Row(
            "p50 overhead (ours − direct, same run), ms (baseline: target)",
            overhead,
            target,
            overhead / target,
        ),
        Row(
            f"calls/s at {CONCURRENCY} clients (ratio: median of the runs' ratios)",
            ours_rate,
            direct_rate,
            rate_ratio,
        ),
        Row(
            f"p50 latency at {CONCURRENCY} clients, ms",
            _med(runs, "ours", "load", "p50_ms"),
            _med(runs, "direct", "load", "p50_ms"),
        ),
        Row(
            "row span: web's insert → worker's recorded answer, p50, 1 client, ms",
            _med(runs, "ours", "worker_span", "p50_ms"),
        ),
    ]
    for name in ("web", "worker", "standin"):
        ours_cpu = _med(runs, "ours", "cpu_ms_per_call", name)
        direct_cpu = _med(runs, "direct", "cpu_ms_per_call", name)
        report.rows.append(Row(f"CPU ms per call, {name} process", ours_cpu, direct_cpu))
    report.targets = [
        Target(f"p50 overhead ≤ {target:.0f} ms (is {overhead:.1f} ms)", overhead <= target),
        Target(
            f"rate at {CONCURRENCY} clients ≥ {RATE_TARGET}× the direct calls "
            f"(is {rate_ratio:.2f}×)",
            rate_ratio >= RATE_TARGET,
        ),
    ]
    report.notes = [
        f"{len(runs)} runs, direct and ours alternating which goes first; per run: "
        f"{results['calls']} sequential calls on one kept connection (after 10 untimed), then "
        f"{CONCURRENCY} keep-alive clients for {results['duration']:.0f} s. Medians of the runs.",
        f"p50 overhead per run, ms: {_spread(runs, 'overhead_p50_ms', '.1f')}; rate ratio per "
        f"run: {_spread(runs, 'rate_ratio', '.2f')}.",
        "Direct: the request GetEmailsV3 makes (`$top=10`, `$orderby=receivedDateTime desc`, "
        '`Prefer: IdType="ImmutableId"`), a token taken once, to the stand-in '
        f"(its own process, {results['messages']} messages in the Inbox) over HTTPS.",
        "CPU per call: during one generator run (sequential + load), per answered call; "
        "the load generator's own CPU is not counted.",
    ]
    return report


def render_results(results: dict[str, Any]) -> str:
    """The markdown section of one backend."""
    return render(build_report(results)).replace("Targets (issue 6):", "Targets:")


def from_bench_args(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """The step of ``python -m bench``: its ``--quick``, URLs and web settings."""
    return measure(
        backend,
        runs=2 if args.quick else 3,
        calls=100 if args.quick else 200,
        duration=5.0 if args.quick else 10.0,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.graph_ops_run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="embedded")
    parser.add_argument("--quick", action="store_true", help="2 runs, 100 calls, 5 s of load")
    parser.add_argument("--runs", type=int, default=0, help="default 3 (2 with --quick)")
    parser.add_argument("--calls", type=int, default=0, help="sequential calls per side and run")
    parser.add_argument("--duration", type=float, default=0, help="seconds of load per side")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--web-threads", type=int, default=8)
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
        f"at start {info['load']}. Command: `python -m bench.graph_ops_run {' '.join(shown)}`",
        "",
    ]
    raw = []
    for backend in backends:
        results = measure(
            backend,
            runs=args.runs or (2 if args.quick else 3),
            calls=args.calls or (100 if args.quick else 200),
            duration=args.duration or (5.0 if args.quick else 10.0),
            web_workers=args.web_workers,
            web_threads=args.web_threads,
            pg_url=args.pg_url,
            redis_url=args.redis_url,
            messages=args.messages,
        )
        raw.append(results)
        sections.append(render_results(results))
        print(sections[-1], flush=True)
    sections.append(f"Load average at end: {machine()['load']}.")
    print(sections[-1])
    if args.output:
        args.output.write_text("\n".join(sections) + "\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": raw}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
