"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright.

Playwright's own browser downloads are never used: the system binary is launched directly, so
``playwright install`` is not needed. Tests that need it skip when ``/usr/bin/chromium`` is not
installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Headless, no sandbox (tests run as root), and nothing that phones home: the browser only
# ever talks to the service on 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = f"{CHROMIUM} is not installed (apt-get install -y chromium)"


def chromium_available() -> bool:
    return CHROMIUM.exists()


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """The system Chromium, headless, closed afterwards."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
