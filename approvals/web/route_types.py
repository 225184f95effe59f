"""The route table's rows: a :class:`Route` per operation and its :class:`Param` s.

:mod:`approvals.web.routes` holds the table; these types are apart so that each group of rows
(the approval loop, the connector's mail, calendar and contacts operations) can live in a
module of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

Access = Literal["api", "page", "public"]


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter, with its JSON schema."""

    name: str
    where: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str = ""
    required: bool = True
    # "double": the connector double-encodes it (x-ms-url-encoding); single is taken too.
    encoding: Literal["single", "double"] = "single"
    # A Graph id: may hold "/", "+" and "=", arriving decoded or still percent-encoded.
    graph_id: bool = False
    # A ``Prefer`` header: this preference in it (``outlook.timezone``) is read as a
    # parameter of that name.
    preference: str = ""
    # Checks the value read and returns the one kept (raises BadRequest for a bad one).
    check: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Route:
    """One operation: where it is served, what it takes and answers, who may call it.

    ``access``: ``api`` needs an API key (and counts against its client's rate limit),
    ``page`` is a recipient page (no key; limited per address), ``public`` is open.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    view: Callable[..., Any]
    tag: str
    access: Access = "api"
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    media: str = "application/json"
    deprecated: bool = False
    description: str = ""
    # Fixed values handed to the view (one view can serve several rows).
    view_args: dict[str, str] = field(default_factory=dict)
    # Connector operations: the body's parameter name, and whether a worker that died while
    # running it may run it again (a read or delete may; a send must not be sent twice).
    body_name: str = "body"
    repeatable: bool = True
    deferrable: bool = False  # may answer 202 with Location: /operations/{id}
    # Other answers that are not errors: (status, description, model), e.g. /readyz's 503.
    also: tuple[tuple[int, str, type[BaseModel]], ...] = ()
    # A webhook operation: what it POSTs to the body's NotificationUrl later (/swagger.json's
    # x-ms-notification-content and x-ms-notification-url).
    notification: type[BaseModel] | None = None
    # A trigger in Power Automate and Logic Apps ("single" or "batch": x-ms-trigger); a polling
    # trigger answers 202 + Location when nothing is new.
    trigger: Literal["single", "batch"] | None = None


IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "maxLength": 255},
    "A repeat with the same key and body returns the first answer and sends nothing.",
    required=False,
)
