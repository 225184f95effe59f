"""The per-process objects every layer needs: settings, database, link signer, secret box.

The web's app factory builds one :class:`Runtime` per app (``approvals.web.runtime``); the
worker builds one per process (``worker.entry``). Nothing here knows Flask or Celery.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals.approval.links import Links
from approvals.config import Settings
from approvals.crypto import SecretBox
from approvals.store.db import Database, database_for


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
