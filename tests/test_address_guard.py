"""Tests for the webhook SSRF guard.

Address checks never open sockets. The over-the-wire tests go the way production sends a
callback (``guarded_pool`` and ``delivery.post``) and only ever talk to loopback servers started
here; names other than ``localhost`` go through fake resolvers, never real DNS, and every
"blocked" case aims at one of those servers, so a guard that let it through would reach the
server (and fail the test) instead of anything outside this machine.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import pytest

from approvals.delivery.lifecycle import AttemptResult
from worker.webhooks.delivery import host_header, post
from worker.webhooks.guard import (
    BlockedAddress,
    DnsFailure,
    GuardError,
    IPNetwork,
    Resolver,
    guarded_pool,
    is_address_allowed,
    parse_networks,
    resolve_checked,
)

LOOPBACK = parse_networks("127.0.0.0/8,::1/128")

REFUSED = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "127.0.0.1",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fec0::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "64:ff9b::a00:1",
    "64:ff9b::7f00:1",
    "2002:a00:1::1",  # 6to4 wrapping 10.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",
    "not-an-ip",
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert is_address_allowed(address, ()) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_address_allowed(address, ()) is True


def test_allowed_network_lifts_the_block_for_exactly_its_range() -> None:
    allowed = parse_networks("10.0.0.0/24")
    assert is_address_allowed("10.0.0.1", allowed)
    assert is_address_allowed("10.0.0.255", allowed)
    assert not is_address_allowed("10.0.1.1", allowed)
    assert not is_address_allowed("192.168.1.1", allowed)
    assert not is_address_allowed("127.0.0.1", allowed)


def test_ipv6_allowed_network_does_not_open_ipv4_loopback() -> None:
    allowed = parse_networks("::1/128")
    assert is_address_allowed("::1", allowed)
    assert not is_address_allowed("127.0.0.1", allowed)
    assert not is_address_allowed("::2", allowed)


def test_ipv4_mapped_address_is_allowed_by_its_ipv4_network() -> None:
    allowed = parse_networks("127.0.0.0/8")
    assert is_address_allowed("::ffff:127.0.0.1", allowed)
    assert not is_address_allowed("::ffff:10.0.0.1", allowed)


def test_parse_networks_accepts_commas_and_whitespace() -> None:
    networks = parse_networks(" 127.0.0.0/8, ::1/128\n10.1.0.0/16  ")
    assert [str(n) for n in networks] == ["127.0.0.0/8", "::1/128", "10.1.0.0/16"]


def test_parse_networks_of_empty_text_allows_nothing_extra() -> None:
    assert parse_networks("") == ()
    assert parse_networks("  ,  ") == ()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "banana", "10.0.0.1/8"])
def test_parse_networks_rejects_bad_cidr_with_a_message_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid network"):
        parse_networks(f"127.0.0.0/8, {bad}")


def fake_resolver(table: dict[str, list[str]]) -> Any:
    """A getaddrinfo stand-in answering from ``table``; unknown names fail like real DNS."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        results = []
        for address in table[host]:
            if ":" in address:
                results.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                results.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return results

    return resolve


def test_name_resolving_to_private_address_is_blocked() -> None:
    resolver = fake_resolver({"hook.example": ["10.1.2.3"]})
    with pytest.raises(BlockedAddress) as info:
        resolve_checked("hook.example", 443, (), resolver=resolver)
    assert info.value.address == "10.1.2.3"


def test_name_resolving_to_public_and_private_addresses_is_blocked() -> None:
    resolver = fake_resolver({"hook.example": ["93.184.216.34", "169.254.169.254"]})
    with pytest.raises(BlockedAddress) as info:
        resolve_checked("hook.example", 443, (), resolver=resolver)
    assert info.value.address == "169.254.169.254"


def test_name_resolving_to_public_addresses_returns_them_in_order() -> None:
    resolver = fake_resolver({"hook.example": ["93.184.216.34", "2606:2800::1", "93.184.216.34"]})
    assert resolve_checked("hook.example", 443, (), resolver=resolver) == [
        "93.184.216.34",
        "2606:2800::1",
    ]


def test_unresolvable_name_is_a_dns_failure() -> None:
    with pytest.raises(DnsFailure):
        resolve_checked("nowhere.example", 443, (), resolver=fake_resolver({}))


