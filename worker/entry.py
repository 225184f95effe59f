"""The Celery app of ``approvals worker`` and ``approvals beat``: settings, runtime, tasks.

It builds no web app: the worker needs the database, the broker and its tasks, nothing of
Flask. Its database commits need not wait for the disk (see ``approvals.store.db``).
"""

from approvals.config import load_settings
from approvals.runtime import Runtime
from worker.celery_app import DirectPublisher, make_celery
from worker.runtime import install_runtime

settings = load_settings()
runtime = Runtime.from_settings(settings, durable_commits=False)
celery_app = make_celery(settings)
runtime.db.publisher = DirectPublisher(celery_app)
install_runtime(runtime)

import worker.log_context  # noqa: E402,F401 - task ids on log lines, our logging kept
import worker.tasks  # noqa: E402,F401 - registers the shared tasks with this app
