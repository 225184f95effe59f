"""Fault runs: N subscriptions through the whole loop, a fault injected, the end state counted.

A :class:`FaultRun` drives a :class:`FaultEnv` (a stack of its own with its own SMTP sink and
callback receiver) the way users do: it subscribes N requests of one or two recipients each over
the API, reads every mail from the SMTP sink, opens one link per request and presses Confirm on
the page, then waits for the end state and counts, from the outside (SMTP sink, receiver) and
from the rows: who was emailed and how often, which responses were recorded, which callbacks
arrived and how often, and what is lost or stuck.

Duplicates are allowed where the design says they can happen, but each one must be explained:
a duplicate mail needs a second claim of its recipient row (``email_attempts`` >= mails
received), a duplicate callback carries the same ``webhook-id`` and body, and needs an attempt
that was started but never recorded (``attempt_count`` > recorded attempts), or one recorded as
a timeout or cut connection (the receiver may have had the request; its answer never came).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from approvals.approval.owner import KIND as APPROVAL_KIND
from approvals.store.models import (
    Delivery,
    DeliveryAttempt,
    Recipient,
    Response,
    Subscription,
)
from tests.conftest import PostgresDatabase, make_stack
from tests.support.api import APPROVAL, confirm_form, option_links
from tests.support.receiver import CallbackReceiver, Received, Reply
from tests.support.smtp_sink import SmtpSink, _Handler, free_port
from tests.support.stack import Stack

N = int(os.environ.get("APPROVALS_FAULT_N") or 200)
REPORT_PATH = os.environ.get("APPROVALS_FAULT_REPORT")
POOL_SIZE = 16
# How long the end state may take after the last fault before what is missing counts as lost.
SETTLE_SECONDS = float(os.environ.get("APPROVALS_FAULT_SETTLE") or 90)

# The test stack's retry schedules (0, 0.3, 0.3, 0.3 s) give up within a second, which is right
# for watching a whole schedule but shorter than any outage below. These cover ~15 s of outage,
# as the production defaults (0, 30 s ... 1 h for mail; 0, 5 s ... 10 h for callbacks) cover
# hours. Everything else is the ordinary test stack: sweep every 1 s, claims taken over after 4 s.
FAULT_SETTINGS = {
    "APPROVALS_MAIL_RETRY_SCHEDULE": "0,0.5,1,2,4,8",
    "APPROVALS_WEBHOOK_RETRY_SCHEDULE": "0,0.5,1,2,4,8",
    "APPROVALS_WORKER_CONCURRENCY": "8",
}

# Every run's figures, for the terminal summary and the README table.
RESULTS: list[Figures] = []


# --- the environment: a stack of its own ---------------------------------------------------


@dataclass
class FaultEnv:
    """A running stack with its own SMTP sink and receiver, so faults touch nobody else."""

    backend: str
    stack: Stack
    smtp: SmtpSink
    receiver: CallbackReceiver
    database: PostgresDatabase | None

    def terminate_connections(self) -> int:
        """``pg_terminate_backend`` every connection to this stack's database; how many."""
        assert self.database is not None
        with psycopg.connect(self.database.admin, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database.name,),
            ).fetchall()
        return sum(1 for (terminated,) in rows if terminated)

    def broker(self) -> redis.Redis:
        return redis.Redis.from_url(self.stack.env["APPROVALS_BROKER_URL"])

    def broker_prefix(self) -> str:
        options = json.loads(self.stack.env["APPROVALS_BROKER_TRANSPORT_OPTIONS"])
        return options["global_keyprefix"]

    def broker_keys(self) -> list[bytes]:
        """This stack's keys only (its kombu ``global_keyprefix``); the server is shared."""
        with self.broker() as broker:
            return list(broker.scan_iter(match=f"{self.broker_prefix()}*", count=1000))

    def wipe_broker(self) -> int:
        """What a Redis restart without persistence does to this stack: every key gone."""
        keys = self.broker_keys()
        if keys:
            with self.broker() as broker:
                broker.delete(*keys)
        return len(keys)

    def queued(self, queue: str) -> int:
        """Rows named by the messages waiting in one of this stack's queues (``mail``,
        ``callbacks``): a message carries a batch of row ids."""
        with self.broker() as broker:
            messages = broker.lrange(f"{self.broker_prefix()}{queue}", 0, -1)
        return sum(len(_task_ids(message)) for message in messages)


