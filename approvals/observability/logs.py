"""Logging for every process: readable lines or one JSON object per line, each carrying the
ids it concerns (request, subscription, delivery, task), and nothing that grants access.

Ids travel in context variables (:func:`bind`), so a line logged deep in a service still
names the request or task it belongs to. Secrets are kept out at the source (no line logs a
key, secret, token or message body); :class:`Scrubbed` formatting is the second line of
defence, for text nobody meant to log (an exception quoting a URL, a library's debug line).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from pythonjsonlogger.json import JsonFormatter

from approvals.config import Settings

IDS = ("request_id", "subscription_id", "delivery_id", "task_id")
_ids: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in IDS}

# What grants access if read in a log: a recipient's link token, an API key, a webhook
# secret, a bearer token, a JWT (Graph's access tokens).
SECRETS = (
    (re.compile(r"/respond/[^/?#\s\"'<>]+"), "/respond/[redacted]"),
    (re.compile(r"/dashboard/signin/[^/?#\s\"'<>]+"), "/dashboard/signin/[redacted]"),
    (re.compile(r"\bapv_[A-Za-z0-9_\-]+"), "apv_[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"), "whsec_[redacted]"),
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), "[redacted token]"),
)


def scrub(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


def bind(**ids: str | None) -> list[Token[str | None]]:
    """Name ``ids`` on every line this context logs from now on; :func:`unbind` undoes it."""
    return [_ids[name].set(value) for name, value in ids.items()]


def unbind(tokens: list[Token[str | None]]) -> None:
    for token in reversed(tokens):
        token.var.reset(token)


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    tokens = bind(**ids)
    try:
        yield
    finally:
        unbind(tokens)


class _WithIds(logging.Filter):
    """Copies the bound ids onto each record (an id given in ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _ids.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class Scrubbed(logging.Formatter):
    """Readable lines: time, level, process, logger, message, then the ids it concerns."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        named = " ".join(f"{n}={getattr(record, n)}" for n in IDS if getattr(record, n, None))
        return scrub(f"{line} [{named}]" if named else line)


class ScrubbedJson(JsonFormatter):
    """One JSON object per line; ids left unset are left out."""

    def process_log_record(self, log_data: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in log_data.items() if not (k in IDS and v is None)}

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(settings: Settings, role: str) -> None:
    """Send every logger of this process (ours, gunicorn's, Celery's, warnings) to stderr in
    the configured format; ``role`` (web, worker, beat, run) names the process in each line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WithIds())
    if settings.log_format == "json":
        handler.setFormatter(
            ScrubbedJson(
                ["levelname", "name", "message"],
                timestamp="time",  # ISO 8601, UTC
                rename_fields={"levelname": "level", "name": "logger"},
                static_fields={"process": role},
            )
        )
    else:
        handler.setFormatter(Scrubbed(f"%(asctime)s %(levelname)s {role} %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.captureWarnings(True)
