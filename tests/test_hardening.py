"""Rate limits and page security headers, on the app itself (web-only behaviour)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from approvals.config import load_settings
from approvals.store.db import database_for
from approvals.store.migrate import upgrade
from approvals.web.app import create_app

APPROVAL = "/approvalmail/$subscriptions"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[FlaskClient]:
    settings = load_settings(
        {
            "APPROVALS_INSTANCE_PATH": str(tmp_path),
            "APPROVALS_API_RATE_LIMIT": "5/minute",
            "APPROVALS_PAGE_RATE_LIMIT": "3/minute",
        }
    )
    upgrade(database_for(settings.database_url))
    yield create_app(settings).test_client()


def test_api_key_over_its_rate_limit_gets_429_with_retry_after(web: FlaskClient) -> None:
    statuses = [
        web.get(f"{APPROVAL}/x", headers={"Authorization": "Bearer a"}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    limited = web.get(f"{APPROVAL}/x", headers={"Authorization": "Bearer a"})
    assert limited.json["error"]["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0
    # Another key has its own budget.
    assert web.get(f"{APPROVAL}/x", headers={"Authorization": "Bearer b"}).status_code == 401


def test_response_pages_are_limited_per_address(web: FlaskClient) -> None:
    statuses = [web.get("/respond/nope?option=0").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    other = web.get("/respond/nope?option=0", environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert other.status_code == 404


def test_pages_cannot_be_framed_and_leak_no_referrer(web: FlaskClient) -> None:
    page = web.get("/respond/nope?option=0")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