def _task_ids(message: bytes) -> list[str]:
    """The row ids a queued Celery message (protocol 2, JSON) asks its task to look at."""
    envelope = json.loads(message)
    args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    ids = args[0]
    return [ids] if isinstance(ids, str) else list(ids)


class _HoldingHandler(_Handler):
    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        assert isinstance(self.sink, HoldingSink)
        # Wait for the release on a thread, a second at a time, so the server's loop goes on
        # and a stopped server leaves no thread waiting for long.
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, self.sink.release.wait, 1.0):
            pass
        return reply


class HoldingSink(SmtpSink):
    """Keeps each message as soon as it has it, but says "250" only once ``release`` is set.

    A worker killed while it waits has had its mail delivered without ever hearing so.
    """

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.release.set()

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        self._controller = Controller(_HoldingHandler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self.release.set()  # nothing stays held by a server that is going away
        super().stop()


@contextmanager
def fault_env(backend: str, root: Path, smtp: SmtpSink | None = None) -> Iterator[FaultEnv]:
    smtp = smtp or SmtpSink()
    smtp.start()
    receiver = CallbackReceiver()
    stack, database = make_stack(backend, root, smtp, FAULT_SETTINGS)
    try:
        stack.start()
        yield FaultEnv(backend, stack, smtp, receiver, database)
    finally:
        stack.stop()
        if database:
            database.drop()
            # The Redis server is shared: leave none of this stack's keys behind.
            FaultEnv(backend, stack, smtp, receiver, database).wipe_broker()
        receiver.close()
        smtp.stop()


# --- figures ---------------------------------------------------------------------------------


@dataclass
class Figures:
    fault: str
    backend: str
    n: int
    recipients: int = 0
    emailed: int = 0
    mail_duplicates: int = 0
    confirmed: int = 0
    responses: int = 0
    callbacks: int = 0
    callback_duplicates: int = 0
    lost: int = 0
    stuck: int = 0
    http_5xx: int = 0
    connection_errors: int = 0
    seconds: float = 0.0
    notes: str = ""

    def line(self) -> str:
        return " | ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    def row(self) -> str:
        cells = [
            self.fault,
            self.backend,
            self.n,
            f"{self.emailed}/{self.recipients}",
            self.mail_duplicates,
            self.confirmed,
            self.callbacks,
            self.callback_duplicates,
            self.lost,
            self.stuck,
            f"{self.http_5xx}/{self.connection_errors}",
            f"{self.seconds:.1f}",
            self.notes,
        ]
        return "| " + " | ".join(str(c) for c in cells) + " |"


TABLE_HEADER = (
    "| fault | backend | N | emailed | mail dup. | confirmed | callbacks | callback dup. "
    "| lost | stuck | 5xx/conn. errors (retried) | s | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def publish(figures: Figures) -> None:
    RESULTS.append(figures)
    print(f"\nFAULT RUN {figures.line()}")
    if REPORT_PATH:
        path = Path(REPORT_PATH)
        new = not path.exists() or path.stat().st_size == 0
        with path.open("a") as out:
            if new:
                out.write(TABLE_HEADER + "\n")
            out.write(figures.row() + "\n")


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Planned:
    """One subscription the run makes: its recipients and the option one of them confirms."""

    index: int
    addresses: list[str]
    option: int
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    id: str | None = None
    confirming: bool = False
    confirmed: bool = False

    @property
    def confirmer(self) -> str:
        return self.addresses[self.index % len(self.addresses)]


RETRYABLE = (httpx.TransportError,)


def whole(request: Received) -> bool:
    return len(request.body) == int(request.headers.get("content-length") or 0)


class FaultRun:
    """N subscriptions in flight on ``env``; the test injects its fault between the steps."""

    OPTIONS = ("Approve", "Reject")

    def __init__(self, env: FaultEnv, fault: str, n: int = N, reply: Reply | None = None) -> None:
        self.env = env
        self.stack = env.stack
        self.fault = fault
        self.n = n
        self.started = time.monotonic()
        self.tag = uuid.uuid4().hex[:8]
        self.plan = [
            Planned(
                i,
                [f"f{self.tag}-{i}-{j}@example.com" for j in range(1 + i % 2)],
                i % len(self.OPTIONS),
            )
            for i in range(n)
        ]
        self.addresses = {a for p in self.plan for a in p.addresses}
        created, self.api = self.stack.new_client(f"fault-{self.tag}")
        self.client_id = created.id
        self.webhook = Webhook(created.webhook_secret)
        self.path = env.receiver.new_path(*([reply] if reply else []))
        self.pages = httpx.Client(timeout=30, headers={"User-Agent": "Mozilla/5.0 (person)"})
        self.pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix=f"fault-{self.tag}")
        self.lock = threading.Lock()
        self.http_5xx = 0
        self.connection_errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.errors: list[str] = []
        # Indices (in the receiver's list for our path) of requests answered with a non-2xx.
        self.refused: set[int] = set()
        self.notes: list[str] = []
        self._confirmer: threading.Thread | None = None
        self._stop_confirming = threading.Event()

    # -- HTTP with the retries a careful client does ------------------------------------------

    def _retry(self, what: str, attempt: Callable[[], bool], tries: int = 8) -> None:
        """Run ``attempt`` until it returns True; 5xx and transport errors are retried."""
        for number in range(tries):
            try:
                if attempt():
                    return
                with self.lock:
                    self.http_5xx += 1
            except RETRYABLE as exc:
                self.errors.append(f"{what}: {type(exc).__name__}: {exc}")
                with self.lock:
                    self.connection_errors += 1
                    self.error_kinds[f"{what.split()[0]} {type(exc).__name__}"] += 1
            time.sleep(0.2 * (number + 1))
        raise AssertionError(f"{what} failed {tries} times: {self.errors[-3:]}")

    def _subscribe(self, planned: Planned) -> None:
        body = {
            "NotificationUrl": self.env.receiver.url(self.path),
            "Message": {
                "To": "; ".join(planned.addresses),
                "Subject": f"Fault run {self.tag} #{planned.index}",
                "Options": ", ".join(self.OPTIONS),
            },
        }

        def attempt() -> bool:
            answer = self.api.post(
                APPROVAL, json=body, headers={"Idempotency-Key": planned.idempotency_key}
            )
            if answer.status_code >= 500:
                self.errors.append(f"subscribe: {answer.status_code} {answer.text[:200]}")
                return False
            assert answer.status_code == 201, answer.text
            planned.id = answer.json()["id"]
            return True

        self._retry(f"subscribe #{planned.index}", attempt)

    def _confirm(self, planned: Planned) -> None:
        """Open the confirmer's link for the planned option and press Confirm."""
        mail = self.mails_for(planned.confirmer)[0]
        link = option_links(mail)[planned.option]

        def attempt() -> bool:
            page = self.pages.get(link)
            if page.status_code == 409:
                # An earlier POST was recorded though its answer was lost (5xx or reset).
                assert f"answered by {planned.confirmer}" in page.text, page.text
                return True
            if page.status_code >= 500:
                self.errors.append(f"page: {page.status_code}")
                return False
            assert page.status_code == 200, page.text
            sent = self.pages.post(link.split("?")[0], data={**confirm_form(page.text)})
            if sent.status_code >= 500:
                self.errors.append(f"confirm: {sent.status_code}")
                return False
            assert sent.status_code == 200, sent.text
            return True

        self._retry(f"confirm #{planned.index}", attempt)
        planned.confirmed = True

    # -- steps ---------------------------------------------------------------------------------

    def submit_all(self) -> None:
        self.submit(self.plan)

    def submit(self, plans: list[Planned]) -> None:
        list(self.pool.map(self._subscribe, plans))
        assert all(p.id for p in plans)

    def confirm(self, plans: list[Planned]) -> None:
        for planned in plans:
            planned.confirming = True
        list(self.pool.map(self._confirm, plans))

    def confirmed(self) -> int:
        return sum(1 for p in self.plan if p.confirmed)

    def mails_for(self, address: str) -> list[Any]:
        return self.env.smtp.messages_for(address)

    def mail_counts(self) -> Counter[str]:
        with self.env.smtp.lock:
            return Counter(rcpt for rcpt, _ in self.env.smtp.received if rcpt in self.addresses)

    def emailed(self) -> int:
        return len(self.mail_counts())

    def wait_emailed(self, at_least: int, timeout: float = 60) -> int:
        return self.wait_until(self.emailed, at_least, timeout, "recipients emailed")

    def received(self) -> list[Received]:
        return self.env.receiver.received(self.path)

    def answered(self) -> Iterator[Received]:
        """Callbacks the receiver took whole and answered 2xx: what a subscriber acts on.

        A request cut off by a killed worker (fewer body bytes than its Content-Length) is left
        out: a real web server rejects it before the application sees it.
        """
        for index, request in enumerate(self.received()):
            if index not in self.refused and whole(request):
                yield request

    def delivered_ids(self) -> set[str]:
        return {r.headers["webhook-id"] for r in self.answered()}

    def callbacks(self) -> int:
        return len(self.delivered_ids())

    def wait_callbacks(self, at_least: int, timeout: float = 60) -> int:
        return self.wait_until(self.callbacks, at_least, timeout, "callbacks received")

    def wait_until(self, count: Callable[[], int], at_least: int, timeout: float, what: str) -> int:
        deadline = time.monotonic() + timeout
        while (value := count()) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: {value}, want {at_least} within {timeout}s\n{self.logs()}"
                )
            time.sleep(0.02)
        return value

    def confirm_ready(self) -> int:
        """Confirm every subscription whose recipients all have their mail; how many left."""
        counts = self.mail_counts()
        for planned in self.plan:
            if planned.confirming or not all(counts[a] for a in planned.addresses):
                continue
            planned.confirming = True
            self.pool.submit(self._confirm_logged, planned)
        return sum(1 for p in self.plan if not p.confirmed)

    def _confirm_logged(self, planned: Planned) -> None:
        try:
            self._confirm(planned)
        except BaseException as exc:  # reported by confirm_all
            self.errors.append(f"confirm #{planned.index} gave up: {exc!r}")
            self._stop_confirming.set()
            raise

    def start_confirming(self) -> None:
        """Confirm in the background as mails arrive, while the test injects its fault."""

        def loop() -> None:
            while not self._stop_confirming.is_set() and self.confirm_ready():
                self._stop_confirming.wait(0.05)  # for more mail, or to be told to stop

        self._confirmer = threading.Thread(target=loop, daemon=True)
        self._confirmer.start()

    def confirm_all(self, timeout: float = SETTLE_SECONDS) -> None:
        if self._confirmer is None:
            self.start_confirming()
        assert self._confirmer is not None
        self._confirmer.join(timeout)
        self._stop_confirming.set()
        self.pool.shutdown(wait=True)
        unconfirmed = [p.index for p in self.plan if not p.confirmed]
        assert not unconfirmed, (
            f"{len(unconfirmed)} never confirmed (mail missing or page failing): "
            f"{unconfirmed[:10]}; errors {self.errors[-5:]}\n{self.logs()}"
        )

    def logs(self, lines: int = 60) -> str:
        """The tails of the web and worker logs, and beat's lines that are not a routine send."""
        parts = []
        for process in (self.stack.web, self.stack.worker):
            text = process.log_path.read_text(errors="replace").splitlines()
            parts.append(f"--- {process.command[0]} ---\n" + "\n".join(text[-lines:]))
        beat = self.stack.beat
        unusual = [
            line
            for line in beat.log_path.read_text(errors="replace").splitlines()
            if "Sending due task" not in line
        ]
        state = "running" if beat.running else f"exited ({beat.process and beat.process.poll()})"
        parts.append(f"--- beat, {state} ---\n" + "\n".join(unusual[-lines:]))
        return "\n".join(parts)

    def dump_stacks(self) -> None:
        """Every thread's stack into the worker's and beat's logs (SIGUSR2), for a stuck run."""
        for process in (self.stack.worker, self.stack.beat):
            if process.running and process.process is not None:
                os.kill(process.process.pid, signal.SIGUSR2)
        time.sleep(1.0)

    def note(self, text: str) -> None:
        self.notes.append(text)

    @contextmanager
    def receiver_answers(self, reply: Reply) -> Iterator[None]:
        """The receiver answers ``reply`` meanwhile; a non-2xx answer does not count as got."""
        receiver = self.env.receiver
        with receiver.lock:
            previous = receiver.scripts.get(self.path) or [Reply()]
            receiver.scripts[self.path] = [reply]
            start = len(receiver.requests[self.path])
        try:
            yield
        finally:
            with receiver.lock:
                receiver.scripts[self.path] = previous
                end = len(receiver.requests[self.path])
            if not 200 <= reply.status < 300:
                self.refused.update(range(start, end))

    # -- the end state -------------------------------------------------------------------------

    def _rows(self) -> dict[str, Any]:
        db = self.stack.db
        with db.session() as session:
            subscriptions = session.execute(
                select(Subscription.id, Subscription.status).where(
                    Subscription.client_id == self.client_id
                )
            ).all()
            ids = [s.id for s in subscriptions]
            recipients = session.execute(
                select(
                    Recipient.id,
                    Recipient.subscription_id,
                    Recipient.address,
                    Recipient.email_status,
                    Recipient.email_attempts,
                    Recipient.email_error,
                ).where(Recipient.subscription_id.in_(ids))
            ).all()
            responses = session.execute(
                select(Response.subscription_id, Response.option, Response.recipient_id).where(
                    Response.subscription_id.in_(ids)
                )
            ).all()
            recorded = (
                select(func.count(DeliveryAttempt.id))
                .where(DeliveryAttempt.delivery_id == Delivery.id)
                .scalar_subquery()
            )
            # Recorded attempts whose request may have reached the receiver though no answer
            # came back in time or whole (a timeout or a cut connection): each may explain
            # one more arrival, as an unrecorded attempt does.
            unanswered = (
                select(func.count(DeliveryAttempt.id))
                .where(
                    DeliveryAttempt.delivery_id == Delivery.id,
                    DeliveryAttempt.status_code.is_(None),
                    DeliveryAttempt.error_code.in_(("timeout", "connection")),
                )
                .scalar_subquery()
            )
            deliveries = session.execute(
                select(
                    Delivery.id,
                    Delivery.owner_id.label("subscription_id"),
                    Delivery.webhook_id,
                    Delivery.status,
                    Delivery.attempt_count,
                    Delivery.payload,
                    recorded.label("recorded"),
                    unanswered.label("unanswered"),
                ).where(Delivery.client_id == self.client_id, Delivery.owner_kind == APPROVAL_KIND)
            ).all()
        return {
            "subscriptions": subscriptions,
            "recipients": recipients,
            "responses": responses,
            "deliveries": deliveries,
        }

    def _settled(self, rows: dict[str, Any]) -> bool:
        delivered = self.delivered_ids()
        return (
            all(s.status == "completed" for s in rows["subscriptions"])
            and all(r.email_status in ("sent", "cancelled") for r in rows["recipients"])
            and all(d.status == "delivered" for d in rows["deliveries"])
            and len(rows["deliveries"]) == self.n
            and all(d.webhook_id in delivered for d in rows["deliveries"])
            and self.emailed() == len(self.addresses)
        )

    def settle(self, timeout: float = SETTLE_SECONDS) -> Figures:
        """Wait for the end state (or the deadline), count, publish the figures, check them."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self._rows()
            if self._settled(rows) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        time.sleep(1.5)  # a late duplicate (a claim taken over) would land within a sweep or so
        rows = self._rows()
        figures, problems = self._count(rows)
        publish(figures)
        self.api.close()
        self.pages.close()
        if problems:
            self.dump_stacks()
        assert not problems, "\n".join(problems) + "\n" + self.logs()
        return figures

    def _count(self, rows: dict[str, Any]) -> tuple[Figures, list[str]]:
        problems: list[str] = []
        planned = {p.id: p for p in self.plan}
        mails = self.mail_counts()
        by_address = {r.address: r for r in rows["recipients"]}
        responses = {r.subscription_id: r for r in rows["responses"]}
        deliveries = {d.subscription_id: d for d in rows["deliveries"]}
        status = {s.id: s.status for s in rows["subscriptions"]}

        # Callbacks as the receiver saw them, answered 2xx, grouped by webhook-id.
        got: dict[str, list[Received]] = defaultdict(list)
        for request in self.answered():
            try:
                self.webhook.verify(request.body, request.headers)
            except WebhookVerificationError as exc:
                problems.append(f"callback with a bad signature: {exc} {request.headers}")
            got[request.headers["webhook-id"]].append(request)
        if self.connection_errors:
            self.note(f"connection errors: {dict(self.error_kinds)}")
        cut_off = sum(1 for r in self.received() if not whole(r))
        if cut_off:
            self.note(f"{cut_off} callback requests cut off mid-body by the kill")

        lost: list[str] = []
        stuck: list[str] = []
        for address in sorted(self.addresses):
            if not mails[address]:
                row = by_address.get(address)
                lost.append(f"no mail for {address}: {row}")
        for planned_id, p in planned.items():
            if planned_id not in status:
                lost.append(f"subscription #{p.index} {planned_id} accepted but not stored")
                continue
            if status[planned_id] != "completed":
                stuck.append(f"subscription #{p.index} {planned_id} is {status[planned_id]}")
            answer = responses.get(planned_id)
            if p.confirmed and answer is None:
                lost.append(f"confirmed #{p.index} {planned_id} has no response row")
                continue
            if answer is None:
                continue
            if answer.option != self.OPTIONS[p.option]:
                problems.append(f"#{p.index} recorded {answer.option}, confirmed {p.option}")
            owed = deliveries.get(planned_id)
            if owed is None:
                lost.append(f"response of #{p.index} {planned_id} owes no callback")
                continue
            if owed.status != "delivered":
                stuck.append(f"delivery {owed.id} of #{p.index}: {owed.status}")
            arrived = got.get(owed.webhook_id, [])
            if not arrived:
                lost.append(f"callback {owed.webhook_id} of #{p.index} never arrived ({owed})")
            for request in arrived:
                payload = json.loads(request.body)
                if request.body.decode() != owed.payload or payload["SubscriptionId"] != (
                    planned_id
                ):
                    problems.append(f"callback {owed.webhook_id} body differs from its row")
                if payload["UserEmailAddress"] != p.confirmer:
                    problems.append(f"callback of #{p.index} names {payload['UserEmailAddress']}")
            explained = owed.attempt_count - owed.recorded + owed.unanswered
            if len(arrived) > 1 and explained < len(arrived) - 1:
                problems.append(
                    f"unexplained duplicate callback {owed.webhook_id}: {len(arrived)} arrived, "
                    f"{owed.attempt_count} attempts claimed, {owed.recorded} recorded, "
                    f"{owed.unanswered} of them unanswered"
                )
        shown_unsent = sum(
            1 for r in rows["recipients"] if r.email_status == "cancelled" and mails[r.address]
        )
        if shown_unsent:
            # test_a_recipient_who_answered_is_not_shown_as_never_emailed
            self.note(f"{shown_unsent} mailed recipients shown as 'cancelled' (not sent)")
        for row in rows["recipients"]:
            if row.email_status not in ("sent", "cancelled"):
                stuck.append(f"recipient {row.address} is {row.email_status}: {row.email_error}")
            if mails[row.address] > row.email_attempts:
                problems.append(
                    f"unexplained duplicate mail to {row.address}: {mails[row.address]} mails, "
                    f"{row.email_attempts} claims"
                )
        unknown = set(got) - {d.webhook_id for d in rows["deliveries"]}
        if unknown:
            problems.append(f"callbacks with webhook-ids of no delivery: {sorted(unknown)[:5]}")

        figures = Figures(
            fault=self.fault,
            backend=self.env.backend,
            n=self.n,
            recipients=len(self.addresses),
            emailed=sum(1 for a in self.addresses if mails[a]),
            mail_duplicates=sum(max(0, c - 1) for c in mails.values()),
            confirmed=sum(1 for p in self.plan if p.confirmed),
            responses=len(responses),
            callbacks=len(got),
            callback_duplicates=sum(len(v) - 1 for v in got.values()),
            lost=len(lost),
            stuck=len(stuck),
            http_5xx=self.http_5xx,
            connection_errors=self.connection_errors,
            seconds=round(time.monotonic() - self.started, 1),
            notes="; ".join(self.notes),
        )
        if lost:
            problems.append(f"LOST {len(lost)}:\n  " + "\n  ".join(lost[:20]))
        if stuck:
            problems.append(f"STUCK {len(stuck)}:\n  " + "\n  ".join(stuck[:20]))
        if figures.confirmed != self.n or figures.responses != self.n:
            problems.append(f"confirmed {figures.confirmed}, responses {figures.responses}")
        return figures, problems
