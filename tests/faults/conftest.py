"""A stack of its own per fault run, on every configured backend; the figures at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.faults.harness import RESULTS, TABLE_HEADER, FaultEnv, HoldingSink, N, fault_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_redis: the fault exists only on that backend")


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultEnv]:
    if request.param != "postgres+redis" and request.node.get_closest_marker("postgres_redis"):
        pytest.skip("needs the PostgreSQL + Redis backend")
    with fault_env(request.param, tmp_path) as running:
        yield running


@pytest.fixture(params=BACKENDS)
def holding_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultEnv]:
    """Like ``env``, with an SMTP server that can keep its "250" back (:class:`HoldingSink`)."""
    with fault_env(request.param, tmp_path, HoldingSink()) as running:
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section(f"fault runs (N={N})")
    terminalreporter.write_line(TABLE_HEADER)
    for figures in RESULTS:
        terminalreporter.write_line(figures.row())
