"""URL rules from the route table: one blueprint per kind of access.

``api`` routes need an API key (:func:`approvals.web.auth.require_client`, which also counts
the client's rate limit); ``pages`` are the recipient pages (limited per address); ``public``
needs nothing.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, request

from approvals.errors import BadRequest
from approvals.web.auth import require_client
from approvals.web.routes import ROUTES, Route

_PARAM = re.compile(r"\{(\w+)\}")
MAX_ID = 2**31 - 1


def flask_rule(route: Route) -> str:
    """``/deliveries/{id}`` as Flask writes it, with a converter for integer parameters."""
    kinds = {p.name: p.schema.get("type") for p in route.params if p.where == "path"}
    graph_ids = {p.name for p in route.params if p.where == "path" and p.graph_id}

    def convert(match: re.Match[str]) -> str:
        name = match.group(1)
        if kinds.get(name) == "integer":
            # Bounded: a larger id is simply not found (the database's integers stop there).
            return f"<int(max={MAX_ID}):{name}>"
        # A Graph id may hold "/", which arrives decoded when sent single-encoded.
        return f"<path:{name}>" if name in graph_ids else f"<{name}>"

    return _PARAM.sub(convert, route.path)


def register_routes(app: Flask) -> None:
    blueprints = {
        "api": Blueprint("api", __name__),
        "page": Blueprint("pages", __name__),
        "public": Blueprint("public", __name__),
    }
    declared = {
        f"api.{route.operation_id}": {p.name for p in route.params if p.where == "query"}
        for route in ROUTES
        if route.access == "api"
    }

    def refuse_unknown_query() -> None:
        """An API call names only parameters its operation has: a typo is an error, not a
        silent default."""
        unknown = sorted(set(request.args) - declared.get(request.endpoint or "", set()))
        if unknown:
            raise BadRequest(
                f"unknown query parameter {unknown[0]!r}",
                code="unknown_parameter",
                field=unknown[0],
            )

    blueprints["api"].before_request(require_client)
    blueprints["api"].before_request(refuse_unknown_query)
    for route in ROUTES:
        blueprints[route.access].add_url_rule(
            flask_rule(route),
            endpoint=route.operation_id,
            view_func=route.view,
            methods=[route.method],
            **({"defaults": route.view_args} if route.view_args else {}),
        )
    for blueprint in blueprints.values():
        app.register_blueprint(blueprint)
