"""Page screenshots the browser tests keep, and a check that one is not blank.

They go to the test's folder; with ``APPROVALS_SCREENSHOTS=<folder>`` the ones the README
shows are written there too (``docs/screenshots`` holds the committed ones).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from playwright.sync_api import Page


def distinct_pixels(png: bytes, limit: int = 64) -> int:
    """How many different byte values the image data holds (capped): a blank page has one or
    two (the filter byte and the background)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    data, at = b"", 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data)[: 4 * 1024 * 1024])) if data else 0


def shot(page: Page, folder: Path, name: str, readme: bool = False) -> Path:
    """Save the whole page as ``name.png``; fail if it came out blank."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    png = page.screenshot(path=str(path), full_page=True)
    assert distinct_pixels(png) > 8, f"the screenshot of {page.url} is blank"
    assert page.inner_text("body").strip(), f"{page.url} shows no text"
    wanted = os.environ.get("APPROVALS_SCREENSHOTS")
    if readme and wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        (Path(wanted) / f"{name}.png").write_bytes(png)
    return path
