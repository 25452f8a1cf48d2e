"""The display time zone of the signed-in user (SPEC "Pages": every time shown names its
zone; forms take times in it). One helper for both sides: ``user_time_zone`` answers which
zone, ``TimeZoneMiddleware`` activates it for the request, so Django's own date rendering
(``|date``, ``localtime``) and form parsing (a ``datetime-local`` value is read in the
current zone) follow it."""

from __future__ import annotations

import time
import zoneinfo

from django.utils import timezone

from compliance.zones import default_time_zone, time_zone_name, user_time_zone

__all__ = ["TimeZoneMiddleware", "default_time_zone", "time_zone_name", "user_time_zone"]

API_PREFIXES = ("/api/", "/access/")
# The zone's name in the session (read with it, so a page pays no query for it), refreshed
# after this long: a zone changed in another browser shows here within minutes.
SESSION_KEY = "clearance_time_zone"
SESSION_MAX_AGE = 300


def remember_time_zone(request, zone: zoneinfo.ZoneInfo) -> None:
    """Keep ``zone`` in the session (the profile page calls it after a change)."""
    request.session[SESSION_KEY] = {
        "user": request.user.pk,
        "zone": zone.key,
        "at": time.time(),
    }


def _session_zone(request) -> zoneinfo.ZoneInfo | None:
    held = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(held, dict) or held.get("user") != request.user.pk:
        return None
    if time.time() - held.get("at", 0) > SESSION_MAX_AGE:
        return None
    try:
        return zoneinfo.ZoneInfo(held["zone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, KeyError, TypeError):
        return None


def request_time_zone(request) -> zoneinfo.ZoneInfo:
    """The zone of this request's user: from the session, else the database (then kept)."""
    zone = _session_zone(request)
    if zone is None:
        zone = user_time_zone(request.user)
        if hasattr(request, "session"):
            remember_time_zone(request, zone)
    return zone


def on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the zone goes into the new session with the login's own save."""
    if request is not None and hasattr(request, "session"):
        request.user = user
        remember_time_zone(request, user_time_zone(user))


class TimeZoneMiddleware:
    """Activate the signed-in user's zone for the request (after AuthenticationMiddleware).
    The user is read lazily: only a request that renders or parses a time asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        # The API speaks ISO 8601 with offsets and pins its query counts: pages only.
        page = not request.path.startswith(API_PREFIXES)
        if page and user is not None and getattr(user, "is_authenticated", False):
            timezone.activate(request_time_zone(request))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
