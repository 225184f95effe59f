"""The worker's side of logging: Celery leaves the configuration to us, and every line logged
while a task runs names its task id."""

from __future__ import annotations

import logging
import threading
from typing import Any

import celery.apps.worker
from celery.signals import setup_logging, task_postrun, task_prerun

from approvals.observability.logs import bind, unbind

_bound = threading.local()  # each thread of the pool runs one task at a time


@setup_logging.connect
def keep_our_logging(**_kwargs: Any) -> None:
    """Connected, this signal stops Celery from installing its own handlers and formats."""


@task_prerun.connect
def name_the_task(task_id: str | None = None, **_kwargs: Any) -> None:
    _bound.tokens = bind(task_id=task_id)


@task_postrun.connect
def forget_the_task(**_kwargs: Any) -> None:
    tokens = getattr(_bound, "tokens", None)
    if tokens is not None:
        unbind(tokens)
        _bound.tokens = None


def _say(message: str, _stream: object = None) -> None:
    logging.getLogger("celery.apps.worker").warning(message.strip())


# Celery prints its shutdown notices ("worker: Warm shutdown") straight to the terminal; as
# log lines they keep the log's format (one JSON object per line).
celery.apps.worker.safe_say = _say
