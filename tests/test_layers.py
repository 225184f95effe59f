"""Layers only go down: web and CLI -> worker -> core (DESIGN 2).

The core (``approvals`` without ``approvals.web`` and ``approvals.cli``) imports neither Flask
nor Celery nor the layers above it; the worker never imports the web or the CLI. Checked on
the source, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB_ONLY = ("flask", "werkzeug", "gunicorn", "approvals.web", "approvals.cli")


def _modules(folder: str, skip: tuple[str, ...] = ()) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(str(path.relative_to(ROOT)).startswith(s) for s in skip)
    ]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


@pytest.mark.parametrize(
    "path",
    _modules("approvals", skip=("approvals/web", "approvals/cli")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_core_knows_neither_flask_nor_celery_nor_the_layers_above(path: Path) -> None:
    assert _offending(path, (*WEB_ONLY, "celery", "kombu", "worker")) == []


@pytest.mark.parametrize("path", _modules("worker"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_worker_never_imports_the_web_or_the_cli(path: Path) -> None:
    assert _offending(path, WEB_ONLY) == []
