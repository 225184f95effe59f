"""The service's counters and histograms, written by web and worker alike.

Gauges that describe the database (subscriptions by status, owed rows) are not here: they are
read at scrape time (:mod:`approvals.observability.owed`), so they are right whichever
process last touched a row.
"""

from __future__ import annotations

import os
import re
import socket

from prometheus_client import Counter, Histogram, values

from approvals.observability.multiprocess import metrics_dir

if metrics_dir():
    # Files are named after the process: with the host name in it, containers sharing one
    # metrics volume (web and worker, each its own PID 1) never write each other's file.
    _HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())
    values.ValueClass = values.MultiProcessValue(lambda: f"{_HOST}-{os.getpid()}")

# Seconds: from a quick local answer to a slow receiver cut off at the whole-request timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "approvals_http_requests",
    "HTTP requests answered, by route (the route table's path) and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "approvals_http_request_duration_seconds",
    "Time from a request's arrival in the app to its answer, by route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
EMAILS = Counter(
    "approvals_emails",
    "Approval and options emails by backend and outcome: sent, retry (a temporary failure, "
    "tried again later) or failed (given up).",
    ["backend", "outcome"],
)
CALLBACK_ATTEMPTS = Counter(
    "approvals_callback_attempts",
    "Callback attempts by outcome: delivered, or the attempt's error code "
    "(http_status, timeout, connection, dns, blocked_address, invalid_request).",
    ["outcome"],
)
CALLBACK_LATENCY = Histogram(
    "approvals_callback_attempt_duration_seconds",
    "Time one callback attempt took, connect to the end of the answer.",
    buckets=LATENCY_BUCKETS,
)
GRAPH_REQUESTS = Counter(
    "approvals_graph_requests",
    "Microsoft Graph requests by answer: the HTTP status, or timeout / unreachable.",
    ["status"],
)
GRAPH_THROTTLE_WAITS = Counter(
    "approvals_graph_throttle_waits",
    "Times a Graph call waited for Retry-After (429, 503, 504) before trying again.",
)
GRAPH_THROTTLE_SECONDS = Counter(
    "approvals_graph_throttle_wait_seconds",
    "Seconds Graph calls spent waiting for Retry-After.",
)
