"""Submitting, reading and cancelling subscriptions over the HTTP API (DESIGN 5)."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

from tests.support.api import APPROVAL, OPTIONS, ApiUser, answer, option_links
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually

HOOK = "https://hooks.example.com/approvals"


def body(to: str = "ann@example.com", **message: object) -> dict[str, object]:
    return {"NotificationUrl": HOOK, "Message": {"To": to, **message}}


def test_approval_request_is_accepted_with_connector_defaults(api: ApiUser) -> None:
    response = api.http.post(
        APPROVAL, json=body("ann@example.com; Bob@Example.com, ann@EXAMPLE.com")
    )
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "resource", "notificationType", "notificationUrl"}
    assert created["notificationUrl"] == HOOK
    assert response.headers["Location"] == created["resource"]
    assert created["resource"].endswith(f"/approvalmail/$subscriptions/{created['id']}")
    state = api.state(created["id"])
    assert state["status"] == "pending"
    assert state["options"] == ["Approve", "Reject"]
    assert state["message"]["Subject"] == "Approval Request"
    assert state["message"]["Importance"] == "Normal"
    assert [r["address"] for r in state["recipients"]] == ["ann@example.com", "Bob@example.com"]


def test_options_request_uses_its_own_defaults(api: ApiUser) -> None:
    created = api.http.post(OPTIONS, json=body()).json()
    state = api.state(created["id"], OPTIONS)
    assert state["options"] == ["Choice1", "Choice2", "Choice3"]
    assert state["message"]["Subject"] == "Your input is required"
    assert api.http.get(f"{APPROVAL}/{created['id']}").status_code == 404


def test_requests_without_a_valid_key_get_401(stack: Stack, api: ApiUser) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = httpx.post(stack.base_url + APPROVAL, json=body(), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_revoked_key_gets_401(stack: Stack, api: ApiUser) -> None:
    """A key in use stops working once the web's memory of known keys (5 s) lets it go, and
    from then on is refused for everything, saving nothing."""
    from approvals.clients import revoke_client

    assert api.http.post(APPROVAL, json=body()).status_code == 201
    with stack.db.session() as session:
        revoke_client(session, api.id)
    eventually(lambda: api.http.get(f"{APPROVAL}/unknown").status_code == 401 or None, 30)
    saved = stack.subscription_count(api.id)
    for _ in range(3):
        refused = api.http.post(APPROVAL, json=body())
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "unauthorized"
        assert api.http.get(f"{APPROVAL}/unknown").status_code == 401
    assert stack.subscription_count(api.id) == saved == 1


def test_another_clients_subscription_is_not_found(stack: Stack, api: ApiUser) -> None:
    created = api.subscribe("ann@example.com", HOOK)
    _, other = stack.new_client("other")
    assert other.get(f"{APPROVAL}/{created['id']}").status_code == 404
    assert other.delete(f"{APPROVAL}/{created['id']}").status_code == 404
    assert api.state(created["id"])["status"] == "pending"


GOOD_ATTACHMENT = {"Name": "a.txt", "ContentBytes": base64.b64encode(b"hi").decode()}


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"Message": {"To": "ann@example.com"}}, 400, "missing_field", "NotificationUrl"),
        ({"NotificationUrl": HOOK}, 400, "missing_field", "Message"),
        (body("not-an-address"), 400, "invalid_address", "Message.To"),
        (body("ann@example.com; bob@@example"), 400, "invalid_address", "Message.To"),
        (body(" ; , "), 400, "invalid_address", "Message.To"),
        (body(123), 400, "invalid_type", "Message.To"),
        (
            {"NotificationUrl": "ftp://x.example.com/", "Message": {"To": "a@example.com"}},
            400,
            "invalid_url",
            "NotificationUrl",
        ),
        (
            {"NotificationUrl": "/relative", "Message": {"To": "a@example.com"}},
            400,
            "invalid_url",
            "NotificationUrl",
        ),
        (
            {
                "NotificationUrl": "https://x.example.com/" + "a" * 2048,
                "Message": {"To": "a@example.com"},
            },
            400,
            "invalid_url",
            "NotificationUrl",
        ),
        (
            {"NotificationUrl": "https://x.example.com/a\r\nb", "Message": {"To": "a@example.com"}},
            400,
            "invalid_url",
            "NotificationUrl",
        ),
        (
            {"NotificationUrl": "https://bad host.example/", "Message": {"To": "a@example.com"}},
            400,
            "invalid_url",
            "NotificationUrl",
        ),
        (
            {"NotificationUrl": "https://⒈.example/", "Message": {"To": "a@example.com"}},
            400,
            "invalid_url",
            "NotificationUrl",
        ),
        (
            {"NotificationUrl": ["x"], "Message": {"To": "a@example.com"}},
            400,
            "invalid_type",
            "NotificationUrl",
        ),
        (body(Options="Yes,,No"), 422, "invalid_options", "Message.Options"),
        (body(Options="Yes, yes"), 422, "invalid_options", "Message.Options"),
        (
            body(Options=",".join(f"o{i}" for i in range(101))),
            422,
            "invalid_options",
            "Message.Options",
        ),
        (body(Importance="Urgent"), 422, "invalid_value", "Message.Importance"),
        (
            body(Attachments=[{"Name": "a.txt", "ContentBytes": "***"}]),
            422,
            "invalid_base64",
            "Message.Attachments.0.ContentBytes",
        ),
        (
            body(Attachments=[{"ContentBytes": "aGk="}]),
            400,
            "missing_field",
            "Message.Attachments.0.Name",
        ),
        (body(UseOnlyHTMLMessage="maybe"), 400, "invalid_type", "Message.UseOnlyHTMLMessage"),
        ([1, 2], 400, "invalid_type", None),
    ],
)
def test_bad_input_gets_a_clear_error_and_saves_nothing(
    stack: Stack, api: ApiUser, payload: object, status: int, code: str, field: str | None
) -> None:
    response = api.http.post(APPROVAL, json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]
    assert stack.subscription_count(api.id) == 0


def test_a_notification_url_that_is_not_ascii_is_kept_as_http_sends_it_and_called(
    api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    unique = receiver.new_path()  # the receiver is shared by both backends' runs
    given = receiver.url(unique + "/réponse déjà") + "?qui=Jörg&x=a b"
    sent = receiver.url(unique + "/r%C3%A9ponse%20d%C3%A9j%C3%A0") + "?qui=J%C3%B6rg&x=a%20b"
    created = api.subscribe(address, given)
    assert created["notificationUrl"] == sent
    (link, _) = option_links(smtp.wait_for(address)[0])
    assert answer(link).status_code == 200
    (callback,) = receiver.wait_for(sent.split(f":{receiver.port}", 1)[1])
    assert json.loads(callback.body)["SubscriptionId"] == created["id"]


def test_an_internationalised_host_name_is_kept_in_idna() -> None:
    from approvals.approval.schemas import normalise_url

    assert normalise_url("https://Bücher.example/x") == "https://xn--bcher-kva.example/x"
    assert normalise_url("http://[::1]:8080/a%20b") == "http://[::1]:8080/a%20b"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000, b'{"a": NaN'],
)
def test_malformed_bodies_get_400_not_500(stack: Stack, api: ApiUser, raw: bytes) -> None:
    response = api.http.post(APPROVAL, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"malformed_json", "invalid_type"}
    assert stack.subscription_count(api.id) == 0


def test_body_over_the_size_limit_gets_413(stack: Stack, api: ApiUser) -> None:
    huge = body(Body="x" * (11 * 1024 * 1024))
    response = api.http.post(APPROVAL, json=huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert stack.subscription_count(api.id) == 0


def test_repeated_idempotency_key_returns_the_first_answer(stack: Stack, api: ApiUser) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.http.post(APPROVAL, json=body(), headers=key)
    again = api.http.post(APPROVAL, json=body(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stack.subscription_count(api.id) == 1
    other = api.http.post(APPROVAL, json=body("zed@example.com"), headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_delete_cancels_and_repeats_harmlessly(api: ApiUser) -> None:
    created = api.subscribe("ann@example.com", HOOK)
    first = api.http.delete(f"{APPROVAL}/{created['id']}")
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert api.http.delete(f"{APPROVAL}/{created['id']}").status_code == 200
    assert api.state(created["id"])["status"] == "cancelled"
    assert api.http.delete(f"{APPROVAL}/{uuid.uuid4().hex}").status_code == 404


def test_openapi_document_describes_the_request_models(stack: Stack) -> None:
    document = httpx.get(stack.base_url + "/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/approvalmail/$subscriptions" in document["paths"]
    schema = document["components"]["schemas"]["ApprovalMessage"]
    assert schema["properties"]["Subject"]["default"] == "Approval Request"
    assert "To" in schema["required"]


def test_restarting_the_service_loses_nothing(stack: Stack, api: ApiUser) -> None:
    created = api.subscribe("ann@example.com", HOOK, Subject="Survives a restart")
    stack.stop()
    stack.start()
    state = api.state(created["id"])
    assert state["status"] == "pending"
    assert state["message"]["Subject"] == "Survives a restart"


def test_requests_after_the_database_dropped_every_connection_succeed(
    stack: Stack, api: ApiUser
) -> None:
    """A PostgreSQL restart or a terminated backend leaves dead connections in the web's pool;
    the pool notices them when they are taken out, and the caller never sees it."""
    if not stack.database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL connections can be dropped from outside")
    import psycopg
    from sqlalchemy.engine import make_url

    for _ in range(8):  # fill the web's pool with connections
        assert api.http.post(APPROVAL, json=body()).status_code == 201
    url = make_url(stack.database_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        terminated = connection.execute(
            # With a timeout it waits until each backend has exited (PostgreSQL 14+).
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (url.database,),
        ).fetchone()
    assert terminated and terminated[0] > 0
    statuses = [api.http.post(APPROVAL, json=body()).status_code for _ in range(8)]
    assert statuses == [201] * 8
