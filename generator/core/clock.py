"""Times as people read them: local time with its UTC offset ("2026-12-03 20:15:02 UTC+08:00").

The database keeps ISO 8601 strings with their offset (``now()``); every report shows them through
:func:`shown`, in the local zone of the machine writing the report, with the zone named."""

from __future__ import annotations

import datetime as dt


def now() -> str:
    """Now, local time with offset, ISO 8601 to the second (what the database stores)."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def shown(iso: str | None) -> str:
    """An ISO time for people: local time and zone. Text that is not an ISO time is returned as is."""
    if not iso:
        return ""
    try:
        t = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    t = t.astimezone()
    off = t.utcoffset() or dt.timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    zone = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    name = t.tzname() or ""
    if name and not name.startswith(("UTC", "+", "-")):
        zone = f"{zone} {name}"
    return f"{t:%Y-%m-%d %H:%M:%S} {zone}"
