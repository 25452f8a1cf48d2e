"""How every time is shown, on pages and in e-mails: in the active time zone (Django's
``timezone.activate``, set per user by the middleware; else ``TIME_ZONE``), always naming
the zone, e.g. "20 Nov 2026, 18:00 EST". One place, so no page shows a bare time."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import dateformat, timezone

STYLES = {
    "": "j M Y, H:i",
    "seconds": "j M Y, H:i:s",
    "day": "D j M Y, H:i",
    "time": "H:i",
    "time_s": "H:i:s",
    "short": "j M H:i",
    "date": "j M Y",
}


def zone_label(local: datetime) -> str:
    """The zone's abbreviation when it has one ("EST", "CET", "UTC"); else its IANA name
    ("Asia/Dubai": the database abbreviates some zones only as "+04")."""
    abbreviation = local.tzname() or ""
    if abbreviation[:1].isalpha():
        return abbreviation
    return timezone.get_current_timezone_name()


def show_time(value, style: str = "") -> str:
    """``value`` (an aware datetime, or an ISO 8601 string) in the active zone, with the zone
    named; empty for nothing. A ``date`` alone has no zone and is shown as a date."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    fmt = STYLES.get(style, STYLES[""])
    if not isinstance(value, datetime):
        return dateformat.format(value, "j M Y") if isinstance(value, date) else str(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    local = timezone.localtime(value)
    return f"{dateformat.format(local, fmt)} {zone_label(local)}"
