"""``python -m bench``: start what is needed, measure, stop everything, print the tables.

Per backend, in this order, on one service instance (web 1 worker x 8 threads by default,
like the test stack; the baseline app gets the same gunicorn settings):

1. intake, ``runs`` times: our API and the bare baseline route, 16 keep-alive clients each
   (worker and beat stopped: intake is measured alone, and the mails it owes pile up in the
   broker); then mail: one worker process drains that backlog to the SMTP sink, and a raw
   smtplib loop sends the same bytes again;
2. callbacks, ``runs`` times: deliveries to a fast receiver against a raw httpx loop; then once
   with every 10th delivery going to a receiver that answers after 1 s;
3. the sweeper's queries, timed and EXPLAINed;
4. with ``--scale S``: intake, mail, callbacks and sweeper once more at S times the volume;
5. end to end with web, worker and beat running: idle CPU of the three, then confirm →
   callback idle, then under intake load;
6. memory: peak RSS (VmHWM, summed over the process tree) of web, worker and the baseline;
7. the Graph operation round trip against direct Graph calls (:mod:`bench.graph_ops_run`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import callbacks, e2e, graph_ops_run, mail, sweep
from bench.harness import (
    DEFAULT_PG_URL,
    DEFAULT_REDIS_URL,
    BaselineWeb,
    BenchStack,
    idle_cpu_percent,
    machine,
    new_tag,
    run_module,
    tree_memory_mb,
)
from bench.intake import BASELINE_PATH
from bench.receiver import fast_receiver
from bench.report import BackendReport, Row, Target, number, ratio_of, render
from bench.stats import median
from tests.support.receiver import CallbackReceiver

BACKENDS = {"embedded": "embedded (SQLite + SQLite broker)", "postgres-redis": "PostgreSQL + Redis"}
CONCURRENCY = 16
# Idle CPU: measured after the end-to-end samples' mails are out and this long has passed.
IDLE_SETTLE_SECONDS = 2.0
IDLE_CPU_SECONDS = 20.0
IDLE_CPU_SECONDS_QUICK = 10.0


class Log:
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{self.backend} {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


def _intake(bench: BenchStack, key: str, notify: str, count: int, baseline: bool) -> dict:
    args = ["--notify-url", notify, "--tag", new_tag(), "--count", str(count)]
    args += ["--concurrency", str(CONCURRENCY)]
    if baseline:
        target = ["--base-url", bench.baseline.base_url, "--path", BASELINE_PATH]
    else:
        target = ["--base-url", bench.base_url, "--key", key]
    return run_module("bench.intake", *target, *args, timeout=count / 5 + 120)


def _intake_and_mail(
    bench: BenchStack, key: str, notify: str, sink: mail.TimedSink, count: int, run: int, log: Log
) -> dict[str, Any]:
    # Alternate who goes first, so neither side always meets a warmer database.
    order = [False, True] if run % 2 == 0 else [True, False]
    found: dict[str, Any] = {}
    for is_baseline in order:
        found["baseline" if is_baseline else "ours"] = _intake(
            bench, key, notify, count, is_baseline
        )
    ours, base = found["ours"], found["baseline"]
    log(
        f"intake: ours {ours['rate']:.0f}/s p99 {ours['p99_ms']:.0f} ms {ours['statuses']}; "
        f"baseline {base['rate']:.0f}/s p99 {base['p99_ms']:.0f} ms"
    )
    drained = mail.drain_backlog(bench, sink, ours["created_total"], ours["created_total"] / 2 + 60)
    raw = mail.raw_loop(sink, drained["arrivals"], bench.tmp, timeout=count / 2 + 60)
    log(
        f"mail: ours {drained['rate']:.1f}/s ({drained['sent']}/{drained['expected']}); "
        f"raw smtplib {raw['rate']:.1f}/s"
    )
    found["mail"] = {k: v for k, v in drained.items() if k != "arrivals"}
    found["mail_raw"] = raw
    return found


def _callbacks(
    bench: BenchStack, client_id: str, fast: CallbackReceiver, count: int, log: Log
) -> dict[str, Any]:
    ours = callbacks.fast_only(bench, client_id, fast, count, timeout=count / 2 + 60)
    raw = callbacks.raw_loop(fast, ours.pop("bodies"), bench.tmp, timeout=count / 2 + 60)
    log(
        f"callbacks: ours {ours['rate']:.1f}/s ({ours['delivered']}/{ours['count']}); "
        f"raw httpx {raw['rate']:.1f}/s"
    )
    return {"ours": ours, "raw": raw}


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    log = Log(backend)
    runs = args.runs or (2 if args.quick else 3)
    n = args.count
    e2e_samples = args.samples or (10 if args.quick else 20)
    load_budget = 20.0 if args.quick else 40.0
    results: dict[str, Any] = {"backend": backend, "runs": runs, "count": n, "scale": args.scale}
    sink = mail.TimedSink()
    fast = fast_receiver()
    slow = fast_receiver()
    bench: BenchStack | None = None
    baseline: BaselineWeb | None = None
    sink.start()
    try:
        bench = BenchStack(
            backend,
            sink.port,
            web_workers=args.web_workers,
            web_threads=args.web_threads,
            pg_url=args.pg_url,
            redis_url=args.redis_url,
        )
        log(
            f"starting web ({' '.join(bench.web_args)}) in {bench.tmp}; broker options "
            f"{bench.env.get('APPROVALS_BROKER_TRANSPORT_OPTIONS', '{}')}"
        )
        results["web_args"] = bench.web_args
        bench.start_web()
        created, http = bench.stack.new_client("bench")
        http.close()
        key = created.key
        baseline = BaselineWeb(bench.stack.database_url, bench.web_args, bench.tmp / "base.log")
        bench.baseline = baseline
        # Nobody answers the intake's subscriptions: their callbacks never fire.
        notify = fast.url(fast.new_path())

        results["intake"] = []
        for run in range(runs):
            results["intake"].append(_intake_and_mail(bench, key, notify, sink, n, run, log))

        results["callbacks"] = [_callbacks(bench, created.id, fast, n, log) for _ in range(runs)]
        results["slow"] = callbacks.with_slow_receiver(
            bench, created.id, fast, slow, n, timeout=n / 2 + 60
        )
        log(
            f"callbacks with a slow receiver: fast {results['slow']['rate_fast']:.1f}/s "
            f"({results['slow']['delivered_fast']}/{results['slow']['fast']})"
        )
        results["sweep"] = sweep.measure(bench)
        log(f"sweep queries: {results['sweep']['ms']} rows {results['sweep']['rows']}")

        if args.scale and args.scale > 1:
            big = n * args.scale
            log(f"growth: {args.scale}x volume ({big})")
            results["scaled"] = {
                **_intake_and_mail(bench, key, notify, sink, big, 0, log),
                "callbacks": _callbacks(bench, created.id, fast, big, log),
            }
            results["scaled"]["sweep"] = sweep.measure(bench)
            log(f"sweep queries: {results['scaled']['sweep']['ms']}")

        bench.start_worker()
        bench.start_beat()
        samples = e2e.prepare(bench, key, fast, e2e_samples * 2, sink)
        time.sleep(IDLE_SETTLE_SECONDS)
        results["idle_cpu"] = idle_cpu_percent(
            {role: bench.pid(role) for role in ("web", "worker", "beat")},
            IDLE_CPU_SECONDS_QUICK if args.quick else IDLE_CPU_SECONDS,
        )
        log(f"idle CPU, % of one core: {results['idle_cpu']}")
        results["e2e_idle"] = e2e.measure(samples[:e2e_samples], fast, budget=load_budget)
        log(f"e2e idle: {results['e2e_idle']}")
        results["e2e_load"] = e2e.under_load(
            bench, key, fast, samples[e2e_samples:], notify, bench.tmp, load_budget, sink
        )
        log(f"e2e under load: { {k: v for k, v in results['e2e_load'].items() if k != 'load'} }")

        results["memory"] = {
            "web": tree_memory_mb(bench.pid("web")),
            "beat": tree_memory_mb(bench.pid("beat")),
            "baseline_web": tree_memory_mb(baseline.process.pid),
        }
        bench.stop_beat()
        bench.stop_worker()
        results["memory"]["worker_peak"] = bench.worker_peak_mb
        results["memory"]["worker_processes"] = bench.worker_processes
        log(f"memory: {results['memory']}")
    finally:
        if baseline is not None:
            baseline.stop()
        if bench is not None:
            bench.stop()
        fast.close()
        slow.close()
        sink.stop()
    log("done, everything stopped")
    return results


# --- the table ---------------------------------------------------------------------------------


def _med(items: list[dict], *keys: str) -> float:
    def get(item: dict) -> float:
        for key in keys:
            item = item[key]
        return float(item)  # type: ignore[arg-type]

    return median(get(item) for item in items)


def _bound(series: dict[str, Any], key: str) -> Any:
    """A percentile, marked as a lower bound when timed-out samples reach into it."""
    value = series[key]
    share = 0.5 if key == "p50_ms" else 0.01
    if series["timeouts"] and series["timeouts"] >= share * series["samples"]:
        return f"≥ {number(value)}"
    return value


def build_report(results: dict[str, Any]) -> BackendReport:
    backend = results["backend"]
    report = BackendReport(BACKENDS[backend])
    rows = report.rows
    intake = results["intake"]
    runs, n = results["runs"], results["count"]
    ours_rate = _med(intake, "ours", "rate")
    base_rate = _med(intake, "baseline", "rate")
    ours_p50, base_p50 = _med(intake, "ours", "p50_ms"), _med(intake, "baseline", "p50_ms")
    ours_p99, base_p99 = _med(intake, "ours", "p99_ms"), _med(intake, "baseline", "p99_ms")
    rows += [
        Row(
            f"intake: subscriptions/s, {CONCURRENCY} clients",
            ours_rate,
            base_rate,
            ratio_of(ours_rate, base_rate),
        ),
        Row("intake: p50 latency, ms", ours_p50, base_p50, ratio_of(ours_p50, base_p50)),
        Row("intake: p99 latency, ms", ours_p99, base_p99, ratio_of(ours_p99, base_p99)),
    ]
    mail_rate, raw_mail = _med(intake, "mail", "rate"), _med(intake, "mail_raw", "rate")
    rows.append(
        Row(
            "mail: emails/s, one worker process vs raw smtplib loop",
            mail_rate,
            raw_mail,
            ratio_of(mail_rate, raw_mail),
        )
    )
    cbs = results["callbacks"]
    cb_rate, raw_cb = _med(cbs, "ours", "rate"), _med(cbs, "raw", "rate")
    rows.append(
        Row(
            "callbacks: deliveries/s, one worker process vs raw httpx loop",
            cb_rate,
            raw_cb,
            ratio_of(cb_rate, raw_cb),
        )
    )
    slow = results["slow"]
    rows.append(
        Row(
            f"callbacks: fast-receiver deliveries/s with 1 in {callbacks.SLOW_SHARE} to a 1 s "
            "receiver (baseline: fast receiver alone)",
            slow["rate_fast"],
            cb_rate,
            ratio_of(slow["rate_fast"], cb_rate),
        )
    )
    idle, load = results["e2e_idle"], results["e2e_load"]
    idle_target = 100.0 if backend == "postgres-redis" else 2000.0
    rows += [
        Row(
            "end to end: confirm → callback p50, idle, ms (baseline: target)",
            idle["p50_ms"],
            idle_target,
            ratio_of(idle["p50_ms"], idle_target),
        ),
        Row("end to end: confirm → callback p99, idle, ms", _bound(idle, "p99_ms")),
        Row("end to end: confirm → callback p50, under intake load, ms", _bound(load, "p50_ms")),
        Row("end to end: confirm → callback p99, under intake load, ms", _bound(load, "p99_ms")),
    ]
    idle_cpu = results["idle_cpu"]
    rows.append(
        Row("idle: CPU of web + worker + beat, % of one core", idle_cpu["total"]),
    )
    memory = results["memory"]
    web_mb, base_mb = memory["web"]["peak"], memory["baseline_web"]["peak"]
    rows += [
        Row(
            f"memory: web peak RSS, MB ({memory['web']['processes']} processes; "
            "baseline: bare Flask app)",
            web_mb,
            base_mb,
            ratio_of(web_mb, base_mb),
        ),
        Row(
            "memory: worker peak RSS, MB (baseline: target)",
            memory["worker_peak"],
            200.0,
            ratio_of(memory["worker_peak"], 200.0),
        ),
    ]
    sweep_base = results["sweep"]
    scaled = results.get("scaled")
    if scaled:
        s = results["scale"]
        label = f"growth ×{s} ({n * s} vs {n})"
        sc_rate = scaled["ours"]["rate"]
        sc_base = scaled["baseline"]["rate"]
        sc_mail = scaled["mail"]["rate"]
        sc_cb = scaled["callbacks"]["ours"]["rate"]
        rows += [
            Row(
                f"{label}: intake subscriptions/s", sc_rate, ours_rate, ratio_of(sc_rate, ours_rate)
            ),
            Row(
                f"{label}: intake subscriptions/s, baseline app",
                sc_base,
                base_rate,
                ratio_of(sc_base, base_rate),
            ),
            Row(
                f"{label}: intake p99 ms",
                scaled["ours"]["p99_ms"],
                ours_p99,
                ratio_of(scaled["ours"]["p99_ms"], ours_p99),
            ),
            Row(f"{label}: mail emails/s", sc_mail, mail_rate, ratio_of(sc_mail, mail_rate)),
            Row(
                f"{label}: mail vs raw smtplib at ×{s}",
                sc_mail,
                scaled["mail_raw"]["rate"],
                ratio_of(sc_mail, scaled["mail_raw"]["rate"]),
            ),
            Row(f"{label}: callbacks deliveries/s", sc_cb, cb_rate, ratio_of(sc_cb, cb_rate)),
        ]
        big_rows, small_rows = scaled["sweep"]["rows"], sweep_base["rows"]
        for name in ("deliveries", "recipients", "expiry"):
            a, b = scaled["sweep"]["ms"][name], sweep_base["ms"][name]
            table = {"deliveries": "deliveries", "recipients": "recipients"}.get(
                name, "subscriptions"
            )
            rows.append(
                Row(
                    f"growth: sweeper query {name}, ms ({big_rows[table]} vs {small_rows[table]} "
                    f"{table} rows)",
                    a,
                    b,
                    ratio_of(a, b),
                )
            )
    else:
        for name, ms in sweep_base["ms"].items():
            rows.append(Row(f"sweeper query {name}, ms", ms))

    web_target = 150.0
    web_max = max(memory["web"].get("each_peak") or [float("nan")])
    report.targets = [
        Target(
            f"intake ≥ 60 % of the bare route (is {100 * (ours_rate / base_rate):.0f} %)",
            ours_rate >= 0.6 * base_rate,
        ),
        Target(
            f"intake p99 < 50 ms at {CONCURRENCY} clients (is {ours_p99:.0f} ms)", ours_p99 < 50
        ),
        Target(
            f"deliveries ≥ 50 % of the raw httpx loop (is {100 * cb_rate / raw_cb:.0f} %)",
            cb_rate >= 0.5 * raw_cb,
        ),
        Target(
            "a slow receiver does not reduce throughput to others (fast rate with slow "
            f"share is {100 * slow['rate_fast'] / cb_rate:.0f} % of fast alone; "
            "≥ 90 % counts as met)",
            slow["rate_fast"] >= 0.9 * cb_rate,
        ),
        Target(
            f"confirm → callback p50 idle < {idle_target:.0f} ms (is {idle['p50_ms']:.0f} ms)",
            idle["p50_ms"] < idle_target,
        ),
        Target(
            f"emails ≥ 50 % of the raw smtplib loop (is {100 * mail_rate / raw_mail:.0f} %)",
            mail_rate >= 0.5 * raw_mail,
        ),
        Target(
            f"web < {web_target:.0f} MB RSS, master and workers summed (is {web_mb:.0f} MB)",
            web_mb < web_target,
        ),
        Target(
            f"web < {web_target:.0f} MB RSS, largest single process (is {web_max:.0f} MB)",
            web_max < web_target,
        ),
        Target(
            f"worker < 200 MB RSS (is {memory['worker_peak']:.0f} MB)", memory["worker_peak"] < 200
        ),
    ]
    intake_errors = sum(
        sum(v for k, v in r["ours"]["statuses"].items() if k != "201") for r in intake
    )
    load_info = load.get("load", {})
    web_each = memory["web"].get("each_peak", [])
    report.notes = [
        f"Web: gunicorn {' '.join(results.get('web_args', []))}, gthread, like the test stack and "
        f"the baseline app; web peak RSS per process (master first): {web_each} MB, "
        f"PSS now {memory['web']['pss']:.0f} MB (baseline app: "
        f"{memory['baseline_web'].get('each_peak', [])} MB, PSS "
        f"{memory['baseline_web']['pss']:.0f} MB).",
        f"{n} subscriptions per intake run, {n} deliveries per callback run; medians of {runs} "
        f"runs; end to end: {idle['samples']} samples idle (one after another), {load['samples']} "
        "under load (one confirmation every 0.5 s, callbacks awaited together).",
        "Intake is measured with the worker and beat stopped; the mails it owes (published by "
        "the web in batches) are drained afterwards by one fresh worker process with the "
        "service's defaults (16 task threads, 8 receiver threads).",
        "Callbacks: deliveries made with approvals.delivery.service.create_delivery in one "
        "transaction, worker.tasks.deliver_callback enqueued for batches of 20 ids, as the "
        "web's publisher and the sweeper send them (not left to the sweeper).",
        "Throughputs of ours and of the baselines are taken the same way: arrival times at the "
        "sink/receiver, first to last.",
        f"Idle CPU (% of one core, web/worker/beat process trees, nothing asked of them): "
        f"web {idle_cpu['web']:.2f}, worker {idle_cpu['worker']:.2f}, "
        f"beat {idle_cpu['beat']:.2f}.",
        f"Intake errors (non-201) across runs: {intake_errors}. Under-load intake ran at "
        f"{load_info.get('rate', float('nan')):.0f}/s ({load_info.get('accepted', 0)} accepted, "
        f"{load.get('mail_backlog', 0)} of their mails still queued when it stopped); "
        f"timed-out end-to-end samples: idle {idle['timeouts']}, load {load['timeouts']} "
        f"(after {e2e.SAMPLE_TIMEOUT:.0f} s or at the end of the series' time budget; counted "
        "as the time waited, so those percentiles are lower bounds, marked ≥).",
    ]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="embedded")
    parser.add_argument("--quick", action="store_true", help="fewer runs and samples (~2 min)")
    parser.add_argument("--scale", type=int, default=0, help="also run at N times the volume")
    parser.add_argument("--count", type=int, default=1000, help="subscriptions/deliveries per run")
    parser.add_argument("--runs", type=int, default=0, help="default 3 (2 with --quick)")
    parser.add_argument("--samples", type=int, default=0, help="end-to-end samples per series")
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
    header = (
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, load average at start {info['load']}. "
        f"Command: `python -m bench {' '.join(shown)}`"
    )
    raw: list[dict[str, Any]] = []
    sections = [header, ""]
    for backend in backends:
        results = run_backend(backend, args)
        results["graph_ops"] = graph_ops_run.from_bench_args(backend, args)
        raw.append(results)
        sections.append(render(build_report(results)))
        print(sections[-1], flush=True)
        sections.append(graph_ops_run.render_results(results["graph_ops"]))
        print(sections[-1], flush=True)
    sections.append(f"Load average at end: {machine()['load']}.")
    print(sections[-1])
    if args.output:
        args.output.write_text("\n".join(sections) + "\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": raw}, indent=1, default=str))
    return 0
