"""SSRF guard for outgoing webhook calls.

Webhook URLs are supplied by users, so a URL may point at the worker's own network (cloud
metadata at 169.254.169.254, Redis on localhost, the database on 10.x, ...). Checking the URL
before sending is not enough: the name can resolve differently a moment later (DNS rebinding).
So the check happens inside the connection itself: the network backend resolves the host,
checks every address, and then connects to exactly the address it checked. TLS (SNI and
certificate verification) and the Host header still use the original name, because httpcore
hands the server name to ``start_tls`` separately from the address given to ``connect_tcp``.

``GuardError`` subclasses are deliberately not httpcore exceptions, so httpcore does not wrap
them: they come out of the pool's request as themselves, and
:func:`worker.webhooks.delivery.post` records them as ``blocked_address`` / ``dns``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from worker.webhooks.deadline import DeadlineStream, time_left

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list[tuple[Any, ...]]]

# Ranges that Python's ``is_global`` lets through (or may, depending on the patch release) but
# that must never be reachable from a webhook.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_SOCKET_ERRORS = (OSError, UnicodeError)


class GuardError(Exception):
    """Base for refusals raised while opening a webhook connection."""


class BlockedAddress(GuardError):
    """The host resolved to an address outside the allowed ranges."""

    def __init__(self, address: str, host: str = "") -> None:
        self.address = address
        self.host = host or address
        if self.host == address:
            message = f"address {address} is not allowed for webhooks"
        else:
            message = f"{self.host} resolves to {address}, which is not allowed for webhooks"
        super().__init__(message)


class DnsFailure(GuardError):
    """The host name could not be resolved."""

    def __init__(self, host: str, reason: str = "") -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"could not resolve {host}" + (f": {reason}" if reason else ""))


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Parse an allow-list such as ``"127.0.0.0/8, ::1/128"`` from configuration.

    Entries are separated by commas and/or whitespace. Host bits must be zero so a typo like
    ``10.0.0.1/8`` is caught instead of silently widening to ``10.0.0.0/8``.
    """
    networks: list[IPNetwork] = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as exc:
            raise ValueError(f"invalid network {entry!r} in allowed networks: {exc}") from exc
    return tuple(networks)


def _is_public(ip: IPAddress) -> bool:
    """True when a single address is globally routable and not in any special range."""
    if not ip.is_global:
        return False
    if (
        ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_link_local
        or ip.is_private
        or ip.is_loopback
    ):
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return ip not in _CGNAT
    return not ip.is_site_local


def _in_allowed(ip: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    """Membership test that never mixes address families."""
    return any(ip.version == net.version and ip in net for net in allowed)


def _candidates(ip: IPAddress) -> list[IPAddress]:
    """Addresses that must all be public for ``ip`` to be reachable.

    IPv4-mapped and NAT64 addresses are the embedded IPv4 address (their IPv6 form sits in
    ``::/8`` and would be rejected as reserved). 6to4 and Teredo addresses are checked as
    themselves *and* by the IPv4 addresses they tunnel to.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    found: list[IPAddress] = [ip]
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_address_allowed(address: str, allowed: Sequence[IPNetwork]) -> bool:
    """Decide whether a webhook may connect to ``address``.

    Allowed when the address is publicly routable, or when it (or, for an IPv4-mapped IPv6
    address, the IPv4 address it stands for) lies inside one of ``allowed``. Anything that is
    not a valid IP address is refused.
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if _in_allowed(ip, allowed):
        return True
    if (
        isinstance(ip, ipaddress.IPv6Address)
        and ip.ipv4_mapped is not None
        and _in_allowed(ip.ipv4_mapped, allowed)
    ):
        return True
    return all(_is_public(candidate) for candidate in _candidates(ip))


def _literal(host: str) -> str | None:
    """Return ``host`` as a normalised IP string when it is an IP literal, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def resolve_checked(
    host: str,
    port: int,
    allowed: Sequence[IPNetwork],
    resolver: Resolver = socket.getaddrinfo,
) -> list[str]:
    """Resolve ``host`` and return its addresses, in resolver order, if every one is allowed.

    One refused address refuses the whole host: a name that resolves to both a public and a
    private address is an attack (or a misconfiguration) either way, and refusing it keeps the
    result independent of which address a client would try first.
    """
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = resolver(host, port, type=socket.SOCK_STREAM)
        except _SOCKET_ERRORS as exc:
            raise DnsFailure(host, str(exc)) from exc
        addresses = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise DnsFailure(host, "no IPv4 or IPv6 addresses")
    for address in addresses:
        if not is_address_allowed(address, allowed):
            raise BlockedAddress(address, host)
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that checks and pins the address at socket-open time."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork],
        *,
        connect_timeout: float = 5.0,
        resolver: Resolver = socket.getaddrinfo,
    ) -> None:
        self.allowed = tuple(allowed)
        self.connect_timeout = connect_timeout
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable checked address, never re-resolving the name."""
        if timeout is None or timeout > self.connect_timeout:
            timeout = self.connect_timeout
        addresses = resolve_checked(host, port, self.allowed, resolver=self.resolver)
        timeout = time_left(timeout)  # resolving may have spent the whole callback's time
        options = list(socket_options or ())
        last_error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                # An IP literal makes socket.create_connection skip DNS, so this is the
                # address that was just checked.
                stream = super().connect_tcp(address, port, timeout, local_address, options)
                return DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve_checked never returns an empty list
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Unix sockets bypass every address check, so webhooks may never use them."""
        raise GuardError("unix sockets are not allowed for webhooks")


def guarded_pool(
    allowed: Sequence[IPNetwork],
    *,
    connect_timeout: float = 5.0,
    verify: ssl.SSLContext | str | bool = True,
    resolver: Resolver = socket.getaddrinfo,
) -> httpcore.ConnectionPool:
    """A keep-alive connection pool whose every new connection goes through ``GuardedBackend``.

    No retries and no proxy: a proxy would do the DNS lookup itself and make the address check
    meaningless. ``resolver`` exists so tests can map names without real DNS.
    """
    limits = httpx.Limits()
    return httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        retries=0,
        network_backend=GuardedBackend(allowed, connect_timeout=connect_timeout, resolver=resolver),
    )
