"""Hostile input against the running service: never a 5xx, never half-saved, never accepted.

schemathesis drives the API from its own ``/openapi.json``; hypothesis mutates real response
links; the rest are hand-made bodies and headers that have broken services before: oversized and
deeply nested JSON, CR/LF in mail headers, bodies that are not UTF-8, megabytes of options.
DESIGN 5 ("Bad input never reaches a 500 and never half-saves") and DESIGN 6.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from approvals.approval.links import InvalidToken, Links
from approvals.store.models import Recipient, Subscription
from tests.support.api import APPROVAL, ApiUser, confirm_form, option_links
from tests.support.receiver import CallbackReceiver
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually

# Per operation and mode: every operation of the document with valid and with invalid data,
# and each POST again with a deliverable address, 40 cases each (26 operations and 9 POSTs
# today: (26 x 2 + 9) x 40 = 2440 cases per backend; the test prints the count).
SCHEMATHESIS_EXAMPLES = 40
# The 25 calendar and contact operations and the 28 calendar trigger routes share their
# parameters' and bodies' handling with the mail ones (the same views, the same checks): fewer
# cases each, on the embedded backend only (what they refuse does not depend on the backend),
# to keep the suite's time in bounds.
SPARSE_TAGS = {"Calendar", "Contacts", "Calendar triggers"}
SPARSE_EXAMPLES = 10
MUTATION_EXAMPLES = 200
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
]


def bounded(max_examples: int) -> settings:
    """Few enough examples to keep each test short; no shrinking (report the first failure)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def sent(value: object) -> bool:
    """Whether a query parameter with this value appears in the URL at all."""
    if isinstance(value, (list, tuple, dict)):
        return any(item is not None for item in value)
    return value is not None


def mail_statuses(stack: Stack, client_id: str) -> set[str]:
    with stack.db.session() as session:
        return set(
            session.scalars(
                select(Recipient.email_status)
                .join(Subscription, Recipient.subscription_id == Subscription.id)
                .where(Subscription.client_id == client_id)
                .distinct()
            )
        )


@pytest.fixture
def hook(receiver: CallbackReceiver) -> Iterator[str]:
    """A NotificationUrl on the local receiver that nobody answers for: the only callback it
    may get is a request's expiry (a generated ``ExpiresAfter`` can be a second)."""
    path = receiver.new_path()
    yield receiver.url(path)
    answered = [
        r.body for r in receiver.received(path) if json.loads(r.body).get("Outcome") != "expired"
    ]
    assert answered == []


