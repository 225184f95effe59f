"""``compose.yaml`` and the image, without a container engine (none runs here): the file is
valid Compose, has the production shape, and each service's command starts and works with the
environment the file gives it, as a plain process against this machine's PostgreSQL and Redis.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, REDIS_URL, PostgresDatabase
from tests.support.smtp_sink import SmtpSink, free_port
from tests.support.stack import eventually

ROOT = Path(__file__).resolve().parent.parent
# A copy of shared/reference/compose-spec.schema.json (the Compose specification's schema).
SCHEMA = Path(__file__).resolve().parent / "reference" / "compose-spec.schema.json"
IMAGE_HOME = "/var/lib/approvals"


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: ``${X}``, ``${X:-default}``, ``${X:?error}``, ``$$``."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        given = env.get(name)
        if op in (":?", "?") and not given:
            raise AssertionError(f"compose needs {name}: {arg}")
        if op in (":-", "-") and not given:
            return arg
        return given or ""

    return _VARIABLE.sub(value, text)


def image_env() -> dict[str, str]:
    """The ``ENV`` of the Dockerfile: what every container starts with."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            found.update(re.findall(r"(\w+)=(\S+)", line))
    return found


def test_compose_file_is_valid_compose() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose())] == []


def test_compose_has_the_production_shape() -> None:
    spec = compose()
    services = spec["services"]
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"  # Celery's queues stay
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert {"pgdata", "redisdata"} <= set(spec["volumes"])
    assert services["migrate"]["command"] == ["approvals", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        after = services[name]["depends_on"]["migrate"]["condition"]
        assert after == "service_completed_successfully", name
        assert services[name]["command"][:2] == ["approvals", name]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    # Secrets come from the environment, never from the file.
    env = services["web"]["environment"]
    assert env["APPROVALS_SECRET_KEY"].startswith("${APPROVALS_SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in env["APPROVALS_DATABASE_URL"]


def test_the_image_runs_as_a_user_and_installs_the_pinned_packages() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "pip install -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
    locked = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            locked[name.lower().replace("_", "-")] = version
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name, version = re.split(r"\[[^\]]*\]==|==", requirement)
        assert locked.get(name.lower().replace("_", "-")) == version, requirement


@pytest.fixture
def database() -> Iterator[PostgresDatabase]:
    if not (PG_URL and REDIS_URL):
        pytest.skip("compose's shape needs PostgreSQL and Redis (APPROVALS_TEST_* unset)")
    made = PostgresDatabase(PG_URL)
    made.create()
    yield made
    made.drop()


def test_each_service_starts_from_its_compose_command_and_environment(
    database: PostgresDatabase, smtp: SmtpSink, tmp_path: Path
) -> None:
    port = free_port()
    # What an operator exports before `docker compose up`.
    operator = {
        "POSTGRES_PASSWORD": "not-used-here",
        "APPROVALS_SECRET_KEY": "compose-" + uuid.uuid4().hex,
        "APPROVALS_BASE_URL": f"http://127.0.0.1:{port}",
        "APPROVALS_SMTP_HOST": "127.0.0.1",
        "APPROVALS_SMTP_PORT": str(smtp.port),
    }
    services = compose()["services"]
    prefix = json.dumps({"global_keyprefix": f"compose-{uuid.uuid4().hex[:8]}:"})

    def environment(name: str) -> dict[str, str]:
        env = {**image_env(), **services[name]["environment"]}
        env = {key: interpolate(str(value), operator) for key, value in env.items()}
        # Only what names the containers' network and file system is mapped to this machine.
        ours = make_url(database.url)
        theirs = make_url(env["APPROVALS_DATABASE_URL"])
        assert (theirs.drivername, theirs.host) == ("postgresql+psycopg", "postgres")
        env["APPROVALS_DATABASE_URL"] = theirs.set(
            host=ours.host, port=ours.port, username=ours.username, password=ours.password,
            database=ours.database,
        ).render_as_string(hide_password=False)  # fmt: skip
        assert env["APPROVALS_BROKER_URL"] == "redis://redis:6379/0"
        env["APPROVALS_BROKER_URL"] = str(REDIS_URL)
        env["APPROVALS_BROKER_TRANSPORT_OPTIONS"] = prefix  # this test's own keys in Redis
        env = {k: v.replace(IMAGE_HOME, str(tmp_path)) for k, v in env.items()}
        path = {"PATH": os.environ["PATH"]}
        return {**path, **env}

    def argv(command: list[str]) -> list[str]:
        command = [str(port) if part == "8000" else part for part in command]
        assert command[0] == "approvals"
        return [sys.executable, "-P", "-m", "approvals.cli", *command[1:]]

    migrate = subprocess.run(
        argv(services["migrate"]["command"]),
        env=environment("migrate"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    running = {}
    try:
        for name in ("web", "worker", "beat"):
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
            running[name] = subprocess.Popen(
                argv(services[name]["command"]),
                env=environment(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
        check = services["web"]["healthcheck"]["test"]
        assert check[:2] == ["CMD", "python"]
        probe = [sys.executable, *check[2:-1], check[-1].replace("8000", str(port))]
        eventually(lambda: subprocess.run(probe, capture_output=True).returncode == 0, timeout=60)
        key = subprocess.run(
            argv(["approvals", "keys", "create", "compose", "--json"]),
            env=environment("web"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert key.returncode == 0, key.stderr
        address = f"compose-{uuid.uuid4().hex[:8]}@example.com"
        created = httpx.post(
            f"http://127.0.0.1:{port}/approvalmail/$subscriptions",
            headers={"Authorization": f"Bearer {json.loads(key.stdout)['key']}"},
            json={"NotificationUrl": None, "Message": {"To": address}},
            timeout=20,
        )
        assert created.status_code == 201, created.text
        smtp.wait_for(address, timeout=60)  # the worker sent it
        beat_log = tmp_path / "beat.log"
        eventually(lambda: "Sending due task" in beat_log.read_text(), timeout=30)
        assert all(process.poll() is None for process in running.values())
        for name in running:  # compose asks for JSON logs: one object per line
            for line in (tmp_path / f"{name}.log").read_text().splitlines():
                assert isinstance(json.loads(line), dict), (name, line)
    finally:
        for process in running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
