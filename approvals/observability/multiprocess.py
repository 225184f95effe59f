"""One folder of metric files for web, worker and beat, so one ``/metrics`` scrape sees all.

prometheus_client's multiprocess mode keeps each process's values in memory-mapped files named
after the process; the folder must be known before the first metric exists, so each command
calls :func:`use_metrics_dir` before it imports anything that defines metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

from approvals.config import Settings

ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_metrics_dir(settings: Settings, *, clear: bool = False) -> Path:
    """Make this process (and the children it starts) write metrics into the settings' folder.

    ``clear``: start from zero (``approvals run``, which owns every process using it).
    """
    folder = settings.metrics_dir or settings.instance_path / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    if clear:
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    os.environ[ENV] = str(folder)
    return folder


def metrics_dir() -> str | None:
    """The folder this process writes to, or None (a single-process app, e.g. in a test)."""
    folder = os.environ.get(ENV)
    return folder if folder and os.path.isdir(folder) else None
