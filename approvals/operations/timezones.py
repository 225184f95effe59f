"""Time zone names as callers give them, resolved once: for Graph, for arithmetic, for answers.

A caller may name a zone the connector's way ("(UTC+01:00) Brussels, Copenhagen, Madrid,
Paris"), the Windows way ("Romance Standard Time", what Graph documents) or the IANA way
("Europe/Paris"). Graph is sent the Windows id (every Windows zone is accepted there, IANA
names only from a list); our own checks (does the event end before it starts?) and the
offsets in answers use the IANA zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from approvals.operations.timezone_names import ZONES

_BY_LABEL = {label.lower(): (windows, iana) for label, windows, iana in ZONES}
_BY_WINDOWS = {windows.lower(): (windows, iana) for _, windows, iana in ZONES}
_WINDOWS_OF_IANA: dict[str, str] = {}
for _, _windows, _iana in ZONES:
    _WINDOWS_OF_IANA.setdefault(_iana.lower(), _windows)
_WINDOWS_OF_IANA.update({"utc": "UTC", "etc/utc": "UTC", "gmt": "UTC", "etc/gmt": "UTC"})
# "(UTC+01:00) Brussels, ..." and "(UTC) Coordinated Universal Time": the connector's labels.
_DISPLAY = re.compile(r"^\(UTC(?:[+-]\d{2}:\d{2})?\)\s*(?P<label>.+)$")
# Graph writes local times with seven fractional digits.
GRAPH_LOCAL = "%Y-%m-%dT%H:%M:%S.0000000"


class UnknownTimeZone(ValueError):
    """A name that is no Windows, connector or IANA time zone."""


@dataclass(frozen=True)
class TimeZone:
    """``name`` as the caller gave it (answers repeat it), ``windows`` for Graph, ``zone``."""

    name: str
    windows: str
    zone: ZoneInfo


UTC_ZONE = TimeZone("UTC", "UTC", ZoneInfo("UTC"))


def resolve(name: str | None) -> TimeZone:
    """The zone ``name`` means; empty means UTC (the connector's first choice is "")."""
    text = (name or "").strip()
    if not text or text.upper() == "UTC":
        return UTC_ZONE if not text else TimeZone(text, "UTC", ZoneInfo("UTC"))
    display = _DISPLAY.match(text)
    known = _BY_LABEL.get(display.group("label").lower()) if display else None
    known = known or _BY_WINDOWS.get(text.lower())
    if known is not None:
        return TimeZone(text, known[0], ZoneInfo(known[1]))
    if len(text) > 64 or text.startswith(("/", ".")) or ".." in text:
        raise UnknownTimeZone(f"unknown time zone {text!r}")
    try:
        zone = ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(
            f"unknown time zone {text!r}: give a Windows name (Pacific Standard Time), "
            "an IANA name (America/Los_Angeles) or one of the connector's (UTC±hh:mm) names"
        ) from None
    return TimeZone(text, _WINDOWS_OF_IANA.get(text.lower(), text), zone)


def read_local(text: str, zone: TimeZone) -> datetime:
    """A date and time as given, as an aware instant: with an offset (or Z) it is that
    instant, without one it is a wall-clock time in ``zone``."""
    moment = datetime.fromisoformat(_trim(text))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone.zone)
    return moment


def _trim(text: str) -> str:
    """Python reads at most six fractional digits; Graph writes seven."""
    text = text.strip()
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", text)
    if match:
        text = f"{match.group(1)}.{match.group(2)[:6]}{match.group(3)}"
    return text.replace("z", "Z")


def graph_local(moment: datetime, zone: TimeZone) -> str:
    """``moment`` as Graph's wall-clock dateTime in ``zone`` (no offset)."""
    return moment.astimezone(zone.zone).strftime(GRAPH_LOCAL)


def with_offset(moment: datetime, zone: TimeZone) -> str:
    """``moment`` in ``zone`` with its offset: ``2017-08-29T04:00:00.0000000+00:00``."""
    local = moment.astimezone(zone.zone)
    offset = local.strftime("%z") or "+0000"
    return f"{local.strftime(GRAPH_LOCAL)}{offset[:3]}:{offset[3:]}"


def from_graph(value: dict[str, str] | None) -> datetime | None:
    """Graph's ``dateTimeTimeZone`` as an aware instant (None when absent or unreadable)."""
    if not value or not value.get("dateTime"):
        return None
    try:
        zone = resolve(value.get("timeZone") or "UTC")
        return read_local(value["dateTime"], zone)
    except (UnknownTimeZone, ValueError):
        return None
