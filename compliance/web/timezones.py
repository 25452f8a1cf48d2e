"""The display time zone of the signed-in user (SPEC "Pages": every time shown names its
zone; forms take times in it). One helper for both sides: ``user_time_zone`` answers which
zone, ``TimeZoneMiddleware`` activates it for the request, so Django's own date rendering
(``|date``, ``localtime``) and form parsing (a ``datetime-local`` value is read in the
current zone) follow it."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils import timezone

from compliance.models import UserPreference


def default_time_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The user's chosen zone, else settings.TIME_ZONE (also for anonymous users)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return default_time_zone()
    cached = getattr(user, "_clearance_time_zone", None)
    if cached is None:
        name = UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
        try:
            cached = zoneinfo.ZoneInfo(name) if name else default_time_zone()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone the system dropped
            cached = default_time_zone()
        user._clearance_time_zone = cached
    return cached


def time_zone_name(user) -> str:
    return user_time_zone(user).key


API_PREFIXES = ("/api/", "/access/")


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
            timezone.activate(user_time_zone(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
