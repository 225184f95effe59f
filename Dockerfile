# The service's image: web, worker, beat and the one-shot migration all run it (compose.yaml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APPROVALS_INSTANCE_PATH=/var/lib/approvals \
    APPROVALS_METRICS_DIR=/var/lib/approvals/metrics \
    APPROVALS_LOG_FORMAT=json

WORKDIR /app
# Dependencies first, from the lock alone: a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY approvals ./approvals
COPY worker ./worker
COPY templates ./templates
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /var/lib/approvals approvals \
    && mkdir -p /var/lib/approvals/metrics \
    && chown -R approvals:approvals /var/lib/approvals

# Never root: the process can write its instance folder and nothing else of the image.
USER approvals
EXPOSE 8000
CMD ["approvals", "web", "--host", "0.0.0.0", "--port", "8000"]
