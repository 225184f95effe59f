"""The Celery side: the Celery app, tasks, mail backends and webhook delivery."""
