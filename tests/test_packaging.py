"""A plain (non-editable) install carries its templates and migrations and runs anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_from_wheel(code: str, wheel_dir: Path, cwd: Path, env: dict[str, str]) -> str:
    prelude = f"import sys; sys.path.insert(0, {str(wheel_dir)!r}); "
    result = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_wheel_installs_a_working_command_with_templates_and_migrations(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a clean copy: no stale build/ folder can leak in
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", "build", "instance", "*.egg-info", ".git", "__pycache__", ".*_cache"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("approvals-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "templates/email/message.html" in names
    assert "templates/pages/confirm.html" in names
    assert "templates/dashboard/request.html" in names
    assert any(
        n.startswith("approvals/store/migrations/versions/") and n.endswith(".py") for n in names
    )
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "APPROVALS_INSTANCE_PATH": str(tmp_path / "instance")}
    where = run_from_wheel("import approvals; print(approvals.__file__)", unpacked, elsewhere, env)
    assert where.startswith(str(unpacked))
    run_from_wheel(
        "from approvals.cli import main; main(['db', 'upgrade'])", unpacked, elsewhere, env
    )
    page = run_from_wheel(
        "from approvals.web.app import create_app; "
        "c = create_app().test_client(); "
        "assert c.get('/dashboard/signin').status_code == 200; "
        "r = c.get('/respond/nope?option=0'); "
        "print(r.status_code, r.get_data(as_text=True))",
        unpacked,
        elsewhere,
        env,
    )
    assert page.startswith("404") and "Link not valid" in page


# Installed for what they do, not imported by name: psycopg is SQLAlchemy's PostgreSQL driver
# (chosen by the URL), hiredis speeds up redis-py's parser, pydantic-core is pydantic's own
# engine (pinned by pydantic; we use its error class), tzdata is the time zone database zoneinfo
# falls back to where the system has none.
USED_WITHOUT_IMPORT = {"psycopg", "hiredis", "tzdata"}
PROVIDED_BY_A_DECLARED_PACKAGE = {"pydantic-core"}


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def _third_party_imports() -> set[str]:
    import ast
    import importlib.metadata
    import sys as system

    distributions = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for folder in ("approvals", "worker", "templates"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in system.stdlib_module_names or top in {
                        "approvals",
                        "worker",
                        "templates",
                    }:
                        continue
                    found.update(_normal(d) for d in distributions.get(top, [top]))
    return found


def test_every_imported_package_is_declared_and_every_declared_one_is_used() -> None:
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        _normal(re.split(r"[\[=<>~!; ]", requirement, maxsplit=1)[0])
        for requirement in project["dependencies"]
    }
    imported = _third_party_imports()
    assert imported - declared - PROVIDED_BY_A_DECLARED_PACKAGE == set()
    assert declared - imported - USED_WITHOUT_IMPORT == set()