def post_raw(
    api: ApiUser, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return api.http.post(APPROVAL, content=content, headers={"Content-Type": content_type})


def assert_refused(response: httpx.Response, *statuses: int) -> dict[str, object]:
    """A clean 4xx with the documented error body."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    return error


# --- schemathesis --------------------------------------------------------------------------


# The document's operations in this many parts, one test each: the parts run side by side
# under pytest-xdist (one run of every operation took about seven minutes per backend on a
# busy machine), each well within its time limit.
SCHEMATHESIS_PARTS = 8
# The operations that create subscriptions (and so mail) from a deliverable body.
SUBSCRIBING = ("/approvalmail/$subscriptions", "/mailwithoptions/$subscriptions")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("part", range(SCHEMATHESIS_PARTS))
def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_schema(
    part: int,
    stack: Stack,
    api: ApiUser,
    hook: str,
    address: str,
    record_property: Callable[[str, object], None],
) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json", timeout=20)
    # A request line over the web server's limit is refused before the app sees it (414, as
    # documented): a refusal of invalid data like any 4xx.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "414"]
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    auth = {"Authorization": f"Bearer {api.key}"}
    cases: Counter[str] = Counter()
    statuses: Counter[int | str] = Counter()
    failures: list[str] = []
    before = stack.subscription_count(api.id)

    def fuzz(
        operation: schemathesis.APIOperation,
        mode: schemathesis.GenerationMode,
        deliverable: bool,
        examples: int,
    ) -> None:
        label = f"{operation.label} {mode.value}{' deliverable' if deliverable else ''}"

        @bounded(examples)
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            if mode == schemathesis.GenerationMode.NEGATIVE:
                # A query parameter of None, [] or {} is not sent at all: a case made invalid by
                # one is valid on the wire, and the 2xx it rightly gets would count as a failure.
                assume(all(sent(value) for value in (case.query or {}).values()))
            if deliverable and isinstance(case.body, dict):
                # Random To and NotificationUrl are refused up front; with real ones the other
                # fields' random values travel on to the database, the mail and the pages.
                case.body["NotificationUrl"] = hook
                if isinstance(case.body.get("Message"), dict):
                    case.body["Message"]["To"] = address
            cases[label] += 1
            response = case.call_and_validate(
                base_url=stack.base_url, headers=auth, checks=checks, timeout=30
            )
            replayed = response.headers.get("idempotent-replayed") == ["true"]
            statuses["201 replayed" if replayed else response.status_code] += 1

        run()

    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    mine = [
        result.ok()
        for n, result in enumerate(schema.get_all_operations())
        if n % SCHEMATHESIS_PARTS == part
    ]
    fuzzed = set()
    for operation in mine:
        examples = SCHEMATHESIS_EXAMPLES
        if SPARSE_TAGS & set(operation.tags or ()):
            if stack.name != "embedded":
                continue
            examples = SPARSE_EXAMPLES
        fuzzed.add(operation.label)
        plans = [(positive, False)]
        raw = operation.definition.raw
        if raw.get("parameters") or raw.get("requestBody") or raw.get("security") != []:
            plans.append((negative, False))  # only an operation with some input can get it wrong
        if operation.method.upper() == "POST":
            plans.append((positive, True))
        for mode, deliverable in plans:
            try:
                fuzz(operation, mode, deliverable, examples)
            except Exception as exc:  # noqa: BLE001 - every operation runs; all failures shown
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    created = stack.subscription_count(api.id) - before
    record_property("cases", sum(cases.values()))
    record_property("statuses", dict(statuses))
    print(
        f"\n[{stack.name}, part {part}] schemathesis: {sum(cases.values())} cases over "
        f"{len(cases)} "
        f"operation/mode pairs, statuses {dict(statuses)}, {created} created"
    )
    # Every operation of the document ran with valid data (and, where it has any input to
    # break, with invalid data); POSTs with a deliverable address too.
    operations = {operation.label for operation in mine}
    assert {label.rsplit(" ", 1)[0] for label in cases if label.endswith(" positive")} == (
        fuzzed
    ), (cases, failures)
    sparse = {op.label for op in mine if SPARSE_TAGS & set(op.tags or ())}
    assert fuzzed == (operations if stack.name == "embedded" else operations - sparse)
    assert not failures, "\n\n".join(failures)
    assert not [status for status in statuses if isinstance(status, int) and status >= 500]
    if any(op.method.upper() == "POST" and op.path in SUBSCRIBING for op in mine):
        assert statuses[201] > 0  # the deliverable runs reached the database
    # Only a 201 may have saved anything (an Idempotency-Key replay saves nothing new).
    assert created == statuses[201]
    # Whatever was accepted can be mailed: no recipient is stuck or failed on odd field values.
    if created:
        eventually(lambda: mail_statuses(stack, api.id) == {"sent"}, timeout=60)


# --- response links ------------------------------------------------------------------------

TOKEN_CHARS = string.ascii_letters + string.digits + "-_."
HOSTILE_CHARS = TOKEN_CHARS + "%~!'*()=+ \"<>\\é\x00"


def mutated(original: str) -> st.SearchStrategy[str]:
    """``original`` with one character flipped, inserted or deleted, or cut short, or doubled."""
    size = len(original)
    index = st.integers(0, size - 1)
    char = st.sampled_from(HOSTILE_CHARS)
    return st.one_of(
        st.tuples(index, char)
        .filter(lambda ic: original[ic[0]] != ic[1])
        .map(lambda ic: original[: ic[0]] + ic[1] + original[ic[0] + 1 :]),
        st.tuples(st.integers(0, size), char).map(
            lambda ic: original[: ic[0]] + ic[1] + original[ic[0] :]
        ),
        index.map(lambda i: original[:i] + original[i + 1 :]),
        index.map(lambda i: original[:i]),
        st.just(original + original),
        st.tuples(index, index).map(
            lambda ij: original[: min(ij)] + original[max(ij) :] + original[min(ij) : max(ij)]
        ),
    )


def option_values() -> st.SearchStrategy[str]:
    """Option numbers, in and out of range, and things that are not numbers (ASCII only)."""
    return st.one_of(
        st.integers(-3, 12).map(str),
        st.integers(min_value=10**5, max_value=10**30).map(str),
        st.sampled_from(["", " 1", "1 ", "+1", "-0", "01", "1.0", "1e0", "0x1", "١"]),
        st.text(alphabet=string.printable, max_size=8),
    )


def test_mutated_response_links_are_never_accepted(
    stack: Stack,
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
    record_property: Callable[[str, object], None],
) -> None:
    path = receiver.new_path()
    created = api.subscribe(address, receiver.url(path), Options="Approve, Reject, Defer")
    link = option_links(smtp.wait_for(address)[0])[1]
    action, token = link.split("?")[0], link.split("/respond/")[1].split("?")[0]
    form = confirm_form(httpx.get(link).text)
    links = Links(stack.env["APPROVALS_SECRET_KEY"])
    target = links.read_response_token(token)
    seen: Counter[str] = Counter()

    def same_link(candidate: str) -> bool:
        """True for the rare spelling that decodes to the same link (base64 padding bits)."""
        try:
            return links.read_response_token(candidate) == target
        except InvalidToken:
            return False

    def same_form(candidate_token: str, nonce: str, option: str) -> bool:
        """True for the real form, however spelled: "01" or "١" (Arabic-Indic one) is option 1."""
        try:
            number = int(option) if option.isdigit() and len(option) < 6 else None
        except ValueError:
            return False
        if number is None:
            return False
        try:
            links.check_confirm_nonce(nonce, candidate_token, number)
        except InvalidToken:
            return False
        return same_link(candidate_token)

    with httpx.Client(base_url=stack.base_url, timeout=20) as client:

        @bounded(MUTATION_EXAMPLES)
        @given(
            candidate=st.one_of(mutated(token), st.just(token)),
            option=st.one_of(st.just("1"), option_values()),
            nonce=st.one_of(st.just(form["nonce"]), mutated(form["nonce"])),
            comment=st.text(max_size=50),
        )
        def probe(candidate: str, option: str, nonce: str, comment: str) -> None:
            # The unchanged form (or one that means the same) is a real answer, not a mutation.
            assume(not same_form(candidate, nonce, option))
            url = f"/respond/{quote(candidate, safe='')}"
            page = client.get(url, params={"option": option})
            seen[f"GET {page.status_code}"] += 1
            assert page.status_code < 500, (candidate, option, page.text[:300])
            if page.status_code == 200:
                assert same_link(candidate), (candidate, option)
            posted = client.post(url, data={"option": option, "nonce": nonce, "comment": comment})
            seen[f"POST {posted.status_code}"] += 1
            assert posted.status_code < 500, (candidate, option, nonce, posted.text[:300])
            assert posted.status_code != 200, (candidate, option, nonce)

        probe()

    record_property("answers", dict(seen))
    print(f"\n[{stack.name}] token mutations: {sum(seen.values()) // 2} examples, {dict(seen)}")
    state = api.state(created["id"])
    assert state["status"] == "pending" and state["response"] is None and state["delivery"] is None
    # The untouched form still works: the probes above were refused for what they changed.
    assert httpx.post(action, data=form).status_code == 200
    assert api.state(created["id"])["response"]["SelectedOption"] == "Reject"
    assert len(receiver.wait_for(path)) == 1


@pytest.mark.parametrize("option", ["²", "①"])
def test_option_spelled_with_a_non_decimal_digit_is_a_clean_400(
    api: ApiUser, smtp: SmtpSink, hook: str, address: str, option: str
) -> None:
    api.subscribe(address, hook)
    link = option_links(smtp.wait_for(address)[0])[0]
    form = confirm_form(httpx.get(link).text)
    page = httpx.get(link.split("?")[0], params={"option": option})
    posted = httpx.post(link.split("?")[0], data={**form, "option": option})
    assert (page.status_code, posted.status_code) == (400, 400)


# --- oversized and deeply nested JSON ------------------------------------------------------


def nested(depth: int, hook: str, to: str, opener: str = "[", closer: str = "]") -> bytes:
    inner = opener * depth + ("1" if opener != "[" else "") + closer * depth
    return (
        f'{{"NotificationUrl": "{hook}", "Message": {{"To": "{to}"}}, "Extra": {inner}}}'
    ).encode()


@pytest.mark.parametrize("shape", ["arrays", "objects", "message"])
def test_very_deep_json_is_a_400_and_saves_nothing(
    stack: Stack, api: ApiUser, hook: str, address: str, shape: str
) -> None:
    before = stack.subscription_count(api.id)
    if shape == "arrays":
        raw = nested(100_000, hook, address)
    elif shape == "objects":
        raw = nested(50_000, hook, address, '{"a":', "}")
    else:
        raw = (
            f'{{"NotificationUrl": "{hook}", "Message": {{"To": "{address}", "Attachments": '
            + "[" * 200_000
            + "]" * 200_000
            + "}}"
        ).encode()
    error = assert_refused(post_raw(api, raw), 400)
    assert error["code"] == "malformed_json"
    assert stack.subscription_count(api.id) == before


def test_json_nested_just_under_the_parser_limit_is_never_a_500(
    stack: Stack, api: ApiUser, hook: str, address: str
) -> None:
    """Every depth up to the limit is accepted and stored, every depth past it refused with
    nothing stored; no depth in between gives anything else (a 500 was found here)."""
    before = stack.subscription_count(api.id)
    answered: list[httpx.Response] = []

    def status(depth: int) -> int:
        answered.append(post_raw(api, nested(depth, hook, address)))
        return answered[-1].status_code

    # The smallest depth the parser refuses, found by bisection (a 500 counts as parsed).
    low, high = 1, 5000
    assert status(high) == 400
    while high - low > 1:
        middle = (low + high) // 2
        if status(middle) == 400:
            high = middle
        else:
            low = middle
    answers = {depth: status(depth) for depth in range(high - 12, high + 3)}
    assert answers == {depth: 201 if depth < high else 400 for depth in answers}, answers
    for response in answered:
        if response.status_code == 400:
            assert assert_refused(response, 400)["code"] == "malformed_json"
    created = [response.json()["id"] for response in answered if response.status_code == 201]
    assert stack.subscription_count(api.id) - before == len(created)
    deepest = api.state(created[-1])
    assert deepest["notificationUrl"] == hook
    assert [r["address"] for r in deepest["recipients"]] == [address]


LIMIT = 10 * 1024 * 1024  # APPROVALS_MAX_REQUEST_BYTES default


def over_the_limit(hook: str, address: str, valid_prefix: bool) -> bytes:
    """A body over the limit; with ``valid_prefix`` its first LIMIT bytes are valid JSON."""
    if valid_prefix:
        document = json.dumps({"NotificationUrl": hook, "Message": {"To": address}}).encode()
        return document + b" " * (LIMIT - len(document)) + b"garbage" * 1000
    message = {"To": address, "Body": "x" * (LIMIT + 1024)}
    return json.dumps({"NotificationUrl": hook, "Message": message}).encode()


def test_body_over_the_size_limit_is_a_413(
    stack: Stack, api: ApiUser, hook: str, address: str
) -> None:
    before = stack.subscription_count(api.id)
    for valid_prefix in (False, True):
        response = post_raw(api, over_the_limit(hook, address, valid_prefix))
        assert assert_refused(response, 413)["code"] == "payload_too_large"
    assert stack.subscription_count(api.id) == before


@pytest.mark.parametrize("valid_prefix", [False, True], ids=["truncated-json", "valid-prefix"])
def test_chunked_body_over_the_size_limit_is_a_413(
    stack: Stack, api: ApiUser, hook: str, address: str, valid_prefix: bool
) -> None:
    before = stack.subscription_count(api.id)
    big = over_the_limit(hook, address, valid_prefix)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 256 * 1024):
            yield big[start : start + 256 * 1024]

    response = api.http.post(
        APPROVAL, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code < 500
    assert stack.subscription_count(api.id) == before
    assert assert_refused(response, 413)["code"] == "payload_too_large"


def option_list(count: int, total_bytes: int) -> str:
    each = max(1, total_bytes // count - 2)
    return ", ".join(f"{i:07d}" + "x" * max(0, each - 7) for i in range(count))


@pytest.mark.parametrize(
    ("count", "size", "expected"),
    [
        pytest.param(1_000_000, 11_000_000, 413, id="11MB-1M-options"),
        pytest.param(900_000, 9_900_000, 422, id="9.9MB-900k-options"),
        pytest.param(101, 9_900_000, 422, id="9.9MB-101-options"),
        pytest.param(
            100,
            9_900_000,
            422,
            id="9.9MB-100-options",
        ),
    ],
)
def test_megabytes_of_options_are_refused_never_a_500(
    stack: Stack, api: ApiUser, hook: str, address: str, count: int, size: int, expected: int
) -> None:
    before = stack.subscription_count(api.id)
    options = option_list(count, size)
    raw = json.dumps({"NotificationUrl": hook, "Message": {"To": address, "Options": options}})
    assert abs(len(raw) - size) < size * 0.05
    response = post_raw(api, raw.encode())
    assert response.status_code < 500, response.text[:300]
    assert response.status_code == expected, response.text[:300]
    assert stack.subscription_count(api.id) == before


# --- CR/LF in mail headers -----------------------------------------------------------------

INJECTIONS = ["\r\n", "\n", "\r", "\r\n ", "\r\n\r\n", "\u2028", "\x85"]


def words(text: str) -> list[str]:
    """The text split at any whitespace (line breaks included), as folding leaves it."""
    return text.split()


@pytest.mark.parametrize("newline", INJECTIONS, ids=[repr(n) for n in INJECTIONS])
def test_line_breaks_in_the_subject_cannot_add_headers_or_recipients(
    api: ApiUser, smtp: SmtpSink, hook: str, address: str, newline: str
) -> None:
    """Accepted and stored as sent; in the mail the line breaks are spaces, so the text stays
    in the Subject header and the attachment's file name, and starts no header of its own."""
    hidden = address.replace("person-", "bcc-")
    subject = f"Deploy?{newline}Bcc: {hidden}{newline}X-Injected: yes"
    name = f"notes.txt{newline}Bcc: {hidden}"
    response = api.http.post(
        APPROVAL,
        json={
            "NotificationUrl": hook,
            "Message": {
                "To": address,
                "Subject": subject,
                "Attachments": [{"Name": name, "ContentBytes": "aGk="}],
            },
        },
    )
    assert response.status_code == 201, response.text
    stored = api.state(response.json()["id"])["message"]
    assert stored["Subject"] == subject
    assert stored["Attachments"] == [{"Name": name}]
    message = smtp.wait_for(address)[0]
    assert message.get_all("Subject") and len(message.get_all("Subject")) == 1
    assert words(str(message["Subject"])) == words(subject)
    assert message.get_all("Bcc") is None and message.get_all("X-Injected") is None
    assert len(message.get_all("To")) == 1 and message["To"] == address
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    [attachment] = list(message.iter_attachments())
    assert words(attachment.get_filename()) == words(name)
    assert attachment.get_content() == b"hi"
    assert smtp.messages_for(hidden) == []
    headers = message.as_bytes().split(b"\r\n\r\n", 1)[0].split(b"\n\r\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\nX-Injected:" not in headers


@pytest.mark.parametrize(
    "to",
    [
        "{a}\r\nBcc: {b}",
        "{a}\nBcc: {b}",
        "{a}\rBcc: {b}",
        "Ann <{a}>\r\nBcc: {b}",
        "{a}%0d%0aBcc: {b}",
    ],
)
def test_line_breaks_in_to_are_a_400_and_save_nothing(
    stack: Stack, api: ApiUser, smtp: SmtpSink, hook: str, address: str, to: str
) -> None:
    hidden = address.replace("person-", "bcc-")
    before = stack.subscription_count(api.id)
    response = api.http.post(
        APPROVAL,
        json={"NotificationUrl": hook, "Message": {"To": to.format(a=address, b=hidden)}},
    )
    error = assert_refused(response, 400)
    assert error["code"] == "invalid_address" and error["field"] == "Message.To"
    assert stack.subscription_count(api.id) == before
    assert smtp.messages_for(hidden) == [] and smtp.messages_for(address) == []


# --- bodies that are not UTF-8 -------------------------------------------------------------


def valid_body(hook: str, address: str, subject: str = "Ready?") -> str:
    return json.dumps(
        {"NotificationUrl": hook, "Message": {"To": address, "Subject": subject}},
        ensure_ascii=False,
    )


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.encode("latin-1"), id="latin-1"),
        pytest.param(lambda text: text.encode("cp1252"), id="cp1252"),
        pytest.param(lambda text: text.encode("utf-8")[:-3] + b'\xff\xfe"}}', id="stray-ff-fe"),
        pytest.param(
            lambda text: text.replace("Ready?", "Ready\udcff").encode("utf-8", "surrogateescape"),
            id="lone-byte",
        ),
        pytest.param(lambda text: text.replace("é", "\xc0\xa9").encode("latin-1"), id="overlong"),
        pytest.param(lambda text: text.encode("utf-8")[:-4] + b"\xe2\x82", id="truncated"),
        pytest.param(lambda text: text.encode("utf-16"), id="utf-16"),
        pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(lambda text: text.encode("utf-32"), id="utf-32"),
        pytest.param(
            lambda text: text.replace('"Subject"', '"X": "\ud800", "Subject"').encode(
                "utf-8", "surrogatepass"
            ),
            id="utf-8-encoded-surrogate",
        ),
    ],
)
def test_bodies_that_are_not_utf8_are_a_400_and_save_nothing(
    stack: Stack, api: ApiUser, hook: str, address: str, encode: Callable[[str], bytes]
) -> None:
    before = stack.subscription_count(api.id)
    raw = encode(valid_body(hook, address, subject="Ready? é"))
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        pytest.fail(f"the test body is valid UTF-8: {raw[:80]!r}")
    error = assert_refused(post_raw(api, raw), 400)
    assert error["code"] == "malformed_json"
    assert stack.subscription_count(api.id) == before


