"""Timestamps as they leave the service: ISO 8601 with an offset, one way everywhere.

The store keeps times as seconds since the epoch (a float, or the string Redis gives back).
Every API answer passes through `iso_times`, so each timestamp field (a name ending in `_at` or
`_until`, or an attempt's `at` and an audit entry's `t`), however deep, reads like
"2026-11-26T09:12:20+00:00" in the service's time zone (Europe/London, so summer times carry
+01:00). No time (None, "" or 0, as an unset lease or next attempt is stored) becomes null.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

_EXACT = {"at", "t"}
_SUFFIXES = ("_at", "_until")


def iso(value: float | int | str | None, tz: tzinfo) -> str | None:
    """One timestamp as ISO 8601 with an offset, to the second; None when there is none.

    A value that already is a date-time string is passed through as it is.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return str(value) or None
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz).isoformat(timespec="seconds")


def is_time_field(name: str) -> bool:
    return name in _EXACT or name.endswith(_SUFFIXES)


def iso_times(record, tz: tzinfo):
    """A copy of `record` (dicts and lists, nested) with every timestamp field made ISO 8601."""
    if isinstance(record, dict):
        return {
            name: iso(value, tz)
            if is_time_field(name) and not isinstance(value, dict | list)
            else iso_times(value, tz)
            for name, value in record.items()
        }
    if isinstance(record, list):
        return [iso_times(item, tz) for item in record]
    return record
