"""Tests for the webhook SSRF guard.

Address checks never open sockets; the over-the-wire tests only ever talk to loopback servers
started here, and names other than ``localhost`` go through fake resolvers, never real DNS.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from worker.webhooks.guard import (
    BlockedAddress,
    DnsFailure,
    GuardError,
    is_address_allowed,
    parse_networks,
    resolve_checked,
)
from worker.webhooks.guard import (
    guarded_transport as make_transport,
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
    assert not issubclass(GuardError, httpx.HTTPError)


# --- over the wire, loopback only ------------------------------------------------------------


@dataclass
class Recorder:
    """What a test server saw: one entry per accepted connection and per request."""

    connections: list[tuple[Any, ...]] = field(default_factory=list)
    hosts: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with recorder.lock:
                recorder.connections.append(self.client_address)

        def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
            with recorder.lock:
                recorder.hosts.append(self.headers.get("Host"))
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def serve(server_class: type[ThreadingHTTPServer], host: str) -> Iterator[Server]:
    recorder = Recorder()
    httpd = server_class((host, 0), make_handler(recorder))
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
        httpd = IPv6Server(("::1", 0), make_handler(Recorder()))
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    httpd.server_close()
    yield from serve(IPv6Server, "::1")


@pytest.fixture(params=["v4", "v6"])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(f"server_{request.param}")


def test_loopback_literal_is_blocked_before_any_connection(server: Server) -> None:
    with httpx.Client(transport=make_transport(())) as client, pytest.raises(BlockedAddress):
        client.get(server.url)
    assert server.recorder.connections == []
    assert server.recorder.hosts == []


def test_localhost_name_is_blocked_before_any_connection(server_v4: Server) -> None:
    url = f"http://localhost:{server_v4.port}/"
    with httpx.Client(transport=make_transport(())) as client, pytest.raises(BlockedAddress):
        client.get(url)
    assert server_v4.recorder.connections == []


def test_dns_failure_comes_out_of_the_client_unwrapped() -> None:
    transport = make_transport(LOOPBACK, resolver=fake_resolver({}))
    with httpx.Client(transport=transport) as client, pytest.raises(DnsFailure):
        client.get("http://nowhere.example/")


def test_allowed_loopback_request_succeeds_and_keeps_the_host_header(server: Server) -> None:
    with httpx.Client(transport=make_transport(LOOPBACK)) as client:
        response = client.get(server.url)
    assert response.status_code == 200
    assert response.text == "ok"
    expected_host = server.url.removeprefix("http://").rstrip("/")
    assert server.recorder.hosts == [expected_host]


def test_allowed_localhost_name_reaches_the_server(server_v4: Server) -> None:
    with httpx.Client(transport=make_transport(LOOPBACK)) as client:
        response = client.get(f"http://localhost:{server_v4.port}/")
    assert response.status_code == 200
    assert server_v4.recorder.hosts == [f"localhost:{server_v4.port}"]


def test_sequential_requests_reuse_one_connection(server: Server) -> None:
    with httpx.Client(transport=make_transport(LOOPBACK)) as client:
        first = client.get(server.url)
        second = client.get(server.url)
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(server.recorder.hosts) == 2
    assert len(server.recorder.connections) == 1


def test_connection_goes_to_the_checked_address_with_the_original_host_header(
    server_v4: Server,
) -> None:
    # "hook.test" only exists in the fake resolver, so reaching the server proves the socket
    # was opened to the checked IP rather than by re-resolving the name.
    calls: list[str] = []
    table = fake_resolver({"hook.test": ["127.0.0.1"]})

    def counting(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        return table(host, port, *args, **kwargs)

    transport = make_transport(LOOPBACK, resolver=counting)
    with httpx.Client(transport=transport) as client:
        response = client.get(f"http://hook.test:{server_v4.port}/")
    assert response.status_code == 200
    assert calls == ["hook.test"]
    assert server_v4.recorder.hosts == [f"hook.test:{server_v4.port}"]


def test_name_rebound_to_a_blocked_address_is_refused_on_the_next_connection(
    server_v4: Server,
) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return fake_resolver({host: next(answers)})(host, port)

    allowed = parse_networks("127.0.0.0/8")
    url = f"http://rebind.test:{server_v4.port}/"
    with httpx.Client(transport=make_transport(allowed, resolver=rebinding)) as client:
        assert client.get(url).status_code == 200
    fresh = make_transport(allowed, resolver=rebinding)
    with httpx.Client(transport=fresh) as client, pytest.raises(BlockedAddress) as info:
        client.get(url)
    assert info.value.address == "10.0.0.1"
    assert len(server_v4.recorder.hosts) == 1
