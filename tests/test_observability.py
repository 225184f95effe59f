"""Health, readiness and metrics as an operator sees them: real processes, real scrapes.

The ``ops`` stack runs as production does (JSON logs, ``/metrics`` behind a token); counters
are read from ``/metrics`` after a real loop (email out, a person's confirmation, callback in).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from approvals.config import load_settings
from approvals.mailboxes import set_mailboxes
from approvals.store.db import database_for
from approvals.store.migrate import upgrade
from approvals.web.app import create_app
from tests.conftest import BACKENDS, GRAPH_APP_ID, GRAPH_APP_SECRET, graph_env, make_stack
from tests.support.api import ApiUser, answer, option_links
from tests.support.graph.server import GraphStandIn
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink, free_port
from tests.support.stack import Stack, eventually

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


@pytest.fixture(scope="module", params=BACKENDS)
def ops(
    request: pytest.FixtureRequest,
    smtp: SmtpSink,
    graph_standin: GraphStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A stack configured as in production: JSON logs and a metrics token."""
    root = tmp_path_factory.mktemp("ops-" + request.param.replace("+", "-"))
    env = {
        **graph_env(graph_standin),
        "APPROVALS_LOG_FORMAT": "json",
        "APPROVALS_METRICS_TOKEN": METRICS_TOKEN,
    }
    running, database = make_stack(request.param, root, smtp, env)
    running.start()
    yield running
    running.stop()
    if database:
        database.drop()


@pytest.fixture
def ops_api(ops: Stack) -> Iterator[ApiUser]:
    created, http = ops.new_client("ops")
    yield ApiUser(created.id, created.key, created.webhook_secret, http)
    http.close()


