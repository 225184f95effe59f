"""gunicorn's access and error logs through our logging: one line per request, no secrets.

gunicorn's own access format writes the request line, and a recipient's link
(``/respond/<token>``) is enough to answer for them. Each request is logged here with its path
only (the token replaced, the query string left out), its status, size, duration, and the
request id the app answered with.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from gunicorn import glogging

from approvals.observability.logs import scrub


class AccessLogger(glogging.Logger):  # type: ignore[misc]
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # Our handlers on the root logger (configure_logging) write every line in one format.
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        headers = {name.lower(): value for name, value in resp.headers}
        path = scrub(req.path)
        milliseconds = round(request_time.total_seconds() * 1000, 1)
        self.access_log.log(
            logging.INFO,
            "%s %s %s %s %sms",
            environ.get("REMOTE_ADDR", "-"),
            req.method,
            path,
            resp.status_code,
            milliseconds,
            extra={
                "request_id": headers.get("x-request-id"),
                "method": req.method,
                "path": path,
                "status": resp.status_code,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": milliseconds,
                "user_agent": environ.get("HTTP_USER_AGENT", ""),
            },
        )
