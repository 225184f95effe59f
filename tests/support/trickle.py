"""A webhook receiver that answers a byte at a time, for as long as it likes.

Every read the caller makes gets a byte well within any per-read timeout, so only a deadline
for the whole request cuts it off. It notes, per connection, whether the caller hung up before
the answer was complete.
"""

from __future__ import annotations

import socket
import threading

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class TrickleReceiver:
    def __init__(self, seconds_per_byte: float = 0.4) -> None:
        self.seconds_per_byte = seconds_per_byte
        self.requests = 0
        self.hung_up = 0  # connections the caller closed before the whole answer arrived
        self.answered = 0  # connections that got the whole answer
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/trickle") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                received += chunk
            with self._lock:
                self.requests += 1
            try:
                for index in range(len(ANSWER)):
                    if self._stop.wait(self.seconds_per_byte):
                        return
                    connection.sendall(ANSWER[index : index + 1])
                    if _closed_by_peer(connection):
                        raise ConnectionResetError
            except OSError:
                with self._lock:
                    self.hung_up += 1
                return
            with self._lock:
                self.answered += 1

    def close(self) -> None:
        self._stop.set()
        self._server.close()


def _closed_by_peer(connection: socket.socket) -> bool:
    """True once the caller has closed its end (a read sees the end of the stream)."""
    connection.setblocking(False)
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    finally:
        connection.setblocking(True)
