"""pytest fixtures for the Graph stand-in.

``graph_standin`` is one server for the whole session; ``graph`` is that server wiped clean
(no mailboxes, apps, tokens, faults or log) for one test, which fails if the stand-in itself
crashed while answering. Enable with
``pytest_plugins = ["tests.support.graph.fixtures"]`` in the root conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import GraphStandIn


@pytest.fixture(scope="session")
def graph_standin() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        yield standin


@pytest.fixture
def graph(graph_standin: GraphStandIn) -> Iterator[GraphStandIn]:
    graph_standin.reset()
    yield graph_standin
    crashes = list(graph_standin.internal_errors)
    graph_standin.reset()
    # A crash of the stand-in reached the client as a 500 it may have retried or absorbed;
    # the test must not pass on it.
    assert crashes == [], f"the Graph stand-in failed while answering: {crashes!r}"
