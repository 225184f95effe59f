"""The per-process objects every layer needs: settings, database and link signer.

The app factory builds one :class:`Runtime` and keeps it in ``app.extensions``; tasks run in
the app context (Flask's Celery pattern), so both sides reach it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from approvals.config import Settings
from approvals.crypto import SecretBox
from approvals.links import Links
from approvals.store.db import Database, database_for

EXTENSION = "approvals"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    links: Links
    box: SecretBox

    @classmethod
    def from_settings(cls, settings: Settings, *, durable_commits: bool = True) -> Runtime:
        return cls(
            settings=settings,
            db=database_for(settings.database_url, durable_commits=durable_commits),
            links=Links(settings.secret_key, settings.secret_key_fallbacks),
            box=SecretBox(settings.secret_key, settings.secret_key_fallbacks),
        )


def current_runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
