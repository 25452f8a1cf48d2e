"""Which time zone a person reads times in: their display zone (UserPreference), else
``TIME_ZONE``. Pages activate it per request (compliance.web.timezones); e-mails render each
recipient's message inside ``timezone.override(user_time_zone(recipient))``."""

from __future__ import annotations

import zoneinfo

from django.conf import settings

from compliance.models import UserPreference

# The zone is kept on the user object once read: a page or a digest asks more than once.
CACHE_ATTR = "_clearance_time_zone"


def default_time_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _zone(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else default_time_zone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone the system dropped
        return default_time_zone()


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The user's chosen zone, else settings.TIME_ZONE (also for anonymous users)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return default_time_zone()
    cached = getattr(user, CACHE_ATTR, None)
    if cached is None:
        name = UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
        cached = _zone(name)
        setattr(user, CACHE_ATTR, cached)
    return cached


def load_time_zones(users) -> None:
    """Read the zones of many users in one query (a sweep's recipients), so rendering each
    one's e-mail asks nothing more."""
    users = [u for u in users if getattr(u, CACHE_ATTR, None) is None]
    if not users:
        return
    names = dict(
        UserPreference.objects.filter(user__in=[u.pk for u in users]).values_list(
            "user_id", "time_zone"
        )
    )
    for user in users:
        setattr(user, CACHE_ATTR, _zone(names.get(user.pk)))


def forget_time_zone(user) -> None:
    """After a change of the zone: the next ``user_time_zone`` reads it again."""
    setattr(user, CACHE_ATTR, None)


def time_zone_name(user) -> str:
    return user_time_zone(user).key
