"""The Graph + identity stand-in in a process of its own, for benchmarks.

``python -m bench.graph_standin --messages 50`` makes a :class:`GraphStandIn` (its own CA,
HTTPS), registers the test app (``GRAPH_APP_ID`` with its secret), adds one mailbox, delivers
``--messages`` messages into its Inbox, prints one JSON line (``base_url``, ``graph_url``,
``tenant_id``, ``ca_bundle_path``, ``mailbox``, the app's credentials, ``token_url``,
``scope``) and serves until SIGTERM or SIGINT. Apart from the benchmark's process, it does not
share a GIL with the load generators or the service.

Served by gunicorn (one process, gthread) by default, not by the stand-in's own werkzeug
server: werkzeug answers every request with ``Connection: close``, so each call would pay a
TCP connection and a TLS handshake, which Graph's keep-alive connections do not (measured:
direct p50 17 ms with werkzeug on a loaded machine, the handshake a fifth of the caller's
CPU). ``--server werkzeug`` serves it as the tests do. Same WSGI app either way.

The stand-in logs every request for tests to inspect; here nobody reads the log, so it is
emptied every few seconds (a growing list would make later calls slower than earlier ones).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from tests.conftest import GRAPH_APP_ID, GRAPH_APP_SECRET
from tests.support.graph.server import GraphStandIn
from tests.support.smtp_sink import free_port

DEFAULT_MAILBOX = "bench@contoso.example"
LOG_TRIM_SECONDS = 2.0
THREADS = 32


def describe(standin: GraphStandIn, mailbox: str) -> dict[str, str]:
    """What a client needs to reach the stand-in: URLs, CA, mailbox, app credentials."""
    return {
        "base_url": standin.base_url,
        "graph_url": standin.graph_url,
        "tenant_id": standin.tenant_id,
        "ca_bundle_path": str(standin.ca_bundle_path),
        "mailbox": mailbox,
        "client_id": GRAPH_APP_ID,
        "client_secret": GRAPH_APP_SECRET,
        "token_url": standin.token_endpoint,
        "scope": f"{standin.base_url}/.default",
    }


def populate(standin: GraphStandIn, mailbox: str, messages: int) -> None:
    """The app registered, the mailbox added, ``messages`` delivered a minute apart."""
    standin.register_app(GRAPH_APP_ID, secret=GRAPH_APP_SECRET)
    standin.add_mailbox(mailbox)
    first = datetime.now(UTC) - timedelta(minutes=messages)
    for number in range(messages):
        standin.deliver(
            mailbox,
            subject=f"Weekly report {number:03}",
            body=f"<p>Report {number}: all systems nominal.</p>",
            body_type="html",
            sender="reports@fabrikam.example",
            is_read=number % 2 == 0,
            received=first + timedelta(minutes=number),
        )


def trim_log_forever(standin: GraphStandIn, stop: threading.Event | None = None) -> None:
    """Empty the request log every few seconds (until ``stop`` is set, if given)."""
    stop = stop or threading.Event()
    while not stop.wait(LOG_TRIM_SECONDS):
        with standin.lock:
            standin.log.clear()


def serve_werkzeug(standin: GraphStandIn, mailbox: str, messages: int) -> None:
    """The stand-in's own server (``Connection: close`` on every answer), as the tests run it."""
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with standin:
        populate(standin, mailbox, messages)
        print(json.dumps(describe(standin, mailbox)), flush=True)
        trim_log_forever(standin, done)


def serve_gunicorn(standin: GraphStandIn, mailbox: str, messages: int) -> None:
    """The stand-in's WSGI app under gunicorn: one process, gthread, keep-alive, its own TLS."""
    from gunicorn.app.base import BaseApplication

    # What GraphStandIn.start() sets up, without its werkzeug server.
    folder = Path(tempfile.mkdtemp(prefix="graph-standin-"))
    try:
        standin.ca_bundle_path = str(folder / "ca.pem")
        standin.ca.cert_pem.write_to_path(standin.ca_bundle_path)
        leaf = standin.ca.issue_cert(standin.host, "localhost", "127.0.0.1", "::1")
        certfile, keyfile = folder / "cert.pem", folder / "key.pem"
        for blob in leaf.cert_chain_pems:
            blob.write_to_path(str(certfile), append=True)
        leaf.private_key_pem.write_to_path(str(keyfile))
        standin.port = free_port()
        standin.identity.resources.add(standin.base_url)
        populate(standin, mailbox, messages)
        options: dict[str, Any] = {
            "bind": f"{standin.host}:{standin.port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            "keepalive": 75,
            "timeout": 120,
            "graceful_timeout": 3,
            "certfile": str(certfile),
            "keyfile": str(keyfile),
            "accesslog": None,
            "loglevel": "warning",
            # The one worker process holds the stand-in's state (forked after it was made).
            "post_fork": lambda server, worker: threading.Thread(
                target=trim_log_forever, args=(standin,), daemon=True
            ).start(),
        }

        class StandInApp(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                return standin._wsgi

        print(json.dumps(describe(standin, mailbox)), flush=True)
        StandInApp().run()  # until SIGTERM/SIGINT: gunicorn stops its worker and exits
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.graph_standin")
    parser.add_argument("--messages", type=int, default=50, help="delivered to the Inbox")
    parser.add_argument("--mailbox", default=DEFAULT_MAILBOX)
    parser.add_argument(
        "--server",
        choices=["gunicorn", "werkzeug"],
        default="gunicorn",
        help="gunicorn keeps connections alive; werkzeug closes each (the tests' server)",
    )
    args = parser.parse_args(argv)
    standin = GraphStandIn()
    if args.server == "werkzeug":
        serve_werkzeug(standin, args.mailbox, args.messages)
    else:
        serve_gunicorn(standin, args.mailbox, args.messages)


if __name__ == "__main__":
    main()
