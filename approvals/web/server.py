"""gunicorn, started from Python so ``approvals web`` needs no separate config file."""

from __future__ import annotations

import gc
from typing import Any

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from approvals.web.app import create_app

        app = create_app()
        # Everything made at start-up lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise walk it on every full collection mid-request.
        gc.collect()
        gc.freeze()
        return app


# A web process finishing its requests after SIGTERM (well within the CLI's 20 s stop grace),
# and one answering nothing for this long is stuck: gunicorn replaces it.
GRACEFUL_STOP_SECONDS = 15
STUCK_WORKER_SECONDS = 60
MAX_REQUEST_LINE = 8190


def serve(host: str, port: int, *, workers: int, threads: int) -> None:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _Server(
        {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            # Our access line: no link token, no query string, the request id (access_log.py).
            "logger_class": "approvals.web.access_log.AccessLogger",
            "graceful_timeout": GRACEFUL_STOP_SECONDS,
            "timeout": STUCK_WORKER_SECONDS,
            # gunicorn's control socket lives at one fixed path per user; several servers on one
            # machine (tests, benchmarks, a second instance) would fight over it.
            "control_socket_disable": True,
            # Graph ids and the connector's filters make long URLs; gunicorn's largest line.
            "limit_request_line": MAX_REQUEST_LINE,
        }
    ).run()
