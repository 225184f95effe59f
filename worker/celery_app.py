"""The Celery app, configured from our settings: queues, routes, beat and the broker."""

from __future__ import annotations

import fcntl
import functools
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from celery import Celery

from approvals.config import Settings
from approvals.store.jobs import Job

# The embedded broker's transport (kombu's SQLAlchemy one, woken on publish).
SQLITE_TRANSPORT = "worker.sqlite_broker:Transport"
# kombu's Redis transport, reusing its publishing client (worker/redis_broker.py).
REDIS_TRANSPORT = "worker.redis_broker:Transport"
CALLBACK_QUEUE = "callbacks"
MAIL_QUEUE = "mail"
GRAPH_QUEUE = "graph"
ALL_QUEUES = ("callbacks", "mail", "graph", "approvals")
# Mail and callback tasks take a list of row ids, at most this many: a batch is claimed, sent
# and recorded in a few statements, yet small enough to spread over the worker's threads.
BATCH_SIZE = 20
# A connector operation is one message: someone waits for each, and each may take seconds.
BATCH_SIZES = {Job.RUN_OPERATION: 1, Job.POLL_TRIGGER: 1}


def batches(ids: Sequence[str], size: int = BATCH_SIZE) -> Iterator[list[str]]:
    """``ids`` in order, in lists of at most ``size``."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def batch_size(task_name: str) -> int:
    """How many ids one message of ``task_name`` carries."""
    return BATCH_SIZES.get(Job(task_name), BATCH_SIZE) if task_name in set(Job) else BATCH_SIZE


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings derived from ours; the database, not the broker, holds what is owed."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_ignore_result": True,
        # The worker's task events, so Flower and `celery events` work as they are (Celery
        # itself leaves them off on the SQLite broker, whose transport cannot fan out). No
        # task-sent events (Celery's default): each cost the web a second publish per task.
        "worker_send_task_events": True,
        "task_send_sent_event": False,
        # ... sent a few times a second in batches, not after each event.
        "worker_consumer": "worker.event_batching:BatchingConsumer",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Reserve no more than the threads can start: a backlog of mail held in one worker's
        # buffer would keep callbacks (another queue) waiting behind it.
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_default_queue": "approvals",
        # Callbacks never wait behind a backlog of mail, and either can get workers of its own.
        "task_routes": {
            Job.DELIVER_CALLBACK: {"queue": CALLBACK_QUEUE},
            Job.SEND_MAIL: {"queue": MAIL_QUEUE},
            Job.SEND_REMINDER: {"queue": MAIL_QUEUE},
            Job.RUN_OPERATION: {"queue": GRAPH_QUEUE},
            Job.POLL_TRIGGER: {"queue": GRAPH_QUEUE},
        },
        "beat_schedule": {
            "sweep": {"task": Job.SWEEP, "schedule": timedelta(seconds=settings.sweep_interval)},
            # Push trigger subscriptions whose poll is due, looked for twice per interval.
            "trigger-polls": {
                "task": Job.SCHEDULE_TRIGGER_POLLS,
                "schedule": timedelta(
                    seconds=min(settings.trigger_interval / 2, settings.sweep_interval)
                ),
            },
        },
        "beat_schedule_filename": str(settings.instance_path / "celerybeat-schedule"),
        "beat_scheduler": "worker.beat_scheduler:ReconnectingScheduler",
        "worker_hijack_root_logger": False,
    }
    if settings.is_sqlite_broker:
        # Our transport class rather than the URL's "sqla+" (which would pick kombu's own).
        config["broker_url"] = settings.broker_url.removeprefix("sqla+")
        config["broker_transport"] = SQLITE_TRANSPORT
        # kombu hands these options to create_engine; our own connection factory gives every
        # broker connection a lock timeout and WAL's cheap commits (no fsync per message).
        config["broker_transport_options"] = {
            "creator": functools.partial(sqlite_broker_connection, sqlite_broker_path(settings))
        }
    else:
        if settings.broker_url.startswith(("redis://", "rediss://")):
            config["broker_transport"] = REDIS_TRANSPORT
        # A message a dead worker held comes back after this long (the sweeper also covers it).
        config["broker_transport_options"] = {"visibility_timeout": 600}
    config["broker_transport_options"].update(settings.broker_transport_options)
    return config


def sqlite_broker_path(settings: Settings) -> str:
    return settings.broker_url.split("///", 1)[1].split("?", 1)[0]


def sqlite_broker_connection(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def prepare_sqlite_broker(settings: Settings, transport_options: dict[str, Any]) -> None:
    """WAL mode on the broker file and kombu's tables, made once.

    kombu creates its tables on first use; web, worker and beat starting together on a new
    file could each try, and the loser fails. A file lock makes the first one do it alone.
    """
    from kombu import Connection

    path = sqlite_broker_path(settings)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with sqlite3.connect(path, timeout=30) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        with Connection(
            settings.broker_url.removeprefix("sqla+"),
            transport=SQLITE_TRANSPORT,
            transport_options=transport_options,
        ) as broker:
            broker.default_channel  # noqa: B018 - opening the channel creates the tables


def make_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``: the worker's (with tasks) and the web's (to publish)."""
    config = celery_config(settings)
    if settings.is_sqlite_broker:
        prepare_sqlite_broker(settings, config["broker_transport_options"])
    celery = Celery("approvals")
    celery.config_from_object(config)
    celery.set_default()
    return celery


class DirectPublisher:
    """The worker's publisher: it runs off any request, so it publishes at once."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def publish(self, job: Job, item_id: str) -> None:
        self.celery.send_task(str(job), args=([item_id],))


# /readyz answers within a few seconds even when the broker does not.
BROKER_CHECK_TIMEOUT_SECONDS = 2.0


def connect_to_broker(celery: Celery) -> None:
    """Open and close one connection to the broker; raises when it cannot be reached."""
    with celery.connection_for_write() as connection:
        connection.ensure_connection(
            max_retries=1,
            interval_start=0,
            interval_step=0,
            timeout=BROKER_CHECK_TIMEOUT_SECONDS,
        )
