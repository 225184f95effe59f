"""The Graph stand-in behaves as Microsoft documents Graph and the identity platform.

The real MSAL acquires tokens from it (secret and certificate), httpx talks to it over TLS with
the stand-in's CA, and each documented behaviour the Graph backend relies on is checked here:
paging by ``@odata.nextLink``, ``$filter``, errors, throttling, sending, replies, large
attachments, calendar view and contacts.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import msal
import pytest
import requests

from tests.support.graph import GraphStandIn, encode_id
from tests.support.graph.identity import make_client_certificate

SCOPE = ["https://graph.microsoft.com/.default"]
ALICE = "alice@contoso.example"
BOB = "bob@contoso.example"


def session_for(graph: GraphStandIn) -> requests.Session:
    """A requests session trusting the stand-in's CA.

    ``trust_env`` is off because requests lets ``REQUESTS_CA_BUNDLE`` override a session's
    ``verify`` (and with it MSAL's ``verify=`` argument).
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = graph.ca_bundle_path
    return session


def confidential_app(
    graph: GraphStandIn, client_id: str, credential: object
) -> msal.ClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=graph.authority,
        instance_discovery=False,
        http_client=session_for(graph),
    )


@pytest.fixture
def token(graph: GraphStandIn) -> str:
    app = graph.register_app(secret="a-secret")
    result = confidential_app(graph, app.client_id, "a-secret").acquire_token_for_client(SCOPE)
    return str(result["access_token"])


@pytest.fixture
def client(graph: GraphStandIn, token: str) -> Iterator[httpx.Client]:
    graph.add_mailbox(ALICE, "Alice")
    graph.add_mailbox(BOB, "Bob")
    with httpx.Client(
        base_url=graph.graph_url,
        verify=graph.ssl_context(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as http:
        yield http


def all_pages(http: httpx.Client, url: str, **params: str) -> list[list[dict]]:
    pages = []
    response = http.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["value"])
        if "@odata.nextLink" not in body:
            return pages
        response = http.get(body["@odata.nextLink"])


def graph_error(response: httpx.Response) -> dict:
    error = response.json()["error"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    return error


# -- identity ----------------------------------------------------------------------------------


def test_msal_makes_the_two_documented_requests_then_serves_from_its_cache(
    graph: GraphStandIn,
) -> None:
    app = graph.register_app(secret="s3cret")
    msal_app = confidential_app(graph, app.client_id, "s3cret")

    first = msal_app.acquire_token_for_client(SCOPE)
    second = msal_app.acquire_token_for_client(SCOPE)

    assert first["token_type"] == "Bearer" and first["expires_in"] == 3599
    assert first["token_source"] == "identity_provider"
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]
    assert [(r.method, r.path) for r in graph.requests("identity")] == [
        ("GET", f"/{graph.tenant_id}/v2.0/.well-known/openid-configuration"),
        ("POST", f"/{graph.tenant_id}/oauth2/v2.0/token"),
    ]
    assert len(graph.token_requests) == 1
    assert b"s3cret" not in graph.requests("identity")[1].body  # credentials stay out of logs


def test_discovery_document_points_at_the_stand_in(graph: GraphStandIn) -> None:
    url = f"{graph.authority}/v2.0/.well-known/openid-configuration"
    document = httpx.get(url, verify=graph.ssl_context()).json()

    assert document["token_endpoint"] == graph.token_endpoint
    assert document["issuer"] == f"{graph.authority}/v2.0"
    assert document["authorization_endpoint"].startswith(graph.base_url)
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    unknown = httpx.get(
        f"{graph.base_url}/no-such-tenant/v2.0/.well-known/openid-configuration",
        verify=graph.ssl_context(),
    )
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


@pytest.mark.parametrize("form", ["sha1 thumbprint (RS256, x5t)", "certificate (PS256, x5t#S256)"])
def test_msal_gets_a_token_with_a_certificate(graph: GraphStandIn, form: str) -> None:
    certificate = make_client_certificate()
    app = graph.register_app(certificate_pem=certificate.certificate_pem)
    credential: dict[str, str] = {"private_key": certificate.private_key_pem.decode()}
    if form.startswith("sha1"):
        credential["thumbprint"] = certificate.sha1_thumbprint
    else:
        credential["public_certificate"] = certificate.certificate_pem.decode()

    result = confidential_app(graph, app.client_id, credential).acquire_token_for_client(SCOPE)

    assert result.get("token_type") == "Bearer", result
    assert graph.token_requests[-1].credential == "certificate"


def test_an_unregistered_certificate_is_refused(graph: GraphStandIn) -> None:
    app = graph.register_app(certificate_pem=make_client_certificate().certificate_pem)
    other = make_client_certificate()
    credential = {
        "private_key": other.private_key_pem.decode(),
        "thumbprint": other.sha1_thumbprint,
    }

    result = confidential_app(graph, app.client_id, credential).acquire_token_for_client(SCOPE)

    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]


