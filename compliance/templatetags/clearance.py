"""Small display helpers for the pages: countdowns, durations, status labels."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from compliance import clock
from compliance.errors import Blocker
from compliance.timefmt import show_time

register = template.Library()


def _days_hours_minutes(seconds: int) -> tuple[int, int, int]:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return days, hours, rest // 60


def _span(delta: timedelta) -> str:
    days, hours, minutes = _days_hours_minutes(int(abs(delta.total_seconds())))
    if days >= 2:
        return f"{days} days"
    if days == 1:
        return f"1 day {hours} h" if hours else "1 day"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@register.filter
def countdown(moment) -> str:
    """'due in 2 days' / 'overdue by 3 h'; empty when there is no due time."""
    if not moment:
        return ""
    delta = moment - clock.now()
    if delta.total_seconds() >= 0:
        return f"due in {_span(delta)}"
    return f"overdue by {_span(delta)}"


@register.filter
def is_overdue(moment) -> bool:
    return bool(moment) and moment < clock.now()


@register.filter
def duration(delta) -> str:
    return _span(delta) if delta is not None else ""


@register.filter
def elapsed(seconds) -> str:
    """A measured interval in seconds, readable and exact: "18 days 2 h 3 min (1,562,588 s)".
    Unlike ``duration`` (a rough span for a deadline) nothing is rounded away: the words
    go down to the minute and the exact seconds stay beside them, for an auditor comparing
    them with the API's ``time_to_enforce``. Empty for nothing."""
    if seconds is None or seconds == "":
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    days, hours, minutes = _days_hours_minutes(seconds)
    words = [
        f"{days} day{'s' if days != 1 else ''}" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return f"{' '.join(w for w in words if w)} ({seconds:,} s)"


@register.filter
def label(value) -> str:
    """'in_review' → 'In review'."""
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


@register.filter
def blocker_message(data) -> str:
    """A blocker dict from the gate (``{"kind", ...}``) in words."""
    if isinstance(data, Blocker):
        return data.message
    fields = {k: v for k, v in data.items() if k != "kind"}
    return Blocker(data["kind"], fields).message


@register.filter
def when(value, style: str = "") -> str:
    """Every time the pages and e-mails show: in the active zone, naming it ("20 Nov 2026,
    18:00 EST"). ``style``: "" (default), "seconds", "day", "time", "time_s", "short", "date"
    (see compliance.timefmt.STYLES)."""
    return show_time(value, style)


@register.filter
def isotime(value):
    """An ISO 8601 string (as in an audit item) as a datetime, for ``|date``."""
    if not value:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@register.filter
def audit_value(value) -> str:
    """One side of a field change in words: lists joined, nothing as an em dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@register.filter
def reminder_item(item) -> str:
    """One entry of a reminder's ``items``: a digest line or an immediate notification."""
    if not isinstance(item, dict):
        return str(item)
    if item.get("title"):
        urgency = item.get("urgency")
        return f"{item['title']} ({label(urgency).lower()})" if urgency else item["title"]
    parts = [label(item.get("kind", "")), item.get("release") or ""]
    return " · ".join(p for p in parts if p) or item.get("key", "")


@register.simple_tag(takes_context=True)
def sort_header(context, filterset, column: str, title: str):
    """A sortable column header of a list page: a link that sorts by ``column`` (the
    FilterSet's ``o`` filter), descending when already ascending; ``aria-sort`` says how the
    list is sorted now. Every other filter of the query string is kept."""
    request = context["request"]
    current = request.GET.get("o", "")
    if current == column:
        state, target, mark = "ascending", f"-{column}", " ▲"
    elif current == f"-{column}":
        state, target, mark = "descending", column, " ▼"
    else:
        state, target, mark = None, column, ""
    query = request.GET.copy()
    for key in ("o", "page", "cursor"):
        query.pop(key, None)
    query["o"] = target
    aria = format_html(' aria-sort="{}"', state) if state else ""
    return format_html(
        '<th scope="col"{}><a class="sort" href="?{}">{}<span aria-hidden="true">{}</span></a></th>',
        aria,
        query.urlencode(),
        title,
        mark,
    )


@register.filter
def blocker_html(data):
    """A blocker in words, with the request it names linked to its page ("DOC request
    BIS-20261118-LR is in force"). A plain sentence (a step that is no blocker) is escaped."""
    if isinstance(data, str):
        return escape(data)
    item = (
        data
        if isinstance(data, Blocker)
        else Blocker(data["kind"], {k: v for k, v in data.items() if k != "kind"})
    )
    text = escape(item.message)
    request_id = item.fields.get("request")
    name = item.request_name
    if request_id is not None and name:
        link = format_html('<a href="{}">{}</a>', reverse("web:request", args=[request_id]), name)
        text = mark_safe(str(text).replace(str(escape(name)), str(link), 1))
    return text