def test_ip_literal_is_checked_without_dns() -> None:
    def no_dns(*args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        raise AssertionError("an IP literal must not be resolved")

    assert resolve_checked("8.8.8.8", 443, (), resolver=no_dns) == ["8.8.8.8"]
    assert resolve_checked("[2606:4700::1111]", 443, (), resolver=no_dns) == ["2606:4700::1111"]
    with pytest.raises(BlockedAddress):
        resolve_checked("192.168.1.1", 443, (), resolver=no_dns)


def test_guard_errors_share_a_base_class() -> None:
    assert issubclass(BlockedAddress, GuardError)
    assert issubclass(DnsFailure, GuardError)
    # Not an httpcore error: httpcore lets it through as itself, for post() to classify.
    assert not issubclass(GuardError, httpcore.NetworkError | httpcore.ProtocolError)


# --- over the wire, loopback only: the production path ----------------------------------------


@pytest.fixture(autouse=True)
def no_name_lookups_outside_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the guard may turn a name into addresses. Everything else that resolves (httpcore
    opening its socket, say) gets IP literals; a name there means the guard was bypassed, and
    the lookup fails the test instead of asking real DNS."""
    real = socket.getaddrinfo

    def literals_only(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        try:
            ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
        except ValueError:
            raise AssertionError(f"{host!r} was resolved outside the guard") from None
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", literals_only)


@dataclass
class Recorder:
    """What a test server saw: one entry per accepted connection and per request."""

    connections: list[tuple[Any, ...]] = field(default_factory=list)
    hosts: list[str | None] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_handler(recorder: Recorder, close: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with recorder.lock:
                recorder.connections.append(self.client_address)

        def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with recorder.lock:
                recorder.hosts.append(self.headers.get("Host"))
                recorder.bodies.append(body)
            answer = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@dataclass
class Server:
    host: str
    port: int
    recorder: Recorder

    @property
    def authority(self) -> str:
        """``host:port`` as a URL (and the Host header) spells it: IPv6 in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}/hook"


def serve(
    server_class: type[ThreadingHTTPServer], host: str, close: bool = False
) -> Iterator[Server]:
    recorder = Recorder()
    httpd = server_class((host, 0), make_handler(recorder, close))
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Server(host, httpd.server_address[1], recorder)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server_v4() -> Iterator[Server]:
    yield from serve(ThreadingHTTPServer, "127.0.0.1")


@pytest.fixture
def server_v6() -> Iterator[Server]:
    try:
        httpd = IPv6Server(("::1", 0), make_handler(Recorder(), False))
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    httpd.server_close()
    yield from serve(IPv6Server, "::1")


@pytest.fixture(params=["v4", "v6"])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(f"server_{request.param}")


BODY = b'{"SelectedOption": "Approve"}'


def send(
    allowed: tuple[IPNetwork, ...],
    *urls: str,
    resolver: Resolver | None = None,
) -> list[AttemptResult]:
    """POST ``BODY`` to each URL in turn through one guarded pool, as a worker does."""
    options = {"resolver": resolver} if resolver else {}
    with guarded_pool(allowed, connect_timeout=2, **options) as pool:
        return [
            post(
                pool,
                url,
                BODY,
                {"Content-Type": "application/json", "Webhook-Id": "msg_test"},
                timeout=5,
                connect_timeout=2,
            )
            for url in urls
        ]


def assert_blocked(result: AttemptResult, address: str) -> None:
    assert (result.status_code, result.error_code) == (None, "blocked_address"), result
    named = re.search(
        rf"(address|resolves to) {re.escape(address)}\b.* not allowed", result.body or ""
    )
    assert named, result.body


def assert_delivered(result: AttemptResult) -> None:
    assert (result.status_code, result.error_code, result.body) == (200, None, "ok"), result


def test_loopback_literal_is_blocked_before_any_connection(server: Server) -> None:
    # The other family's loopback allowed does not open this one.
    other = "::1/128" if server.host == "127.0.0.1" else "127.0.0.0/8"
    for allowed in ((), parse_networks(other), parse_networks("10.0.0.0/8")):
        [result] = send(allowed, server.url)
        assert_blocked(result, server.host)
    assert server.recorder.connections == []
    assert server.recorder.hosts == []


def test_localhost_name_is_blocked_before_any_connection(server_v4: Server) -> None:
    [result] = send((), f"http://localhost:{server_v4.port}/hook")
    assert_blocked(result, "127.0.0.1")
    assert "localhost resolves to" in str(result.body)
    assert server_v4.recorder.connections == []


@pytest.mark.parametrize(
    ("answers", "allowed", "refused"),
    [
        pytest.param(["127.0.0.1"], "", "127.0.0.1", id="loopback-nothing-allowed"),
        pytest.param(["127.0.0.1"], "10.0.0.0/8, ::1/128", "127.0.0.1", id="loopback-not-allowed"),
        pytest.param(
            ["127.0.0.1", "127.0.0.2"], "127.0.0.1/32", "127.0.0.2", id="one-of-two-not-allowed"
        ),
    ],
)
def test_name_resolving_to_a_blocked_address_is_refused_before_any_connection(
    server_v4: Server, answers: list[str], allowed: str, refused: str
) -> None:
    """A made-up name answered with this machine's loopback: refused unless the allowed
    networks hold every address (one address outside refuses the whole name)."""
    resolver = fake_resolver({"hook.test": answers})
    [result] = send(
        parse_networks(allowed), f"http://hook.test:{server_v4.port}/hook", resolver=resolver
    )
    assert_blocked(result, refused)
    assert "hook.test resolves to" in str(result.body)
    assert server_v4.recorder.connections == []


