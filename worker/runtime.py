"""The worker process's :class:`~approvals.runtime.Runtime`, made once by ``worker.entry``."""

from __future__ import annotations

from approvals.runtime import Runtime

_runtime: Runtime | None = None


def install_runtime(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def current_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no runtime: start the worker through worker.entry")
    return _runtime
