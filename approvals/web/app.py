"""The Flask app factory: settings read once, routes from the route table, errors as JSON."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, TooManyRequests

import templates
from approvals.config import Settings, load_settings
from approvals.errors import ApprovalsError, PayloadTooLarge
from approvals.runtime import Runtime
from approvals.web.limits import init_limits
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
    install_runtime(app, Runtime.from_settings(settings))
    app.extensions["celery"] = make_celery(settings)
    register_routes(app)
    init_limits(app, settings, "pages")
    app.teardown_request(close_request_session)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApprovalsError)
    def approvals_error(error: ApprovalsError) -> tuple[dict[str, Any], int]:
        return error.to_dict(), error.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> tuple[dict[str, Any], int]:
        limit = app.config["MAX_CONTENT_LENGTH"]
        error = PayloadTooLarge(f"the request body is larger than {limit} bytes")
        return error.to_dict(), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if request.path.startswith("/respond/"):
            return error.get_response()  # with Retry-After on a 429
        code = (error.name or "error").lower().replace(" ", "_")
        body = {"error": {"code": code, "message": error.description, "field": None}}
        headers = {}
        if isinstance(error, TooManyRequests) and error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return body, error.code or 500, headers

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> tuple[dict[str, Any], int, dict[str, str]]:
        # A dropped or restarted database: nothing of this request was kept; say when to retry.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        if request.path.startswith("/respond/"):
            lines = ["Nothing was recorded. Please go back and press the button again."]
            page = render_template("pages/message.html", title="Please try again", lines=lines)
            return page, 503, {"Retry-After": "1"}  # type: ignore[return-value]
        message = "the database is unavailable for a moment; retry (with the same Idempotency-Key)"
        body = {"error": {"code": "database_unavailable", "message": message, "field": None}}
        return body, 503, {"Retry-After": "1"}

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[dict[str, Any], int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return {
            "error": {"code": "internal_error", "message": "internal error", "field": None}
        }, 500
