"""E-mails a person would read: what, how urgent, and a link to each item's page.
Templates live in ``templates/emails/`` (a text part and an HTML part each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from compliance.timefmt import show_time
from compliance.zones import user_time_zone

SUBJECT_PREFIX = "[Clearance]"

OVERDUE = "overdue"
DUE_SOON = "due_soon"
ALERT = "alert"


@dataclass
class ReminderItem:
    """One thing a digest reminds of: a sign-off, a request or a compliance alert."""

    key: str  # the claim's item key: signoff:12, request:3, alert:<kind>:<release>:<x>
    kind: str  # signoff | request | alert
    urgency: str  # overdue | due_soon | alert
    title: str
    detail: str
    url: str
    due_at: datetime | None = None
    overdue_by: timedelta | None = None
    escalated_to: set[int] = field(default_factory=set)  # recipients who get it as escalation

    def for_log(self, recipient_id: int) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "urgency": self.urgency,
            "escalated": recipient_id in self.escalated_to,
            "title": self.title,
            "url": self.url,
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _counts(items: list[ReminderItem]) -> str:
    words = {"signoff": "sign-off", "request": "request"}
    out = []
    for kind in ("signoff", "request"):
        n = sum(1 for i in items if i.kind == kind)
        if n:
            out.append(plural(n, words[kind]))
    return ", ".join(out)


def digest_subject(items: list[ReminderItem]) -> str:
    """E.g. ``[Clearance] ALERT: 1 compliance alert; OVERDUE: 2 sign-offs, 1 request``."""
    alerts = [i for i in items if i.urgency == ALERT]
    overdue = [i for i in items if i.urgency == OVERDUE]
    soon = [i for i in items if i.urgency == DUE_SOON]
    parts = []
    if alerts:
        parts.append(f"ALERT: {plural(len(alerts), 'compliance alert')}")
    if overdue:
        parts.append(f"OVERDUE: {_counts(overdue)}")
    if soon:
        parts.append(f"{'due soon' if parts else 'Due soon'}: {_counts(soon)}")
    return f"{SUBJECT_PREFIX} {'; '.join(parts)}"


def _describe_delta(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return plural(hours // 24, "day")
    if hours >= 1:
        return plural(hours, "hour")
    return plural(max(int(delta.total_seconds() // 60), 1), "minute")


def due_text(item: ReminderItem, now: datetime) -> str:
    if item.due_at is None:
        return ""
    when = show_time(item.due_at)
    if item.due_at < now:
        return f"due {when}, overdue by {_describe_delta(now - item.due_at)}"
    return f"due {when}, in {_describe_delta(item.due_at - now)}"


def _digest_row(item: ReminderItem, due: str, escalated: bool) -> dict:
    """One item of a digest, with its text and HTML lines formatted here, not in the template:
    a sweep at scale puts thousands of items in one digest, and the template engine took
    most of the sweep's time rendering them field by field."""
    mark = "[ESCALATED] " if escalated else ""
    text = f"\n- {mark}{item.title}{f' ({due})' if due else ''}\n  {item.detail}\n  {item.url}\n"
    html = (
        "\n  <li>"
        + ("<strong>[ESCALATED]</strong> " if escalated else "")
        + f'<a href="{escape(item.url)}">{escape(item.title)}</a>'
        + (f" ({escape(due)})" if due else "")
        + f"<br>{escape(item.detail)}</li>\n"
    )
    return {
        "title": item.title,
        "detail": item.detail,
        "url": item.url,
        "due": due,
        "escalated": escalated,
        "text": text,
        "html": mark_safe(html),  # every value above is escaped
    }


def _from_email() -> str:
    return settings.DEFAULT_FROM_EMAIL


def render_digest(recipient, items: list[ReminderItem], *, now: datetime) -> EmailMultiAlternatives:
    """One digest for one recipient, its times in the recipient's zone."""
    with timezone.override(user_time_zone(recipient)):
        return _render_digest(recipient, items, now=now)


def _render_digest(recipient, items: list[ReminderItem], *, now: datetime):
    """Alerts first, then overdue, then due soon."""
    sections = []
    for urgency, title in (
        (ALERT, "Compliance alerts"),
        (OVERDUE, "Overdue"),
        (DUE_SOON, "Due soon"),
    ):
        rows = [
            _digest_row(i, due_text(i, now), recipient.pk in i.escalated_to)
            for i in items
            if i.urgency == urgency
        ]
        if rows:
            sections.append({"title": title, "items": rows})
    context = {
        "recipient": recipient,
        "name": recipient.get_full_name() or recipient.get_username(),
        "sections": sections,
        "count": len(items),
        "site_url": settings.SITE_URL,
        "interval_hours": int(settings.REMINDER_INTERVAL.total_seconds() // 3600),
    }
    return _message(
        digest_subject(items), "emails/digest.txt", "emails/digest.html", context, recipient
    )


# R20: an owner event's (headline, subject after SUBJECT_PREFIX), filled from its payload
# and the release's ``slug``; any other event is "<slug>: <event>".
OWNER_EVENT_TEXTS = {
    "state_changed": ("{slug} moved from {from} to {to}", "{slug} is now {to} (was {from})"),
    "signoff_approved": (
        "{agency} approved the {stage} stage of {slug}",
        "{slug}: {agency} approved {stage}",
    ),
    "signoff_rejected": (
        "{agency} rejected the {stage} stage of {slug}",
        "REJECTED: {slug} {stage} by {agency}",
    ),
    "signoff_withdrawn": (
        "{agency} withdrew its {stage} approval of {slug}",
        "WITHDRAWN: {slug} {stage} by {agency}",
    ),
}


def render_notification(notification) -> EmailMultiAlternatives:
    """An immediate notification to a release owner (R20), its times in the owner's zone."""
    with timezone.override(user_time_zone(notification.recipient)):
        return _render_notification(notification)


def _render_notification(notification) -> EmailMultiAlternatives:
    release = notification.release
    p = notification.payload
    event = notification.event
    texts = OWNER_EVENT_TEXTS.get(event)
    if texts is None:
        headline = f"{release.slug}: {event}"
        subject = f"{SUBJECT_PREFIX} {headline}"
    else:
        values = {**p, "slug": release.slug}
        headline, subject = (text.format_map(values) for text in texts)
        subject = f"{SUBJECT_PREFIX} {subject}"
    recipient = notification.recipient
    context = {
        "name": recipient.get_full_name() or recipient.get_username(),
        "headline": headline,
        "actor": p.get("actor") or "system",
        "reason": p.get("reason", ""),
        "evidence": p.get("evidence", ""),
        "conditions": p.get("conditions", ""),
        "release": release,
        "url": site_url(f"/releases/{release.slug}/"),
        "at": notification.created_at,
    }
    return _message(
        subject, "emails/notification.txt", "emails/notification.html", context, recipient
    )


def _message(subject, text_template, html_template, context, recipient) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(text_template, context),
        from_email=_from_email(),
        to=[recipient.email],
    )
    message.attach_alternative(render_to_string(html_template, context), "text/html")
    return message
