"""The Flask app factory: settings read once, routes from the route table, errors as JSON."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

import templates
from approvals.config import Settings, load_settings
from approvals.runtime import Runtime
from approvals.web.dashboard import register_dashboard
from approvals.web.enqueue import BackgroundPublisher
from approvals.web.error_handler import register_error_handler
from approvals.web.limits import init_limits
from approvals.web.observe import register_observers
from approvals.web.registry import register_routes
from approvals.web.request_db import close_request_session
from approvals.web.runtime import install_runtime
from worker.celery_app import make_celery

log = logging.getLogger(__name__)
TEMPLATES = Path(templates.__file__).resolve().parent


def create_app(settings: Settings | None = None) -> Flask:
    """The web app: every route of :data:`approvals.web.routes.ROUTES`, and the Celery app it
    publishes tasks with (in ``app.extensions["celery"]``)."""
    settings = settings or load_settings()
    app = Flask(
        "approvals",
        template_folder=str(TEMPLATES),
        instance_path=str(settings.instance_path),
        static_folder=None,  # no static files: pages inline their CSS
    )
    # No SECRET_KEY: nothing uses Flask's cookie session (links are signed by
    # approvals.approval.links), and with one set Flask builds a serializer for every request.
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        JSON_SORT_KEYS=False,
    )
    runtime = Runtime.from_settings(settings)
    install_runtime(app, runtime)
    celery = app.extensions["celery"] = make_celery(settings)
    runtime.db.publisher = BackgroundPublisher(celery)
    register_observers(app)
    register_routes(app)
    register_dashboard(app)
    init_limits(app, settings, "pages")
    app.teardown_request(close_request_session)
    register_error_handler(app)
    return app