def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, by name and labels."""
    answer = httpx.get(
        f"{stack.base_url}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def growth(before: dict, after: dict) -> Callable[..., float]:
    """How much one sample grew between two scrapes."""
    return lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)


# --- health and readiness -----------------------------------------------------------------


def test_healthz_and_readyz_answer_ok_on_a_running_service(ops: Stack) -> None:
    assert httpx.get(f"{ops.base_url}/healthz", timeout=20).json() == {
        "status": "ok",
        "checks": {},
    }
    ready = httpx.get(f"{ops.base_url}/readyz", timeout=20)
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok"},
    }
    assert ready.status_code == 200


def _app(tmp_path, **env: str):  # type: ignore[no-untyped-def]
    return create_app(load_settings({"APPROVALS_INSTANCE_PATH": str(tmp_path), **env}))


def test_readyz_is_503_naming_unapplied_migrations_until_they_are_applied(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = _app(tmp_path)
    client = app.test_client()

    before = client.get("/readyz")
    upgrade(database_for(load_settings({"APPROVALS_INSTANCE_PATH": str(tmp_path)}).database_url))
    after = client.get("/readyz")

    assert before.status_code == 503
    assert "approvals db upgrade" in before.json["checks"]["migrations"]
    assert before.json["status"] == "unavailable"
    assert client.get("/healthz").status_code == 200  # alive all the same
    assert after.status_code == 200, after.json


def test_readyz_is_503_naming_an_unreachable_broker_and_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    closed = free_port()  # nothing listens there
    app = _app(
        tmp_path,
        APPROVALS_BROKER_URL=f"redis://127.0.0.1:{closed}/0",
        APPROVALS_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{closed}/none",
    )

    answer = app.test_client().get("/readyz")

    assert answer.status_code == 503
    checks = answer.json["checks"]
    assert checks["broker"] != "ok" and checks["database"] != "ok", checks
    assert "OperationalError" in checks["database"]


# --- metrics ------------------------------------------------------------------------------


def test_metrics_need_the_token_when_one_is_set(ops: Stack, ops_api: ApiUser) -> None:
    assert httpx.get(f"{ops.base_url}/metrics").status_code == 401
    wrong = {"Authorization": f"Bearer {ops_api.key}"}  # an API key is not the metrics token
    assert httpx.get(f"{ops.base_url}/metrics", headers=wrong).status_code == 401
    assert scrape(ops)  # the right one


def test_a_real_loop_shows_in_the_counters_of_web_and_worker(
    ops: Stack, ops_api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    before = scrape(ops)
    path = receiver.new_path()
    created = ops_api.subscribe(address, receiver.url(path))
    assert answer(option_links(smtp.wait_for(address)[0])[0]).status_code == 200
    receiver.wait_for(path)
    eventually(lambda: ops_api.state(created["id"])["delivery"]["status"] == "delivered")

    after = scrape(ops)
    grew = growth(before, after)
    route = "/approvalmail/$subscriptions"
    assert grew("approvals_http_requests_total", method="POST", route=route, status="201") == 1
    assert grew("approvals_http_request_duration_seconds_count", method="POST", route=route) == 1
    # Pages are labelled by the route, never by the token in their URL.
    assert (
        grew("approvals_http_requests_total", method="POST", route="/respond/{token}", status="200")
        == 1
    )
    assert grew("approvals_emails_total", backend="smtp", outcome="sent") == 1
    assert grew("approvals_callback_attempts_total", outcome="delivered") == 1
    assert grew("approvals_callback_attempt_duration_seconds_count") == 1
    assert value(after, "approvals_subscriptions", status="completed") >= 1


def test_owed_rows_show_due_then_overdue_while_no_worker_runs(
    ops: Stack, ops_api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    def owed(state: str) -> float:
        return value(scrape(ops), "approvals_owed_rows", sweeper="mail", state=state)

    ops.worker.stop()
    try:
        ops_api.subscribe(address, receiver.url(receiver.new_path()))
        assert owed("due") >= 1
        # Owed for longer than the claim timeout (4 s here) with nobody taking it: the alert.
        eventually(lambda: owed("overdue") >= 1, timeout=30, interval=0.5)
    finally:
        ops.worker.start()
    smtp.wait_for(address)
    eventually(lambda: owed("due") == 0, timeout=30)
    assert owed("overdue") == 0


def test_graph_calls_and_throttling_waits_are_counted(ops: Stack, graph: GraphStandIn) -> None:
    graph.register_app(GRAPH_APP_ID, secret=GRAPH_APP_SECRET)
    graph.add_mailbox("ops@contoso.example")
    graph.deliver("ops@contoso.example", subject="counted")
    created, http = ops.new_client("graph")
    with ops.db.session() as session:
        set_mailboxes(session, created.id, ["ops@contoso.example"])
    before = scrape(ops)
    graph.throttle(2, retry_after=1)

    with http:
        assert http.get("/v3/Mail").status_code == 200

    grew = growth(before, scrape(ops))
    assert grew("approvals_graph_requests_total", status="429") == 2
    assert grew("approvals_graph_requests_total", status="200") >= 1
    assert grew("approvals_graph_throttle_waits_total") == 2
    assert grew("approvals_graph_throttle_wait_seconds_total") == 2


def test_the_worker_sends_task_events_so_flower_works(ops: Stack) -> None:
    if ops.name == "embedded":
        pytest.skip("Celery sends no events over the SQLite broker (its transport cannot fan out)")
    from celery import Celery
    from kombu import Connection

    options = json.loads(ops.env["APPROVALS_BROKER_TRANSPORT_OPTIONS"])
    lifecycle = ["task-received", "task-started", "task-succeeded"]
    by_task: dict[str, list[dict]] = {}
    done: list[str] = []
    with Connection(ops.env["APPROVALS_BROKER_URL"], transport_options=options) as connection:

        def seen(event: dict) -> None:
            if event["type"] not in lifecycle:
                return
            events_of = by_task.setdefault(event["uuid"], [])
            events_of.append({**event, "arrived": time.time()})
            if [e["type"] for e in events_of] == lifecycle:
                done.append(event["uuid"])
                receiver.should_stop = True

        receiver = Celery().events.Receiver(connection, handlers={"*": seen})
        # The beat's sweep runs every second: its task events come without asking for any.
        give_up = threading.Timer(30, lambda: setattr(receiver, "should_stop", True))
        give_up.start()
        try:
            receiver.capture(limit=None)
        finally:
            give_up.cancel()

    assert done, f"no task's received, started and succeeded events within 30 s: {by_task}"
    received, started, succeeded = by_task[done[0]]
    # The worker sends them in batches a few times a second; each keeps its own time and order.
    assert received["timestamp"] <= started["timestamp"] <= succeeded["timestamp"]
    assert succeeded["arrived"] - succeeded["timestamp"] < 2, "events held back too long"
    assert succeeded["hostname"].startswith("celery@")
    assert received["name"].startswith("worker.tasks.")


# --- logs ---------------------------------------------------------------------------------


def test_logs_are_json_lines_with_their_ids_and_never_a_key_secret_token_or_body(
    ops: Stack,
    ops_api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
    graph: GraphStandIn,
) -> None:
    body = "private body text " + uuid.uuid4().hex
    graph.register_app(GRAPH_APP_ID, secret=GRAPH_APP_SECRET)
    graph.add_mailbox("logs@contoso.example")
    graph.deliver("logs@contoso.example", subject="s", body=body)
    with ops.db.session() as session:
        set_mailboxes(session, ops_api.id, ["logs@contoso.example"])
    assert ops_api.http.get("/v3/Mail").status_code == 200  # a Graph token in use
    path = receiver.new_path()
    given = "trace-" + uuid.uuid4().hex

    created = ops_api.http.post(
        "/approvalmail/$subscriptions",
        json={"NotificationUrl": receiver.url(path), "Message": {"To": address, "Body": body}},
        headers={"X-Request-Id": given},
    )
    links = option_links(smtp.wait_for(address)[0])
    assert answer(links[0]).status_code == 200
    receiver.wait_for(path)
    subscription_id = created.json()["id"]
    state = eventually(
        lambda: (s := ops_api.state(subscription_id))["delivery"]["status"] == "delivered" and s
    )
    made = ops_api.http.get("/approvalmail/$subscriptions/" + subscription_id)

    assert created.headers["X-Request-Id"] == given
    assert len(made.headers["X-Request-Id"]) >= 16  # none given: one is made
    logs = {p.name: p.read_text() for p in sorted(ops.root.glob("*.log"))}
    assert set(logs) == {"web.log", "worker.log", "beat.log"}
    everything = "\n".join(logs.values())
    tokens = {link.split("/respond/")[1].split("?")[0] for link in links}
    secrets = {
        "API key": ops_api.key,
        "webhook secret": ops_api.webhook_secret,
        "metrics token": METRICS_TOKEN,
        "Graph client secret": GRAPH_APP_SECRET,
        "message body": body,
        **{f"link token {i}": token for i, token in enumerate(tokens)},
        **{f"Graph token {i}": token for i, token in enumerate(graph.identity.tokens)},
    }
    assert len(secrets) >= 7
    assert [name for name, secret in secrets.items() if secret in everything] == []
    lines = []
    for name, text in logs.items():
        for line in text.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pytest.fail(f"{name}: not a JSON object: {line[:200]}")

    def found(**fields: object) -> list[dict]:
        return [line for line in lines if fields.items() <= line.items()]

    # The caller's request id on the access line and on the app's own line about it.
    assert found(logger="gunicorn.access", request_id=given, status=201, method="POST")
    assert found(message="subscription created", subscription_id=subscription_id, request_id=given)
    # The worker's lines name the subscription, the delivery and the task they concern.
    sent = found(message="email sent", subscription_id=subscription_id)
    assert sent and sent[0]["task_id"] and sent[0]["process"] == "worker"
    assert found(delivery_id=state["delivery"]["id"], process="worker")
    # The person's confirmation is on the access log, its link token replaced.
    assert found(logger="gunicorn.access", method="POST", path="/respond/[redacted]", status=200)
