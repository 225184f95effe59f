"""What every benchmark needs: the service on a backend, helper processes, numbers, /proc.

Everything started here is a process group of its own and is stopped by :class:`Processes`
(``try/finally`` in :mod:`bench.run`), whatever happens in between.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from approvals.config import load_settings
from bench.stats import median, percentile, rate_between  # noqa: F401 - re-exported
from tests.support.processes import ServiceProcess, wait_for_port
from tests.support.smtp_sink import free_port
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# The stack's test settings shorten retry schedules and claim timeouts; a benchmark runs with
# the documented production defaults instead, and limits high enough not to throttle it.
BENCH_SETTINGS = {
    "APPROVALS_MAIL_BACKEND": "smtp",
    "APPROVALS_WEBHOOK_RETRY_SCHEDULE": "0,5,300,1800,7200,18000,36000,36000",
    "APPROVALS_WEBHOOK_RETRY_AFTER_MAX": "36000",
    "APPROVALS_WEBHOOK_TIMEOUT": "15",
    "APPROVALS_WEBHOOK_CONNECT_TIMEOUT": "5",
    "APPROVALS_MAIL_RETRY_SCHEDULE": "0,30,120,600,1800,3600",
    "APPROVALS_SWEEP_INTERVAL": "5",
    "APPROVALS_CLAIM_TIMEOUT": "120",
    "APPROVALS_API_RATE_LIMIT": "10000000/minute",
    "APPROVALS_PAGE_RATE_LIMIT": "10000000/minute",
    "APPROVALS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
}


# --- waiting ---------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


# --- /proc -----------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def tree_memory_mb(pid: int | None) -> dict[str, float]:
    """Resident memory of a process tree, summed, in MB.

    ``peak`` is VmHWM (each process's high-water mark; summing counts pages a forked child
    shares with its parent twice), ``rss`` is VmRSS now, ``pss`` the proportional share now
    (shared pages split between the processes sharing them, so it does not double count).
    """
    if pid is None:
        return {"peak": float("nan"), "rss": float("nan"), "pss": float("nan"), "processes": 0}
    peak = rss = pss = 0.0
    pids = process_tree(pid)
    each = []
    for member in pids:
        status = _status(member)
        hwm = int(status.get("VmHWM", "0 kB").split()[0]) / 1024
        peak += hwm
        rss += int(status.get("VmRSS", "0 kB").split()[0]) / 1024
        pss += _pss_kb(member) / 1024
        each.append(round(hwm, 1))
    return {"peak": peak, "rss": rss, "pss": pss, "processes": len(pids), "each_peak": each}


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) used so far by a process tree, in seconds."""
    if pid is None:
        return float("nan")
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_cpu_percent(pids: dict[str, int | None], seconds: float) -> dict[str, float]:
    """CPU each process tree uses while nothing is asked of it, in % of one core, over
    ``seconds``; ``total`` sums them. What an idle service costs the machine it runs on."""
    before = {role: tree_cpu_seconds(pid) for role, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    used = {
        role: 100 * (tree_cpu_seconds(pid) - before[role]) / elapsed for role, pid in pids.items()
    }
    used["total"] = sum(used.values())
    return used


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(_meminfo().get("MemTotal", "0 kB").split()[0])
    return {
        "nproc": str(os.cpu_count()),
        "affinity": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "ram_gb": f"{mem_kb / 1024 / 1024:.1f}",
        "python": sys.version.split()[0],
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def _meminfo() -> dict[str, str]:
    text = Path("/proc/meminfo").read_text()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


# --- helper processes ------------------------------------------------------------------------


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def run_module(module: str, *args: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m module args`` to completion; its last stdout line is JSON."""
    done = subprocess.run(
        module_command(module, *args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Background:
    """A helper module running in its own process group until :meth:`stop`."""

    def __init__(self, module: str, *args: str, log_path: Path | None = None) -> None:
        self.module = module
        self.log_path = log_path
        out: Any = open(log_path, "ab") if log_path else subprocess.PIPE  # noqa: SIM115
        self.process = subprocess.Popen(
            module_command(module, *args),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT if log_path else subprocess.PIPE,
            start_new_session=True,
        )
        if log_path:
            out.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the process to finish and parse its last stdout line as JSON."""
        out, err = self.process.communicate(timeout=timeout)
        if self.process.returncode != 0:
            raise RuntimeError(f"{self.module} failed:\n{err.decode(errors='replace')[-3000:]}")
        return json.loads(out.decode().strip().splitlines()[-1])

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass


def wait_port(port: int, alive: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


# --- the service on a backend ----------------------------------------------------------------


class BenchStack:
    """The service's web, worker and beat as real processes, started and stopped one by one."""

    def __init__(
        self,
        backend: str,
        smtp_port: int,
        *,
        web_workers: int,
        web_threads: int,
        pg_url: str,
        redis_url: str,
    ) -> None:
        self.backend = backend
        self.tmp = Path(tempfile.mkdtemp(prefix=f"approvals-bench-{backend}-"))
        self.pg: Any = None
        if backend == "embedded":
            database_url = f"sqlite:///{self.tmp / 'state.sqlite'}"
            broker_url = f"sqla+sqlite:///{self.tmp / 'broker.sqlite'}?timeout=30"
        else:
            from tests.conftest import PostgresDatabase

            self.pg = PostgresDatabase(pg_url)
            self.pg.create()
            database_url, broker_url = self.pg.url, redis_url
        try:
            self.stack = Stack(
                backend, self.tmp / "instance", database_url, broker_url, smtp_port, BENCH_SETTINGS
            )
        except BaseException:
            if self.pg is not None:
                self.pg.drop()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        root = self.stack.root
        self.web_args = ["--workers", str(web_workers), "--threads", str(web_threads)]
        self.stack.web = ServiceProcess(["web", *self.web_args], self.stack.env, root / "web.log")
        self.settings = load_settings(self.stack.env)
        self.worker_peak_mb = 0.0
        self.worker_processes = 0
        self._celery: Any = None
        self.baseline: Any = None  # the BaselineWeb run against the same database

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    @property
    def db(self) -> Any:
        return self.stack.db

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def start_web(self) -> None:
        from approvals.store.migrate import upgrade

        upgrade(self.stack.db)
        self.stack.web.start()
        wait_for_port(self.stack.port, self.stack.web)

    def start_worker(self) -> None:
        if not self.stack.worker.running:
            self.stack.worker.start()

    def stop_worker(self) -> None:
        """Stop the worker, keeping the peak memory it reached."""
        process = self.stack.worker.process
        if self.stack.worker.running and process is not None:
            memory = tree_memory_mb(process.pid)
            if memory["peak"] > self.worker_peak_mb:
                self.worker_peak_mb = memory["peak"]
                self.worker_processes = int(memory["processes"])
        self.stack.worker.stop()

    def start_beat(self) -> None:
        if not self.stack.beat.running:
            self.stack.beat.start()

    def stop_beat(self) -> None:
        self.stack.beat.stop()

    def pid(self, role: str) -> int | None:
        process = getattr(self.stack, role).process
        return process.pid if process is not None and process.poll() is None else None

    def celery(self) -> Any:
        """A producer-only Celery app on the service's broker, configured as the service's."""
        if self._celery is None:
            from celery import Celery

            from worker.celery_app import celery_config, prepare_sqlite_broker

            config = celery_config(self.settings)
            if self.settings.is_sqlite_broker:
                prepare_sqlite_broker(self.settings, config["broker_transport_options"])
            app = Celery("approvals-bench", set_as_current=False)
            app.config_from_object(config)
            self._celery = app
        return self._celery

    def stop(self) -> None:
        try:
            self.stop_beat()
            self.stop_worker()
            self.stack.stop()
        finally:
            if self._celery is not None:
                self._celery.close()
            self._cleanup_redis()
            if self.pg is not None:
                self.pg.drop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _cleanup_redis(self) -> None:
        options = self.stack.env.get("APPROVALS_BROKER_TRANSPORT_OPTIONS")
        if not options or not self.settings.broker_url.startswith("redis"):
            return
        prefix = json.loads(options).get("global_keyprefix")
        if not prefix:
            return
        import redis

        client = redis.Redis.from_url(self.settings.broker_url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


class BaselineWeb:
    """The bare Flask app (:mod:`bench.baseline_app`) under gunicorn with the web's settings."""

    def __init__(self, database_url: str, web_args: list[str], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = Background(
            "bench.baseline_app",
            "--port",
            str(self.port),
            "--database-url",
            database_url,
            *web_args,
            log_path=log_path,
        )
        wait_port(self.port, lambda: self.process.running, "baseline app")

    def stop(self) -> None:
        self.process.stop()


def new_tag() -> str:
    return uuid.uuid4().hex[:8]