def post_assertion(graph: GraphStandIn, client_id: str, claims: dict, key: bytes, thumb: str):
    assertion = jwt.encode(
        claims,
        key,
        algorithm="RS256",
        headers={"x5t": base64.urlsafe_b64encode(bytes.fromhex(thumb)).decode().rstrip("=")},
    )
    return httpx.post(
        graph.token_endpoint,
        verify=graph.ssl_context(),
        data={
            "client_id": client_id,
            "scope": SCOPE[0],
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def test_a_client_assertion_is_checked_for_audience_issuer_and_expiry(graph: GraphStandIn) -> None:
    certificate = make_client_certificate()
    app = graph.register_app(certificate_pem=certificate.certificate_pem)
    moment = int(time.time())
    good = {
        "aud": graph.token_endpoint,
        "iss": app.client_id,
        "sub": app.client_id,
        "jti": str(uuid.uuid4()),
        "nbf": moment,
        "exp": moment + 600,
    }
    key, thumb = certificate.private_key_pem, certificate.sha1_thumbprint

    assert post_assertion(graph, app.client_id, good, key, thumb).status_code == 200
    for change, code in [
        ({"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"}, 50013),
        ({"iss": "someone-else"}, 50013),
        ({"sub": "someone-else"}, 50013),
        ({"exp": moment - 3600, "nbf": moment - 4000}, 700024),
    ]:
        response = post_assertion(graph, app.client_id, {**good, **change}, key, thumb)
        assert response.status_code == 401, change
        assert response.json()["error"] == "invalid_client"
        assert response.json()["error_codes"] == [code], change


def test_token_endpoint_errors_are_the_documented_ones(graph: GraphStandIn) -> None:
    app = graph.register_app(secret="right")

    wrong_secret = confidential_app(graph, app.client_id, "wrong").acquire_token_for_client(SCOPE)
    unknown_app = confidential_app(graph, str(uuid.uuid4()), "x").acquire_token_for_client(SCOPE)
    bad_scope = confidential_app(graph, app.client_id, "right").acquire_token_for_client(
        ["https://graph.microsoft.com/Mail.Send"]
    )

    assert wrong_secret["error"] == "invalid_client"
    assert wrong_secret["error_codes"] == [7000215]
    assert wrong_secret["error_description"].startswith("AADSTS7000215:")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(wrong_secret)
    assert unknown_app["error"] == "unauthorized_client"
    assert unknown_app["error_codes"] == [700016]
    assert bad_scope["error"] == "invalid_scope" and bad_scope["error_codes"] == [70011]


def test_msal_asks_again_when_the_token_lifetime_is_short(graph: GraphStandIn) -> None:
    graph.set_token_lifetime(60)  # MSAL renews a token that expires within 5 minutes
    app = graph.register_app(secret="s")
    msal_app = confidential_app(graph, app.client_id, "s")

    msal_app.acquire_token_for_client(SCOPE)
    msal_app.acquire_token_for_client(SCOPE)

    assert len(graph.token_requests) == 2


# -- Graph: authentication and errors ----------------------------------------------------------


def test_graph_answers_401_without_a_valid_token(graph: GraphStandIn, token: str) -> None:
    graph.add_mailbox(ALICE)
    url = f"{graph.graph_url}/users/{ALICE}/messages"
    with httpx.Client(verify=graph.ssl_context()) as http:
        missing = http.get(url)
        forged = http.get(url, headers={"Authorization": "Bearer not-a-token"})
        graph.expire_tokens()
        expired = http.get(url, headers={"Authorization": f"Bearer {token}"})

    for response in (missing, forged, expired):
        assert response.status_code == 401
        assert graph_error(response)["code"] == "InvalidAuthenticationToken"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert graph_error(expired)["message"] == "Lifetime validation failed, the token is expired."


def test_unknown_user_other_mailboxes_ids_and_me_are_refused(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    bobs = graph.deliver(BOB, subject="for Bob")

    unknown = client.get("/users/nobody@contoso.example/messages")
    foreign = client.get(f"/users/{ALICE}/messages/{encode_id(bobs['id'])}")
    me = client.get("/me/messages")
    by_name = client.get(f"/users/{ALICE}").json()
    by_id = client.get(f"/users/{by_name['id']}/messages")

    assert unknown.status_code == 404 and graph_error(unknown)["code"] == "ErrorInvalidUser"
    assert foreign.status_code == 404 and graph_error(foreign)["code"] == "ErrorItemNotFound"
    assert me.status_code == 400  # app-only: there is no signed-in user
    assert by_name["userPrincipalName"] == ALICE and by_id.status_code == 200


def test_request_log_keeps_headers_but_not_the_token(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    assert graph.requests() == []

    client.get(
        f"/users/{ALICE}/messages", params={"$top": "1"}, headers={"client-request-id": "c1"}
    )

    (logged,) = graph.requests()
    assert logged.method == "GET" and logged.path == f"/v1.0/users/{ALICE}/messages"
    assert logged.query == {"$top": "1"} and logged.status == 200
    assert "authorization" not in logged.headers and logged.headers["client-request-id"] == "c1"
    assert logged.mailbox == ALICE


# -- listing -----------------------------------------------------------------------------------


def test_listing_pages_by_next_link_with_the_default_size_of_ten(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    for number in range(23):
        graph.deliver(ALICE, subject=f"message {number}")

    pages = all_pages(client, f"/users/{ALICE}/messages")

    assert [len(page) for page in pages] == [10, 10, 3]
    subjects = [m["subject"] for page in pages for m in page]
    assert subjects == [f"message {n}" for n in range(22, -1, -1)]  # newest first


def test_a_client_following_next_links_gets_everything_from_short_pages(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    for number in range(12):
        graph.deliver(ALICE, subject=f"message {number}")
    graph.cap_page_size(5)

    pages = all_pages(client, f"/users/{ALICE}/mailFolders/inbox/messages", **{"$top": "50"})

    assert [len(page) for page in pages] == [5, 5, 2]
    assert len({m["id"] for page in pages for m in page}) == 12
    next_link = client.get(
        f"/users/{ALICE}/messages", params={"$top": "50", "$select": "subject"}
    ).json()["@odata.nextLink"]
    assert next_link.startswith(f"{graph.graph_url}/users/{ALICE}/messages?")
    assert "$top=50" in next_link and "$select=subject" in next_link and "$skip=5" in next_link


def test_filter_select_and_orderby(graph: GraphStandIn, client: httpx.Client) -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)
    graph.deliver(ALICE, subject="old", received=day - timedelta(days=10), sender="a@x.example")
    graph.deliver(ALICE, subject="read", is_read=True, received=day, sender="b@x.example")
    graph.deliver(ALICE, subject="urgent", importance="high", received=day, sender="a@x.example")
    graph.deliver(ALICE, subject="file", attachments=[("a.txt", b"hi", "text/plain")], received=day)

    def subjects(expression: str, **extra: str) -> list[str]:
        response = client.get(f"/users/{ALICE}/messages", params={"$filter": expression, **extra})
        assert response.status_code == 200, response.text
        return sorted(m["subject"] for m in response.json()["value"])

    assert subjects("isRead eq false") == ["file", "old", "urgent"]
    assert subjects("hasAttachments eq true") == ["file"]
    assert subjects("importance eq 'high'") == ["urgent"]
    assert subjects("from/emailAddress/address eq 'A@x.example'") == ["old", "urgent"]
    assert subjects("receivedDateTime ge 2026-02-25T00:00:00Z and isRead eq false") == [
        "file",
        "urgent",
    ]
    assert subjects("toRecipients/any(r: r/emailAddress/address eq 'alice@contoso.example')") == [
        "file",
        "old",
        "read",
        "urgent",
    ]
    assert subjects("contains(subject, 'RGEN') or startswith(subject, 'fi')") == ["file", "urgent"]
    ordered = client.get(
        f"/users/{ALICE}/messages",
        params={
            "$filter": "receivedDateTime ge 2026-01-01T00:00:00Z",
            "$orderby": "receivedDateTime desc",
            "$select": "subject,receivedDateTime",
        },
    ).json()["value"]
    assert set(ordered[0]) == {"@odata.etag", "id", "subject", "receivedDateTime"}
    assert ordered[-1]["subject"] == "old"


def test_bad_queries_get_graphs_error_shape(graph: GraphStandIn, client: httpx.Client) -> None:
    url = f"/users/{ALICE}/messages"

    malformed = client.get(url, params={"$filter": "isRead eq"})
    unknown = client.get(url, params={"$filter": "colour eq 'red'"})
    inefficient = client.get(
        url, params={"$filter": "isRead eq false", "$orderby": "receivedDateTime desc"}
    )
    bad_top = client.get(url, params={"$top": "many"})

    assert malformed.status_code == 400 and graph_error(malformed)["code"] == "BadRequest"
    assert "Invalid filter clause" in graph_error(malformed)["message"]
    assert unknown.status_code == 400 and "colour" in graph_error(unknown)["message"]
    assert inefficient.status_code == 400
    assert graph_error(inefficient)["code"] == "InefficientFilter"
    assert bad_top.status_code == 400


# -- one message -------------------------------------------------------------------------------


def test_ids_hold_slash_plus_and_equals_and_work_percent_encoded(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    message = graph.deliver(ALICE, subject="tricky id")
    identifier = message["id"]
    assert "/" in identifier and "+" in identifier and identifier.endswith("=")

    fetched = client.get(f"/users/{ALICE}/messages/{encode_id(identifier)}")
    unencoded = client.get(f"/users/{ALICE}/messages/{identifier}")

    assert fetched.status_code == 200 and fetched.json()["id"] == identifier
    assert unencoded.status_code in (400, 404)


def test_patch_marks_read_and_delete_removes(graph: GraphStandIn, client: httpx.Client) -> None:
    message = graph.deliver(ALICE, subject="to read")
    path = f"/users/{ALICE}/messages/{encode_id(message['id'])}"

    patched = client.patch(path, json={"isRead": True})
    sent_subject = client.patch(path, json={"subject": "changed"})
    deleted = client.delete(path)

    assert patched.status_code == 200 and patched.json()["isRead"] is True
    assert sent_subject.status_code == 400  # content of a received message is read-only
    assert deleted.status_code == 204
    assert client.get(path).status_code == 404


def test_move_gives_a_new_id_unless_immutable_ids_are_asked_for(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    message = graph.deliver(ALICE, subject="keep")
    assert graph.mailbox(ALICE).message(message["id"])["id"] == message["id"]
    immutable = {"Prefer": 'IdType="ImmutableId"'}
    stable_id = client.get(f"/users/{ALICE}/messages/{encode_id(message['id'])}", headers=immutable)
    assert stable_id.headers["Preference-Applied"] == 'IdType="ImmutableId"'
    stable = stable_id.json()["id"]

    moved = client.post(
        f"/users/{ALICE}/messages/{encode_id(message['id'])}/move",
        json={"destinationId": "archive"},
    )

    assert moved.status_code == 201 and moved.json()["id"] != message["id"]
    assert client.get(f"/users/{ALICE}/messages/{encode_id(message['id'])}").status_code == 404
    after = client.get(f"/users/{ALICE}/messages/{encode_id(stable)}", headers=immutable)
    assert after.status_code == 200 and after.json()["id"] == stable
    archive = client.get(f"/users/{ALICE}/mailFolders/archive").json()
    assert after.json()["parentFolderId"] == archive["id"]


# -- sending -----------------------------------------------------------------------------------


def test_send_mail_saves_to_sent_items_and_delivers_to_a_registered_recipient(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    content = b"%PDF-1.7 tiny"
    response = client.post(
        f"/users/{ALICE}/sendMail",
        json={
            "message": {
                "subject": "Approve?",
                "importance": "high",
                "body": {"contentType": "HTML", "content": "<p>Please <b>approve</b></p>"},
                "toRecipients": [{"emailAddress": {"address": BOB, "name": "Bob"}}],
                "ccRecipients": [{"emailAddress": {"address": "carol@elsewhere.example"}}],
                "bccRecipients": [{"emailAddress": {"address": "audit@elsewhere.example"}}],
                "attachments": [
                    {
                        "@odata.type": "#microsoft.graph.fileAttachment",
                        "name": "terms.pdf",
                        "contentType": "application/pdf",
                        "contentBytes": base64.b64encode(content).decode(),
                    }
                ],
            }
        },
    )

    assert response.status_code == 202 and response.content == b""
    (sent,) = client.get(f"/users/{ALICE}/mailFolders/sentitems/messages").json()["value"]
    assert sent["subject"] == "Approve?" and sent["isDraft"] is False
    assert sent["bccRecipients"][0]["emailAddress"]["address"] == "audit@elsewhere.example"
    (received,) = client.get(
        f"/users/{BOB}/mailFolders/inbox/messages",
        headers={"Prefer": 'outlook.body-content-type="text"'},
    ).json()["value"]
    assert received["isRead"] is False and received["importance"] == "high"
    assert received["from"]["emailAddress"]["address"] == ALICE
    assert received["bccRecipients"] == [] and received["hasAttachments"] is True
    assert received["body"] == {"contentType": "text", "content": "Please approve"}
    attachments = client.get(
        f"/users/{BOB}/messages/{encode_id(received['id'])}/attachments"
    ).json()["value"]
    assert base64.b64decode(attachments[0]["contentBytes"]) == content
    assert [mail.recipients for mail in graph.sent] == [
        [BOB, "carol@elsewhere.example", "audit@elsewhere.example"]
    ]


def test_save_to_sent_items_false_keeps_nothing_and_no_recipient_is_an_error(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    kept = client.post(
        f"/users/{ALICE}/sendMail",
        json={
            "message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": BOB}}]},
            "saveToSentItems": False,
        },
    )
    nobody = client.post(f"/users/{ALICE}/sendMail", json={"message": {"subject": "y"}})

    assert kept.status_code == 202
    assert client.get(f"/users/{ALICE}/mailFolders/sentitems/messages").json()["value"] == []
    assert nobody.status_code == 400 and graph_error(nobody)["code"] == "ErrorInvalidRecipients"


def test_reply_goes_to_the_sender_in_the_same_conversation(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    client.post(
        f"/users/{BOB}/sendMail",
        json={
            "message": {"subject": "Lunch", "toRecipients": [{"emailAddress": {"address": ALICE}}]}
        },
    )
    (original,) = client.get(f"/users/{ALICE}/messages").json()["value"]

    replied = client.post(
        f"/users/{ALICE}/messages/{encode_id(original['id'])}/reply", json={"comment": "Yes!"}
    )

    assert replied.status_code == 202
    inbox = client.get(f"/users/{BOB}/mailFolders/inbox/messages").json()["value"]
    assert [m["subject"] for m in inbox] == ["RE: Lunch"]
    assert inbox[0]["conversationId"] == original["conversationId"]
    assert "Yes!" in inbox[0]["body"]["content"]


def test_create_reply_all_then_send_the_draft(graph: GraphStandIn, client: httpx.Client) -> None:
    client.post(
        f"/users/{BOB}/sendMail",
        json={
            "message": {
                "subject": "Plan",
                "toRecipients": [
                    {"emailAddress": {"address": ALICE}},
                    {"emailAddress": {"address": "dan@elsewhere.example"}},
                ],
            }
        },
    )
    (original,) = client.get(f"/users/{ALICE}/messages").json()["value"]

    draft = client.post(f"/users/{ALICE}/messages/{encode_id(original['id'])}/createReplyAll")
    assert draft.status_code == 201 and draft.json()["isDraft"] is True
    to = [r["emailAddress"]["address"] for r in draft.json()["toRecipients"]]
    assert to == [BOB, "dan@elsewhere.example"]
    sent = client.post(f"/users/{ALICE}/messages/{encode_id(draft.json()['id'])}/send")

    assert sent.status_code == 202
    assert client.get(f"/users/{ALICE}/mailFolders/drafts/messages").json()["value"] == []
    assert graph.sent[-1].recipients == [BOB, "dan@elsewhere.example"]


def test_large_attachment_goes_up_in_ranges_through_an_upload_session(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    draft = client.post(f"/users/{ALICE}/messages", json={"subject": "big"}).json()
    content = bytes(range(256)) * (14 * 1024)  # 3.5 MiB
    path = f"/users/{ALICE}/messages/{encode_id(draft['id'])}/attachments"
    too_small = client.post(
        f"{path}/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "s.bin", "size": 1000}},
    )
    session = client.post(
        f"{path}/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "b.bin", "size": len(content)}},
    )
    assert too_small.status_code == 400
    assert graph_error(too_small)["code"] == "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize"
    assert session.status_code == 201 and session.json()["nextExpectedRanges"] == ["0-"]
    upload_url = session.json()["uploadUrl"]
    half = 2 * 1024 * 1024

    with httpx.Client(verify=graph.ssl_context()) as bare:
        leaked = bare.put(
            upload_url,
            content=content[:half],
            headers={
                "Authorization": "Bearer x",
                "Content-Range": f"bytes 0-{half - 1}/{len(content)}",
            },
        )
        first = bare.put(
            upload_url,
            content=content[:half],
            headers={"Content-Range": f"bytes 0-{half - 1}/{len(content)}"},
        )
        last = bare.put(
            upload_url,
            content=content[half:],
            headers={"Content-Range": f"bytes {half}-{len(content) - 1}/{len(content)}"},
        )

    assert leaked.status_code == 401
    assert first.status_code == 200 and first.json()["nextExpectedRanges"] == [str(half)]
    assert last.status_code == 201 and "attachments(" in last.headers["Location"]
    (attachment,) = client.get(path).json()["value"]
    raw = client.get(f"{path}/{encode_id(attachment['id'])}/$value")
    assert raw.content == content and attachment["size"] == len(content)


# -- throttling and faults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [(429, "TooManyRequests"), (503, "serviceNotAvailable")]
)
def test_throttle_answers_with_retry_after_then_recovers(
    graph: GraphStandIn, client: httpx.Client, status: int, code: str
) -> None:
    graph.throttle(2, retry_after=7, status=status)
    url = f"/users/{ALICE}/messages"

    answers = [client.get(url) for _ in range(3)]

    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert graph_error(answers[0])["code"] == code


def test_more_than_four_requests_in_flight_to_one_mailbox_are_throttled(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    graph.limit_mailbox_concurrency(4)
    graph.hold(ALICE)
    statuses: list[int] = []
    url = f"/users/{ALICE}/messages"
    threads = [
        threading.Thread(target=lambda: statuses.append(client.get(url).status_code))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while graph.in_flight(ALICE) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)

    fifth = client.get(url)
    other_mailbox = client.get(f"/users/{BOB}/messages")
    graph.release()
    for thread in threads:
        thread.join()

    assert fifth.status_code == 429 and fifth.headers["Retry-After"]
    assert graph_error(fifth)["code"] == "ApplicationThrottled"
    assert other_mailbox.status_code == 200
    assert statuses == [200, 200, 200, 200]
    assert graph.peak_concurrency(ALICE) == 5 and graph.in_flight(ALICE) == 0


def test_latency_is_added_to_each_graph_request(graph: GraphStandIn, client: httpx.Client) -> None:
    graph.set_latency(0.2)

    started = time.monotonic()
    client.get(f"/users/{ALICE}/messages")

    assert time.monotonic() - started >= 0.2


# -- calendar and contacts ---------------------------------------------------------------------


def test_calendar_view_expands_a_weekly_series_in_the_preferred_time_zone(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    created = client.post(
        f"/users/{ALICE}/calendar/events",
        json={
            "subject": "Stand-up",
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"]},
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 5},
            },
        },
    )
    client.post(
        f"/users/{ALICE}/events",
        json={
            "subject": "Dentist",
            "start": {"dateTime": "2026-03-05T14:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-05T15:00:00", "timeZone": "UTC"},
        },
    )
    assert created.status_code == 201 and created.json()["type"] == "seriesMaster"

    view = client.get(
        f"/users/{ALICE}/calendarView",
        params={"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-03-31T00:00:00Z"},
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )

    assert view.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    items = view.json()["value"]
    assert [(i["subject"], i["start"]["dateTime"][:16]) for i in items] == [
        ("Stand-up", "2026-03-02T00:00"),
        ("Stand-up", "2026-03-05T00:00"),
        ("Dentist", "2026-03-05T06:00"),
        ("Stand-up", "2026-03-09T01:00"),  # the US is on summer time from March 8
        ("Stand-up", "2026-03-12T01:00"),
        ("Stand-up", "2026-03-16T01:00"),
    ]
    assert {i["start"]["timeZone"] for i in items} == {"Pacific Standard Time"}
    assert items[0]["type"] == "occurrence" and items[0]["seriesMasterId"] == created.json()["id"]
    missing = client.get(f"/users/{ALICE}/calendarView")
    assert missing.status_code == 400


def test_contacts_in_folders_can_be_created_read_updated_and_deleted(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    folder = client.post(f"/users/{ALICE}/contactFolders", json={"displayName": "Clients"}).json()
    path = f"/users/{ALICE}/contactFolders/{encode_id(folder['id'])}/contacts"

    created = client.post(
        path,
        json={
            "givenName": "Ada",
            "surname": "Lovelace",
            "emailAddresses": [{"address": "ada@example.org", "name": "Ada"}],
        },
    )
    contact_path = f"/users/{ALICE}/contacts/{encode_id(created.json()['id'])}"
    updated = client.patch(contact_path, json={"jobTitle": "Analyst"})

    assert created.status_code == 201 and created.json()["displayName"] == "Ada Lovelace"
    assert updated.json()["jobTitle"] == "Analyst"
    assert [c["surname"] for c in client.get(path).json()["value"]] == ["Lovelace"]
    assert client.get(f"/users/{ALICE}/contacts").json()["value"] == []
    assert client.delete(contact_path).status_code == 204
    assert client.get(contact_path).status_code == 404


# -- delta -------------------------------------------------------------------------------------


def test_delta_returns_changes_since_the_delta_link(
    graph: GraphStandIn, client: httpx.Client
) -> None:
    first = graph.deliver(ALICE, subject="one")
    graph.deliver(ALICE, subject="two")
    url = f"/users/{ALICE}/mailFolders/inbox/messages/delta"

    initial = client.get(url, headers={"Prefer": "odata.maxpagesize=1"})
    second_page = client.get(initial.json()["@odata.nextLink"])
    delta_link = second_page.json()["@odata.deltaLink"]
    graph.deliver(ALICE, subject="three")
    client.delete(f"/users/{ALICE}/messages/{encode_id(first['id'])}")
    changes = client.get(delta_link).json()

    assert len(initial.json()["value"]) == 1 and "@odata.deltaLink" not in initial.json()
    assert {m["subject"] for m in initial.json()["value"] + second_page.json()["value"]} == {
        "one",
        "two",
    }
    assert {m.get("subject") for m in changes["value"]} == {"three", None}
    (removed,) = [m for m in changes["value"] if "@removed" in m]
    assert removed["id"] == first["id"]
