"""A local Microsoft identity platform and Microsoft Graph v1.0, written from Microsoft's docs.

The Microsoft cloud is out of reach from the test machines, so the Graph mail backend is tested
against this stand-in over real HTTPS: MSAL does its real discovery and token request, httpx its
real calls. Layout:

- ``server``: ``GraphStandIn``, the HTTPS server, faults (throttling, mailbox concurrency,
  latency) and the request log;
- ``identity``: OpenID discovery and the client credentials token endpoint;
- ``mailbox``: the in-memory mailboxes;
- ``odata``: ``$filter``, ``$orderby``, ``$select``, ``$top``/``$skip`` paging;
- ``messages``, ``events``, ``contacts``: the Graph routes, each citing its doc page;
- ``fixtures``: pytest fixtures.
"""

from .identity import App
from .mailbox import Mailbox
from .messages import SentMail
from .server import GraphStandIn, LoggedRequest, encode_id

__all__ = ["App", "GraphStandIn", "LoggedRequest", "Mailbox", "SentMail", "encode_id"]