# --- NUL characters ------------------------------------------------------------------------


def test_nul_in_a_comment_is_dropped_and_the_rest_recorded(
    api: ApiUser,
    smtp: SmtpSink,
    receiver: CallbackReceiver,
    address: str,
) -> None:
    """PostgreSQL text cannot hold NUL: the page drops it and records the rest of the comment,
    and the callback carries what was recorded."""
    path = receiver.new_path()
    created = api.subscribe(address, receiver.url(path))
    link = option_links(smtp.wait_for(address)[0])[0]
    form = confirm_form(httpx.get(link).text)
    posted = httpx.post(link.split("?")[0], data={**form, "comment": "before\x00after"})
    assert posted.status_code == 200, posted.text[:300]
    state = api.state(created["id"])
    assert state["status"] == "completed"
    assert state["response"]["SelectedOption"] == "Approve"
    assert state["response"]["Comment"] == "beforeafter"
    [callback] = receiver.wait_for(path)
    assert json.loads(callback.body)["Comment"] == "beforeafter"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"Options": "Go\x00on, Stop"}, id="option"),
        pytest.param({"Subject": "Ready\x00?"}, id="subject"),
        pytest.param({"Body": "line\x00"}, id="body"),
        pytest.param({"HeaderText": "\x00"}, id="header-text"),
        pytest.param({"SelectionText": "pick\x00one"}, id="selection-text"),
        pytest.param({"Attachments": [{"Name": "a\x00.txt", "ContentBytes": "aGk="}]}, id="file"),
        pytest.param({"Unknown": "ignored\x00field"}, id="ignored-field"),
    ],
)
def test_nul_anywhere_in_a_request_is_a_400_and_saves_nothing(
    stack: Stack, api: ApiUser, hook: str, address: str, message: dict[str, object]
) -> None:
    before = stack.subscription_count(api.id)
    response = api.http.post(
        APPROVAL, json={"NotificationUrl": hook, "Message": {"To": address, **message}}
    )
    error = assert_refused(response, 400)
    assert error["code"] == "invalid_characters", error
    assert stack.subscription_count(api.id) == before