def test_name_resolving_to_ipv6_loopback_is_refused_unless_ipv6_loopback_is_allowed(
    server_v6: Server,
) -> None:
    resolver = fake_resolver({"hook6.test": ["::1"]})
    url = f"http://hook6.test:{server_v6.port}/hook"
    [blocked] = send(parse_networks("127.0.0.0/8"), url, resolver=resolver)
    assert_blocked(blocked, "::1")
    assert server_v6.recorder.connections == []
    [allowed] = send(parse_networks("::1/128"), url, resolver=resolver)
    assert_delivered(allowed)
    assert server_v6.recorder.hosts == [f"hook6.test:{server_v6.port}"]


def test_dns_failure_is_recorded_as_dns() -> None:
    [result] = send(LOOPBACK, "http://nowhere.test/hook", resolver=fake_resolver({}))
    assert (result.status_code, result.error_code) == (None, "dns"), result
    assert "could not resolve nowhere.test" in str(result.body)


def test_allowed_loopback_request_arrives_whole_with_the_host_header_http_expects(
    server: Server,
) -> None:
    """The body and headers as sent; ``Host`` as the URL spells the authority, an IPv6
    literal in brackets (``[::1]:port``, never ``::1:port``)."""
    [result] = send(LOOPBACK, server.url)
    assert_delivered(result)
    assert server.recorder.bodies == [BODY]
    assert server.recorder.hosts == [server.authority]


def test_allowed_localhost_name_reaches_the_server(server_v4: Server) -> None:
    [result] = send(LOOPBACK, f"http://localhost:{server_v4.port}/hook")
    assert_delivered(result)
    assert server_v4.recorder.hosts == [f"localhost:{server_v4.port}"]


def test_sequential_requests_reuse_one_connection(server: Server) -> None:
    results = send(LOOPBACK, server.url, server.url)
    for result in results:
        assert_delivered(result)
    assert len(server.recorder.hosts) == 2
    assert len(server.recorder.connections) == 1


def test_connection_goes_to_the_checked_address_with_the_original_host_header(
    server_v4: Server,
) -> None:
    # "hook.test" only exists in the fake resolver (any other lookup fails the test), so
    # reaching the server proves the socket was opened to the checked IP rather than by
    # resolving the name again.
    calls: list[str] = []
    table = fake_resolver({"hook.test": ["127.0.0.1"]})

    def counting(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        return table(host, port, *args, **kwargs)

    [result] = send(LOOPBACK, f"http://hook.test:{server_v4.port}/hook", resolver=counting)
    assert_delivered(result)
    assert calls == ["hook.test"]
    assert server_v4.recorder.hosts == [f"hook.test:{server_v4.port}"]


@pytest.fixture
def closing_server() -> Iterator[Server]:
    """A server on 127.0.0.1 that closes every connection after its answer."""
    yield from serve(ThreadingHTTPServer, "127.0.0.1", close=True)


def test_name_rebound_to_a_blocked_address_is_refused_on_the_next_connection(
    closing_server: Server,
) -> None:
    """DNS rebinding: the name answers an allowed address, then (the connection closed, the
    pool opening a new one) a blocked one. Both are this machine's loopback, so a guard that
    kept no watch would reach a local port, never anything outside."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return fake_resolver({host: next(answers)})(host, port)

    url = f"http://rebind.test:{closing_server.port}/hook"
    first, second = send(parse_networks("127.0.0.1/32"), url, url, resolver=rebinding)
    assert_delivered(first)
    assert_blocked(second, "127.0.0.2")
    assert len(closing_server.recorder.hosts) == 1
    assert len(closing_server.recorder.connections) == 1


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://hook.example/a", "hook.example"),
        ("http://hook.example:80/a", "hook.example"),
        ("https://hook.example:443/a", "hook.example"),
        ("http://hook.example:443/a", "hook.example:443"),
        ("https://hook.example:80/a", "hook.example:80"),
        ("http://hook.example:8080/a?b=c", "hook.example:8080"),
        ("http://user:secret@hook.example:8080/a", "hook.example:8080"),
        ("http://[::1]:8080/a", "[::1]:8080"),
        ("http://[2001:db8::1]/a", "[2001:db8::1]"),
        ("https://[2001:db8::1]:443/a", "[2001:db8::1]"),
        ("http://127.0.0.1:9000/a", "127.0.0.1:9000"),
        ("http://xn--bcher-kva.example/a", "xn--bcher-kva.example"),
    ],
)
def test_host_header_names_the_urls_authority_without_a_default_port(url: str, host: str) -> None:
    assert host_header(url) == host
