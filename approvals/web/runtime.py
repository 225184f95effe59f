"""The app's :class:`~approvals.runtime.Runtime`, kept in ``app.extensions`` (one per app)."""

from __future__ import annotations

from flask import Flask, current_app

from approvals.runtime import Runtime

EXTENSION = "approvals"


def install_runtime(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION] = runtime


def current_runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
