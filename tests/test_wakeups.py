"""Nothing waits for a poll: the embedded broker wakes its consumer on publish, and the web's
publisher stops lingering over mail when a callback comes in."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from approvals.store.jobs import Job
from approvals.web import enqueue
from worker.celery_app import SQLITE_TRANSPORT
from worker.sqlite_broker import Transport, Wakeups

# Far longer than any wake-up may take: a message seen sooner was not found by polling.
SLOW_POLL_SECONDS = 30.0


def _connection(path: Path) -> Connection:
    return Connection(f"sqlite:///{path}?timeout=30", transport=SQLITE_TRANSPORT)


def test_a_publish_wakes_the_waiting_consumer_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Transport, "polling_interval", SLOW_POLL_SECONDS)
    broker = tmp_path / "broker.sqlite"
    received: list[tuple[float, Any]] = []
    with _connection(broker) as consumer, _connection(broker) as producer:
        inbox, outbox = consumer.SimpleQueue("jobs"), producer.SimpleQueue("jobs")

        def take() -> None:
            message = inbox.get(timeout=SLOW_POLL_SECONDS)
            received.append((time.monotonic(), message.payload))
            message.ack()

        taker = threading.Thread(target=take)
        taker.start()
        deadline = time.monotonic() + 10
        while not list((tmp_path / "broker.sqlite-wake").glob("*.fifo")):  # it is waiting
            assert time.monotonic() < deadline, "the consumer never waited on its FIFO"
            time.sleep(0.01)
        sent = time.monotonic()
        outbox.put({"n": 1})
        taker.join(SLOW_POLL_SECONDS)
        assert received and received[0][1] == {"n": 1}
        assert received[0][0] - sent < 5.0
    # The consumer's FIFO goes with its connection.
    assert list((tmp_path / "broker.sqlite-wake").iterdir()) == []


def test_a_wait_ends_on_a_poke_or_its_timeout(tmp_path: Path) -> None:
    wakeups = Wakeups(tmp_path / "wake")
    try:
        started = time.monotonic()
        wakeups.wait(0.05)  # nothing wakes it: the whole timeout
        assert time.monotonic() - started >= 0.04
        threading.Timer(0.05, wakeups.poke).start()
        started = time.monotonic()
        wakeups.wait(SLOW_POLL_SECONDS)
        assert time.monotonic() - started < 5.0
        wakeups.notify()  # a wake-up left over makes the next wait return, not spin
        wakeups.wait(SLOW_POLL_SECONDS)
        started = time.monotonic()
        wakeups.wait(0.05)
        assert time.monotonic() - started >= 0.04
    finally:
        wakeups.close()
    assert list((tmp_path / "wake").iterdir()) == []


def test_a_fifo_without_a_reader_is_removed_by_the_next_publisher(tmp_path: Path) -> None:
    folder = tmp_path / "wake"
    folder.mkdir()
    os.mkfifo(folder / "12345-gone.fifo")  # its process ended without closing it
    Wakeups(folder).notify()
    assert list(folder.iterdir()) == []


def test_without_a_fifo_the_wait_is_the_old_short_poll(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the wake-up folder cannot be made
    wakeups = Wakeups(blocked)
    started = time.monotonic()
    wakeups.wait(SLOW_POLL_SECONDS)
    assert time.monotonic() - started < 5.0
    wakeups.notify()
    wakeups.close()


def test_publishing_without_anyone_waiting_is_harmless(tmp_path: Path) -> None:
    Wakeups(tmp_path / "never-made").notify()
    Wakeups(None).notify()
    assert not (tmp_path / "never-made").exists()


class _RecordingCelery:
    def __init__(self) -> None:
        self.sent: list[tuple[float, str, list[str]]] = []
        self.done = threading.Event()

    def send_task(
        self, name: str, args: tuple[list[str]], retry: bool, producer: object = None
    ) -> None:
        self.sent.append((time.monotonic(), name, args[0]))
        if len(self.sent) == 2:
            self.done.set()

    @contextlib.contextmanager
    def producer_or_acquire(self) -> Iterator[None]:
        """The publisher takes one producer per pass (``enqueue``); none is needed here."""
        yield None


def test_a_callback_ends_the_mail_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enqueue, "MAIL_LINGER_SECONDS", SLOW_POLL_SECONDS)
    celery = _RecordingCelery()
    publisher = enqueue.BackgroundPublisher(celery)  # type: ignore[arg-type]
    publisher.publish(Job.SEND_MAIL, "recipient-1")
    time.sleep(0.05)  # the publisher thread is lingering over the mail
    published = time.monotonic()
    publisher.publish(Job.DELIVER_CALLBACK, "delivery-1")
    assert celery.done.wait(10)
    (first_at, first, first_ids), (_, second, second_ids) = celery.sent
    assert (first, first_ids) == (Job.DELIVER_CALLBACK, ["delivery-1"])
    assert (second, second_ids) == (Job.SEND_MAIL, ["recipient-1"])
    assert first_at - published < 5.0
