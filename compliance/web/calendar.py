"""The private iCalendar feed (SPEC "Pages"): a user's due sign-offs (pending, current round,
of the releases they own, while under review or limited) and due requests (in force, open or
acknowledged, assigned to them). The URL's secret is the credential: a wrong or revoked
secret is a 404, like a page that does not exist."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from compliance import clock
from compliance.models import (
    GovernmentRequest,
    ReleaseStatus,
    RequestStatus,
    SignOff,
    SignOffStatus,
    UserPreference,
)

EVENT_LENGTH = timedelta(minutes=30)
LIMIT = 500  # items per kind: a feed, not an export


def due_signoffs(user):
    return (
        SignOff.objects.filter(
            release__owner=user,
            status=SignOffStatus.PENDING,
            round=F("release__review_round"),
            release__status__in=(ReleaseStatus.IN_REVIEW, ReleaseStatus.LIMITED),
        )
        .select_related("release", "agency")
        .order_by("due_at", "pk")[:LIMIT]
    )


def due_requests(user):
    return (
        GovernmentRequest.objects.filter(
            assignee=user,
            status__in=(RequestStatus.OPEN, RequestStatus.ACKNOWLEDGED),
            due_at__isnull=False,
        )
        .select_related("agency")
        .order_by("due_at", "pk")[:LIMIT]
    )


def _event(uid: str, summary: str, due, url: str, description: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", clock.now())
    event.add("dtstart", due)
    event.add("dtend", due + EVENT_LENGTH)
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", url)
    return event


def feed(user) -> bytes:
    site = settings.SITE_URL.rstrip("/")
    domain = site.split("://", 1)[-1]
    cal = Calendar()
    cal.add("prodid", "-//Clearance//due sign-offs and requests//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Clearance: {user.get_username()}")
    for s in due_signoffs(user):
        cal.add_component(
            _event(
                f"signoff-{s.pk}@{domain}",
                f"Sign-off due: {s.agency.code} {s.stage} for {s.release.name}",
                s.due_at,
                site + reverse("web:release", args=[s.release.slug]),
                f"Round {s.round}, {s.agency.name}, stage {s.stage}.",
            )
        )
    for r in due_requests(user):
        cal.add_component(
            _event(
                f"request-{r.pk}@{domain}",
                f"Request due: {r.agency.code} {r.reference}",
                r.due_at,
                site + reverse("web:request", args=[r.pk]),
                f"{r.get_kind_display()} ({r.status}).",
            )
        )
    return cal.to_ical()


@require_GET
def calendar_feed(request, secret: str):
    pref = (
        UserPreference.objects.filter(calendar_secret=secret, user__is_active=True)
        .select_related("user")
        .first()
        if secret
        else None
    )
    if pref is None:
        raise Http404("No such calendar.")
    response = HttpResponse(feed(pref.user), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response
