"""Routing on the raw request path, and what a route handler is given.

Graph ids hold ``/``, ``+`` and ``=``; a client percent-encodes them. The WSGI ``PATH_INFO`` is
already decoded (an encoded ``/`` would split the id), so routes match the raw path's segments,
each decoded on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from .errors import GraphError, bad_request
from .mailbox import Mailbox

if TYPE_CHECKING:
    from .server import GraphStandIn

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


@dataclass
class Call:
    """One Graph request as a handler sees it: path parameters, query, preferences, mailbox."""

    request: Request
    standin: GraphStandIn
    params: dict[str, str]
    args: dict[str, str]
    raw_path: str
    prefer: dict[str, str]
    applied: list[str] = field(default_factory=list)
    mailbox: Mailbox | None = None

    def json(self) -> dict[str, Any]:
        data = self.request.get_data()
        if not data:
            return {}
        try:
            body = json.loads(data)
        except ValueError as error:
            raise bad_request(f"Unable to read JSON request payload: {error}") from error
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        return body

    @property
    def user(self) -> Mailbox:
        assert self.mailbox is not None
        return self.mailbox

    def url(self) -> str:
        """This request's absolute URL without its query: the base of a nextLink."""
        return f"{self.standin.base_url}{self.raw_path}"

    def wants_immutable_ids(self) -> bool:
        # Prefer: IdType="ImmutableId" (https://learn.microsoft.com/graph/outlook-immutable-id)
        if self.prefer.get("idtype", "").lower() == "immutableid":
            self.apply_preference('IdType="ImmutableId"')
            return True
        return False

    def apply_preference(self, text: str) -> None:
        if text not in self.applied:
            self.applied.append(text)


Handler = Callable[[Call], Response]


@dataclass
class Route:
    method: str
    segments: tuple[str, ...]
    handler: Handler


class Router:
    """Routes by method and path pattern (``users/{user}/messages/{message}``)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append(Route(method, tuple(pattern.strip("/").split("/")), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return register

    def match(self, method: str, segments: list[str]) -> tuple[Handler, dict[str, str]]:
        allowed = False
        best: tuple[int, Handler, dict[str, str]] | None = None
        for route in self.routes:
            params = _match(route.segments, segments)
            if params is None:
                continue
            if route.method != method:
                allowed = True
                continue
            # A literal segment beats a parameter: ``messages/delta`` is not a message id.
            literals = len(route.segments) - len(params)
            if best is None or literals > best[0]:
                best = (literals, route.handler, params)
        if best is not None:
            return best[1], best[2]
        if allowed:
            raise GraphError(
                405,
                "Request_BadRequest",
                f"The HTTP method '{method}' is not allowed on this resource.",
            )
        raise GraphError(
            400,
            "BadRequest",
            f"Resource not found for the segment '{segments[-1] if segments else ''}'.",
        )


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            params[expected[1:-1]] = actual
        elif expected.lower() != actual.lower():
            return None
    return params


def split_path(raw_path: str) -> list[str]:
    return [unquote(part) for part in raw_path.strip("/").split("/") if part != ""]


_PREFERENCE = re.compile(r'\s*([^=,\s]+)\s*(?:=\s*("(?:[^"]*)"|[^,]*))?\s*(?:,|$)')


def parse_prefer(values: list[str]) -> dict[str, str]:
    """``Prefer`` headers (RFC 7240) as lower-case names to unquoted values."""
    preferences: dict[str, str] = {}
    for value in values:
        for match in _PREFERENCE.finditer(value):
            name, raw = match.group(1), match.group(2) or ""
            if name:
                preferences[name.lower()] = raw.strip().strip('"')
    return preferences


def json_response(
    body: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if body is None:
        return Response(b"", status=status, headers=headers or {})
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type=ODATA_JSON)
