"""A local webhook receiver: prints each callback and checks its Standard Webhooks signature.

WEBHOOK_SECRET=whsec_... python examples/receiver.py 9000
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = os.environ["WEBHOOK_SECRET"]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = Webhook(SECRET).verify(body, dict(self.headers))
            print(f"verified {self.headers['webhook-id']}:", json.dumps(payload, indent=2))
            self.send_response(204)
        except WebhookVerificationError as exc:
            print("REJECTED (bad signature):", exc, body[:200])
            self.send_response(400)
        self.end_headers()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"listening on http://127.0.0.1:{port}/")
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
