"""The Celery app for ``celery -A approvals.web.worker_entry``, built through the factory."""

from approvals.web.app import create_app

flask_app = create_app(worker=True)
celery_app = flask_app.extensions["celery"]

import worker.tasks  # noqa: E402,F401 - registers the shared tasks with this app
