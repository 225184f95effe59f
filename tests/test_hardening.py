"""Rate limits and page security headers, on the app itself (web-only behaviour)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from approvals.config import Settings, load_settings
from approvals.store.db import database_for
from approvals.store.migrate import upgrade
from approvals.web.app import create_app
from tests.conftest import REDIS_URL

APPROVAL = "/approvalmail/$subscriptions"


def _app(tmp_path: Path, **limits: str) -> tuple[FlaskClient, Settings]:
    settings = load_settings(
        {"APPROVALS_INSTANCE_PATH": str(tmp_path)}
        | {f"APPROVALS_{name.upper()}": value for name, value in limits.items()}
    )
    upgrade(database_for(settings.database_url))
    return create_app(settings).test_client(), settings


def _new_key(settings: Settings) -> str:
    from approvals.clients import create_client
    from approvals.crypto import SecretBox

    with database_for(settings.database_url).session() as session:
        return create_client(session, "limited", SecretBox(settings.secret_key)).key


@pytest.fixture
def web(tmp_path: Path) -> FlaskClient:
    return _app(tmp_path, api_rate_limit="5/minute", page_rate_limit="3/minute")[0]


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(tmp_path: Path) -> None:
    web, settings = _app(tmp_path, api_rate_limit="5/minute", auth_failure_rate_limit="2/minute")
    first, second = _new_key(settings), _new_key(settings)
    as_first = {"Authorization": f"Bearer {first}"}
    statuses = [web.get(f"{APPROVAL}/x", headers=as_first).status_code for _ in range(6)]
    assert statuses == [404] * 5 + [429]
    limited = web.get(f"{APPROVAL}/x", headers=as_first)
    assert limited.json["error"]["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0
    # Another client has its own budget, from the same address.
    assert (
        web.get(f"{APPROVAL}/x", headers={"Authorization": f"Bearer {second}"}).status_code == 404
    )


def test_made_up_keys_share_one_budget_per_address(tmp_path: Path) -> None:
    """Each new invented key used to get a fresh budget (and a key lookup) of its own."""
    web, settings = _app(tmp_path, api_rate_limit="100/minute", auth_failure_rate_limit="3/minute")
    real = {"Authorization": f"Bearer {_new_key(settings)}"}
    assert web.get(f"{APPROVAL}/x", headers=real).status_code == 404
    statuses = [
        web.get(f"{APPROVAL}/x", headers={"Authorization": f"Bearer made-up-{n}"}).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    assert web.get(f"{APPROVAL}/x").status_code == 429  # no key at all: the same budget
    # A client whose key just worked from there keeps working: its calls count as its own.
    assert web.get(f"{APPROVAL}/x", headers=real).status_code == 404
    # Any other key from that address waits for the window; elsewhere it is looked up.
    other = {"Authorization": f"Bearer {_new_key(settings)}"}
    assert web.get(f"{APPROVAL}/x", headers=other).status_code == 429
    elsewhere = {"REMOTE_ADDR": "127.0.0.9"}
    assert web.get(f"{APPROVAL}/x", headers=other, environ_base=elsewhere).status_code == 404
    made_up = {"Authorization": "Bearer made-up-9"}
    assert web.get(f"{APPROVAL}/x", headers=made_up, environ_base=elsewhere).status_code == 401


def test_limits_still_hold_while_their_redis_is_unreachable(tmp_path: Path) -> None:
    """Counters fall back to memory: the API keeps answering, and still says 429."""
    # A loopback port nothing listens on: every storage call fails at once.
    web, _ = _app(
        tmp_path,
        auth_failure_rate_limit="3/minute",
        rate_limit_storage_url="redis://127.0.0.1:9/0",
    )
    statuses = [
        web.get(f"{APPROVAL}/x", headers={"Authorization": "Bearer a"}).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.skipif(REDIS_URL is None, reason="needs APPROVALS_TEST_REDIS_URL")
def test_web_processes_share_their_counts_through_redis() -> None:
    """Two processes' limiters (two instances here) against one Redis: one budget for both."""
    from limits import parse

    from approvals.web.limits import RateLimits

    assert REDIS_URL is not None
    item, who = parse("6/minute"), f"test:{uuid.uuid4().hex}"
    first, second = RateLimits(REDIS_URL), RateLimits(REDIS_URL)
    assert [first.hit(item, who) for _ in range(4)] == [True] * 4
    first.sync()
    second.sync()  # learns nothing yet: it has not seen this caller
    assert second.hit(item, who)
    second.sync()  # adds its hit and learns the total of 5
    assert [second.hit(item, who) for _ in range(2)] == [True, False]
    second.sync()
    first.sync()
    assert not first.hit(item, who), "the first process learned the shared total too"


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


def test_webhook_secrets_are_stored_encrypted_and_survive_key_rotation(tmp_path: Path) -> None:
    from approvals.clients import client_signing_secrets, create_client
    from approvals.crypto import SecretBox
    from approvals.store.db import Database
    from approvals.store.models import ApiClient

    db = Database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    upgrade(db)
    with db.session() as session:
        created = create_client(session, "c", SecretBox("old-key"))
    with db.session() as session:
        stored = session.get(ApiClient, created.id)
        assert created.webhook_secret.removeprefix("whsec_") not in stored.webhook_secret
        rotated = SecretBox("new-key", fallbacks=("old-key",))
        assert client_signing_secrets(stored, rotated) == [created.webhook_secret]
        from approvals.crypto import CredentialDecryptError

        with pytest.raises(CredentialDecryptError):
            client_signing_secrets(stored, SecretBox("unrelated-key"))


def test_rotated_webhook_secret_signs_with_both_during_the_overlap(tmp_path: Path) -> None:
    from datetime import timedelta

    from standardwebhooks.webhooks import Webhook

    from approvals.clients import client_signing_secrets, create_client, rotate_webhook_secret
    from approvals.crypto import SecretBox
    from approvals.store.db import Database
    from approvals.store.models import ApiClient, utcnow
    from worker.webhooks.signing import signed_headers

    box = SecretBox("k")
    db = Database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    upgrade(db)
    with db.session() as session:
        old = create_client(session, "c", box).webhook_secret
    with db.session() as session:
        client = session.get(ApiClient, session.query(ApiClient.id).scalar())
        new = rotate_webhook_secret(session, client.id, box, timedelta(hours=1))
        body = '{"SelectedOption":"Approve"}'
        headers = signed_headers(client_signing_secrets(client, box), "msg_1", body)
        assert len(headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):  # a receiver on either secret accepts the callback
            assert Webhook(secret).verify(body, headers) == {"SelectedOption": "Approve"}
        later = client_signing_secrets(client, box, now=utcnow() + timedelta(hours=2))
        assert later == [new]


def test_links_signed_before_a_secret_key_rotation_keep_working() -> None:
    from approvals.approval.links import InvalidToken, Links

    token = Links("old-key").response_token("sub", "rcpt")
    target = Links("new-key", fallbacks=("old-key",)).read_response_token(token)
    assert (target.subscription_id, target.recipient_id) == ("sub", "rcpt")
    with pytest.raises(InvalidToken):
        Links("new-key").read_response_token(token)
