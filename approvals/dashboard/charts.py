"""Small SVG charts drawn on the server: no script, no asset, readable on a phone.

Every label is escaped; the pictures carry a <title> and the pages give the numbers in text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 200
MARGIN = 28
COLOURS = {
    "completed": "#1a7f37",
    "pending": "#9a6700",
    "cancelled": "#57606a",
    "expired": "#cf222e",
    "delivered": "#1a7f37",
    "due": "#9a6700",
    "delivering": "#0969da",
    "failed": "#cf222e",
    "stopped": "#8250df",
    "dropped": "#57606a",
}


@dataclass(frozen=True)
class Stack:
    """One bar: its label and each part's value, drawn bottom to top in ``parts`` order."""

    label: str
    values: dict[str, int]


def _colour(name: str) -> str:
    return COLOURS.get(name, "#0969da")


def stacked_bars(title: str, bars: Sequence[Stack], parts: Sequence[str]) -> str:
    """Bars of stacked parts (requests per day by outcome), with a legend."""
    top = max((sum(bar.values.values()) for bar in bars), default=0) or 1
    inner_h = HEIGHT - 2 * MARGIN
    step = (WIDTH - 2 * MARGIN) / max(len(bars), 1)
    shapes: list[str] = []
    for i, bar in enumerate(bars):
        x = MARGIN + i * step + step * 0.15
        y = HEIGHT - MARGIN
        for part in parts:
            value = bar.values.get(part, 0)
            if not value:
                continue
            h = inner_h * value / top
            y -= h
            shapes.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{_colour(part)}"><title>{escape(bar.label)}: {value} {escape(part)}'
                f"</title></rect>"
            )
        if len(bars) <= 16 or i % 2 == 0:
            shapes.append(
                f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - MARGIN + 14}" font-size="10" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    shapes.append(f'<text x="4" y="{MARGIN - 8}" font-size="10">max {top}</text>')
    legend = "".join(
        f'<rect x="{MARGIN + i * 110}" y="{HEIGHT - 10}" width="10" height="10" '
        f'fill="{_colour(part)}"/><text x="{MARGIN + i * 110 + 14}" y="{HEIGHT - 1}" '
        f'font-size="11">{escape(part)}</text>'
        for i, part in enumerate(parts)
    )
    return _svg(title, "".join(shapes) + legend, HEIGHT + 6)


def bars(title: str, values: Sequence[tuple[str, int]]) -> str:
    """Plain horizontal bars, one per label (callback outcomes, latency buckets)."""
    top = max((v for _, v in values), default=0) or 1
    row = 22
    shapes = []
    for i, (label, value) in enumerate(values):
        y = 6 + i * row
        w = (WIDTH - 220) * value / top
        shapes.append(
            f'<text x="4" y="{y + 14}" font-size="12">{escape(label)}</text>'
            f'<rect x="150" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{_colour(label)}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{156 + w:.1f}" y="{y + 14}" font-size="12">{value}</text>'
        )
    return _svg(title, "".join(shapes), 12 + row * max(len(values), 1))


def _svg(title: str, body: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'width="100%" font-family="sans-serif"><title>{escape(title)}</title>{body}</svg>'
    )
