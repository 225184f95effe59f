"""Beat keeps sweeping after a failed send: the sweeper is what recovers every lost message."""

from __future__ import annotations

from pathlib import Path

import pytest
from kombu import Connection

from approvals.config import load_settings
from worker.beat_scheduler import ReconnectingScheduler
from worker.celery_app import SQLITE_TRANSPORT, make_celery


def _waiting(broker_url: str, queue: str) -> int:
    with Connection(broker_url.removeprefix("sqla+"), transport=SQLITE_TRANSPORT) as broker:
        return broker.default_channel.queue_declare(queue, passive=True).message_count


def test_a_send_that_fails_on_a_closed_channel_costs_one_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({"APPROVALS_INSTANCE_PATH": str(tmp_path)})
    app = make_celery(settings)
    scheduler = ReconnectingScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    sweep = scheduler.schedule["sweep"]
    try:
        scheduler.apply_entry(sweep, producer=scheduler.producer)
        assert _waiting(settings.broker_url, "approvals") == 1

        scheduler.producer.channel.close()  # what a broker error kombu cannot mend leaves
        scheduler.apply_entry(sweep, producer=scheduler.producer)  # fails, logged by Celery
        assert "channel disconnected" in caplog.text

        for _ in range(2):
            scheduler.apply_entry(sweep, producer=scheduler.producer)
        assert _waiting(settings.broker_url, "approvals") == 3
    finally:
        scheduler.close()
