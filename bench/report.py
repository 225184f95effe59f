"""The markdown table (figure, ours, baseline, ratio) and the issue's targets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    figure: str
    ours: Any
    baseline: Any = None
    ratio: float | None = None


@dataclass(frozen=True)
class Target:
    text: str
    met: bool | None  # None: not measured


@dataclass
class BackendReport:
    backend: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio_of(ours: float, baseline: float) -> float | None:
    if any(not isinstance(v, (int, float)) or math.isnan(v) for v in (ours, baseline)):
        return None
    return ours / baseline if baseline else None


def ratio_text(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2f}×"


def table(rows: list[Row]) -> str:
    lines = ["| figure | ours | baseline | ratio |", "|---|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row.figure} | {number(row.ours)} | {number(row.baseline)} | "
            f"{ratio_text(row.ratio)} |"
        )
    return "\n".join(lines)


def render(report: BackendReport) -> str:
    parts = [f"### {report.backend}", "", table(report.rows), ""]
    if report.targets:
        parts.append("Targets (issue 6):")
        parts.append("")
        for target in report.targets:
            mark = {True: "met", False: "**missed**", None: "not measured"}[target.met]
            parts.append(f"- {target.text}: {mark}")
        parts.append("")
    if report.notes:
        parts.append("Notes:")
        parts.append("")
        parts.extend(f"- {note}" for note in report.notes)
        parts.append("")
    return "\n".join(parts)
