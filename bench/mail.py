"""Mail: emails per second from one worker process to an SMTP sink, against raw smtplib.

Ours: a backlog of ``send_recipient_mail`` messages (left by the intake runs, with the worker
stopped) is drained by one freshly started worker process with the ``smtp`` backend. The rate is
taken from the sink's arrival times, first to last, so the worker's start-up does not count.

Baseline (``python -m bench.mail --port P --messages FILE``, a process of its own): the very
bytes the worker sent, sent again in a plain loop over one kept SMTP connection (EHLO once,
then MAIL, RCPT, DATA per message): the best a plain program does, and what each of our
worker's threads does too. Measured the same way at the same sink.
"""

from __future__ import annotations

import argparse
import json
import pickle
import smtplib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.stats import rate_between
from tests.support.smtp_sink import SmtpSink


@dataclass(frozen=True)
class Arrival:
    at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


class _TimedHandler:
    def __init__(self, sink: TimedSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        arrival = Arrival(
            time.time(), str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(envelope.content)
        )
        with self.sink.lock:
            self.sink.arrivals.append(arrival)
        return "250 Message accepted"


class TimedSink(SmtpSink):
    """The tests' aiosmtpd sink, keeping raw bytes and arrival times instead of parsing.

    Not parsing keeps the sink cheap (it shares the benchmark's process), so it is less of a
    ceiling for the sender being measured; ours and the baseline hit the same sink.
    """

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        if not self.port:
            from tests.support.smtp_sink import free_port

            self.port = free_port()
        self._controller = Controller(_TimedHandler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def since(self, index: int) -> list[Arrival]:
        with self.lock:
            return self.arrivals[index:]


def wait_for_count(sink: TimedSink, target: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sink.count() >= target:
            return True
        time.sleep(0.01)
    return sink.count() >= target


def drain_backlog(bench: Any, sink: TimedSink, expected: int, timeout: float) -> dict[str, Any]:
    """Start one worker on a backlog of ``expected`` mails; emails/s at the sink."""
    first = sink.count()
    bench.start_worker()
    try:
        complete = wait_for_count(sink, first + expected, timeout)
    finally:
        bench.stop_worker()
    arrived = sink.since(first)
    return {
        "expected": expected,
        "sent": len(arrived),
        "complete": complete,
        "rate": rate_between(a.at for a in arrived),
        "arrivals": arrived,
    }


def raw_loop(sink: TimedSink, messages: list[Arrival], workdir: Path, timeout: float) -> dict:
    """Send ``messages`` again from a plain smtplib loop in a process of its own."""
    from bench.harness import run_module

    path = workdir / f"mail-{time.monotonic_ns()}.pickle"
    path.write_bytes(pickle.dumps([(m.mail_from, list(m.rcpt_tos), m.content) for m in messages]))
    first = sink.count()
    try:
        result = run_module(
            "bench.mail", "--port", str(sink.port), "--messages", str(path), timeout=timeout
        )
    finally:
        path.unlink(missing_ok=True)
    wait_for_count(sink, first + len(messages), 10)
    arrived = sink.since(first)
    result.update(sent=len(arrived), rate=rate_between(a.at for a in arrived))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", required=True)
    args = parser.parse_args()
    messages = pickle.loads(Path(args.messages).read_bytes())
    started = time.perf_counter()
    with smtplib.SMTP(args.host, args.port, timeout=30) as client:
        for mail_from, rcpt_tos, content in messages:
            client.sendmail(mail_from, rcpt_tos, content)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {"count": len(messages), "elapsed": elapsed, "loop_rate": len(messages) / elapsed}
        )
    )


if __name__ == "__main__":
    main()
