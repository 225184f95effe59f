"""A tenant in the Graph stand-in and an API key bound to some of its mailboxes."""

from __future__ import annotations

from collections.abc import Sequence

from approvals.mailboxes import set_mailboxes
from tests.conftest import GRAPH_APP_ID, GRAPH_APP_SECRET
from tests.support.api import ApiUser
from tests.support.graph.server import GraphStandIn
from tests.support.stack import Stack


def tenant_with(graph: GraphStandIn, mailboxes: Sequence[str]) -> GraphStandIn:
    """The stand-in with the test stack's app registered and ``mailboxes`` in it."""
    graph.register_app(GRAPH_APP_ID, secret=GRAPH_APP_SECRET)
    for address in mailboxes:
        graph.add_mailbox(address)
    return graph


def bound_key(stack: Stack, name: str, mailboxes: Sequence[str]) -> ApiUser:
    """A new API key bound to ``mailboxes`` (the first its default); close its ``http``."""
    created, http = stack.new_client(name)
    with stack.db.session() as session:
        set_mailboxes(session, created.id, list(mailboxes))
    return ApiUser(created.id, created.key, created.webhook_secret, http)
