"""A real HTTP server standing in for a subscriber's webhook, scripted per path."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    # Held until this is set (at most ``HOLD_LIMIT`` seconds), after ``delay``.
    hold: threading.Event | None = None


HOLD_LIMIT = 60.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class CallbackReceiver:
    """``script(path, [Reply, ...])`` answers in turn (the last one repeats); all is recorded."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        receiver = self
        self.host = host
        self.scripts: dict[str, list[Reply]] = {}
        self.requests: dict[str, list[Received]] = defaultdict(list)
        self.answers: dict[str, list[float]] = defaultdict(list)  # when each answer was sent
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One buffered write per answer and no Nagle: otherwise the body waits ~40 ms for
            # the client's delayed ACK on every reused connection.
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path
                with receiver.lock:
                    script = receiver.scripts.get(path) or [Reply()]
                    reply = script[0] if len(script) == 1 else script.pop(0)
                    receiver.requests[path].append(
                        Received(
                            path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                        )
                    )
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.hold is not None:
                    reply.hold.wait(HOLD_LIMIT)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                except OSError:
                    return
                with receiver.lock:
                    receiver.answers[path].append(time.time())

            def log_message(self, *args: object) -> None:
                pass

        server_class = ThreadingHTTPServer
        if ":" in host:
            import socket

            class V6(ThreadingHTTPServer):
                address_family = socket.AF_INET6

            server_class = V6
        self.server = server_class((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def new_path(self, *replies: Reply) -> str:
        path = f"/hook/{uuid.uuid4().hex}"
        if replies:
            self.scripts[path] = list(replies)
        return path

    def url(self, path: str, host: str | None = None) -> str:
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{host}:{self.port}{path}"

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return list(self.requests.get(path, []))

    def answered(self, path: str) -> list[float]:
        """When ``path``'s answers were sent (``time.time()``), in order."""
        with self.lock:
            return list(self.answers.get(path, []))

    def wait_for(self, path: str, count: int = 1, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path} got {len(self.received(path))} callbacks, want {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
