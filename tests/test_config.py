"""Configuration: every variable keeps its type, and a value that cannot be used stops the
process at start, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from approvals.config import ConfigurationError, load_settings


def test_passwords_and_names_stay_text_whatever_they_look_like(tmp_path: Path) -> None:
    for text in ("123456", "null", "true", "[1]", '{"a": 1}', "1e3"):
        settings = load_settings(
            {
                "APPROVALS_INSTANCE_PATH": str(tmp_path),
                "APPROVALS_SMTP_PASSWORD": text,
                "APPROVALS_SMTP_USERNAME": text,
                "APPROVALS_MAIL_FROM": text,
            }
        )
        assert settings.smtp_password == text
        assert settings.smtp_username == text
        assert settings.mail_from == text


def test_lists_and_numbers_are_read_as_documented(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "APPROVALS_INSTANCE_PATH": str(tmp_path),
            "APPROVALS_WEBHOOK_RETRY_SCHEDULE": "0, 5;300",
            "APPROVALS_SECRET_KEY_FALLBACKS": "old-1,old-2",
            "APPROVALS_SMTP_PORT": "2525",
            "APPROVALS_SMTP_SECURITY": "STARTTLS",
            "APPROVALS_BROKER_TRANSPORT_OPTIONS": '{"global_keyprefix": "approvals:"}',
        }
    )
    assert settings.webhook_retry_schedule == (0.0, 5.0, 300.0)
    assert settings.secret_key_fallbacks == ("old-1", "old-2")
    assert settings.smtp_port == 2525
    assert settings.smtp_security == "starttls"
    assert settings.broker_transport_options == {"global_keyprefix": "approvals:"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("APPROVALS_SMTP_PORT", "abc"),
        ("APPROVALS_SMTP_SECURITY", "ssl"),
        ("APPROVALS_WEBHOOK_TIMEOUT", "-1"),
        ("APPROVALS_WEBHOOK_RETRY_SCHEDULE", "0,soon"),
        ("APPROVALS_API_RATE_LIMIT", "lots"),
        ("APPROVALS_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.1/8"),
        ("APPROVALS_MAIL_BACKEND", "pigeon"),
        ("APPROVALS_BROKER_TRANSPORT_OPTIONS", "{not json"),
    ],
)
def test_a_value_that_cannot_be_used_names_its_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings({"APPROVALS_INSTANCE_PATH": str(tmp_path), variable: value})


def test_the_command_stops_at_start_naming_the_variable(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APPROVALS_")},
        "APPROVALS_INSTANCE_PATH": str(tmp_path),
        "APPROVALS_SMTP_PORT": "twenty-five",
        "APPROVALS_SMTP_PASSWORD": "hunter2",
    }
    result = subprocess.run(
        [sys.executable, "-P", "-m", "approvals.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "APPROVALS_SMTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"APPROVALS_MAIL_BACKEND": "graph"}, "APPROVALS_GRAPH_TENANT_ID"),
        ({"APPROVALS_GRAPH_TENANT_ID": "t", "APPROVALS_GRAPH_CLIENT_ID": "c"}, "CLIENT_SECRET"),
        (
            {
                "APPROVALS_MAIL_BACKEND": "graph",
                "APPROVALS_GRAPH_TENANT_ID": "t",
                "APPROVALS_GRAPH_CLIENT_ID": "c",
                "APPROVALS_GRAPH_CLIENT_SECRET": "hunter2",
            },
            "APPROVALS_GRAPH_MAILBOX",
        ),
        ({"APPROVALS_GRAPH_CLIENT_SECRET": "hunter2"}, "APPROVALS_GRAPH_CLIENT_ID"),
        ({"APPROVALS_GRAPH_API_URL": "http://graph.example"}, "APPROVALS_GRAPH_API_URL"),
        ({"APPROVALS_GRAPH_CA_BUNDLE": "/nonexistent.pem"}, "APPROVALS_GRAPH_CA_BUNDLE"),
    ],
)
def test_graph_configured_in_part_fails_at_start_naming_what_is_missing(
    tmp_path: Path, given: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match=missing) as raised:
        load_settings({"APPROVALS_INSTANCE_PATH": str(tmp_path), **given})
    assert "hunter2" not in str(raised.value)


def test_graph_fully_configured_loads(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "APPROVALS_INSTANCE_PATH": str(tmp_path),
            "APPROVALS_MAIL_BACKEND": "graph",
            "APPROVALS_GRAPH_TENANT_ID": "contoso",
            "APPROVALS_GRAPH_CLIENT_ID": "app",
            "APPROVALS_GRAPH_CLIENT_SECRET": "123456",
            "APPROVALS_GRAPH_MAILBOX": "approvals@contoso.example",
            "APPROVALS_GRAPH_API_URL": "https://graph.example/v1.0/",
        }
    )
    assert settings.graph_client_secret == "123456"
    assert settings.graph_api_url == "https://graph.example/v1.0"
    assert settings.graph_authority_url == "https://login.microsoftonline.com"
