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
        "from approvals.web.cli import main; main(['db', 'upgrade'])", unpacked, elsewhere, env
    )
    page = run_from_wheel(
        "from approvals.web.app import create_app; "
        "r = create_app().test_client().get('/respond/nope?option=0'); "
        "print(r.status_code, r.get_data(as_text=True))",
        unpacked,
        elsewhere,
        env,
    )
    assert page.startswith("404") and "Link not valid" in page
