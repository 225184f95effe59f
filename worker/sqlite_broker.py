"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, woken on publish.

kombu's transport sees a new message only when it polls: a worker with nothing to do queries
its queues, sleeps, and queries again, so a message waits for the end of the sleep (most of
the time from a recipient's Confirm to the callback). Shorter sleeps would burn CPU all day.
Here every publish (web, beat, worker, bench) also writes a byte into a FIFO of each waiting
process, kept in a folder beside the broker file (``broker.sqlite-wake/``), and a waiting
worker sleeps on its FIFO instead: it looks again at once when a message is published or one
of its own tasks is acknowledged (a prefetch slot freed). The poll remains, rarely, for
anything that puts a message in without waking anyone (another program on the same file).

Processes that only publish never make a FIFO; a FIFO whose process is gone has no reader,
and the next publisher to find it removes it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import select
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy

log = logging.getLogger(__name__)

# How long a waiting worker sleeps when nobody wakes it: only a message put in by something
# other than this transport waits this long.
FALLBACK_POLL_SECONDS = 1.0
# Where no FIFO can be made (a file system without them), the worker polls this often instead.
NO_FIFO_POLL_SECONDS = 0.2
WAKE_FOLDER_SUFFIX = "-wake"
_FIFO = ".fifo"


def sqlite_path(url: str) -> str | None:
    """The database file of a ``sqlite:///...`` URL (``sqla+`` or not); None for memory."""
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    return path if path and path != ":memory:" else None


class Wakeups:
    """One process's side of the wake-up folder: wake every waiting process, or wait.

    A waiting process's FIFO is opened read-write before it gets its final name, so a FIFO
    under that name without a reader (``ENXIO`` on a non-blocking open for writing) belongs
    to a process that has ended.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._unavailable = folder is None

    def notify(self) -> None:
        """Wake every process waiting on this broker (this one included); never raises."""
        if self.folder is None:
            return
        try:
            names = os.listdir(self.folder)
        except OSError:
            return  # nobody has waited yet
        for name in names:
            if name.endswith(_FIFO):
                _write_byte(self.folder / name)

    def poke(self) -> None:
        """Wake this process's waiting loop (a slot for the next message just came free)."""
        with self._lock:
            if self._fd is not None:
                _write_fd(self._fd)

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, less if a publish or :meth:`poke` wakes us."""
        fd = self._listen()
        if fd is None:
            time.sleep(min(timeout, NO_FIFO_POLL_SECONDS))
            return
        readable, _, _ = select.select([fd], [], [], timeout)
        if readable:
            _drain(fd)

    def close(self) -> None:
        """Stop listening: close and remove this process's FIFO."""
        with self._lock:
            fd, path = self._fd, self._path
            self._fd = self._path = None
        if fd is not None:
            os.close(fd)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()

    def _listen(self) -> int | None:
        """This process's FIFO, made on first wait; None where FIFOs cannot be made."""
        if self._fd is not None or self._unavailable:
            return self._fd
        assert self.folder is not None
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        temporary = self.folder / f"{name}.new"
        fd = None
        try:
            self.folder.mkdir(exist_ok=True)
            os.mkfifo(temporary, 0o600)
            # Read-write: the FIFO never reads as ended (no busy select), and poke can write.
            fd = os.open(temporary, os.O_RDWR | os.O_NONBLOCK)
            path = temporary.rename(self.folder / f"{name}{_FIFO}")
        except OSError as exc:
            self._unavailable = True
            log.warning("no wake-up FIFO in %s (%s); polling the broker instead", self.folder, exc)
            if fd is not None:
                os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return None
        with self._lock:
            self._fd, self._path = fd, path
        return fd


def _write_byte(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no reader: its process has ended
            with contextlib.suppress(OSError):
                path.unlink()
        return
    try:
        _write_fd(fd)
    finally:
        os.close(fd)


def _write_fd(fd: int) -> None:
    with contextlib.suppress(OSError):  # full: the reader has wake-ups waiting already
        os.write(fd, b"\0")


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass  # empty (EAGAIN)


class Channel(sqlalchemy.Channel):
    """kombu's channel, waking the waiting processes after each message it stores."""

    connection: Transport

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        super()._put(queue, payload, **kwargs)
        self.connection.wakeups.notify()

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self.connection.wakeups.poke()

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)
        self.connection.wakeups.poke()


class Transport(sqlalchemy.Transport):
    """kombu's SQLAlchemy transport whose consumers wait on a wake-up instead of sleeping."""

    Channel = Channel
    polling_interval = FALLBACK_POLL_SECONDS

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        path = sqlite_path(client.hostname or "")
        self.wakeups = Wakeups(Path(path + WAKE_FOLDER_SUFFIX) if path else None)

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """kombu's loop (poll every queue, else wait, until a message or ``timeout``), with
        the wait cut short by a wake-up."""
        started = time.monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise TimeoutError from None  # socket.timeout, as kombu's
                left = self.polling_interval if timeout is None else timeout - waited
                self.wakeups.wait(min(self.polling_interval, left))

    def close_connection(self, connection: Any) -> None:
        try:
            super().close_connection(connection)
        finally:
            self.wakeups.close()
