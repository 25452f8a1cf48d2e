"""A user's own settings (SPEC "Pages"): the display time zone, and the secret of their private
calendar feed. Neither is a record of the lab's decisions, so they keep no history row (like
API tokens): the secret is a credential."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (the choices of the profile page)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError("Choose a time zone from the list (e.g. America/New_York).")


class UserPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA name; times are shown and read in it. Empty: settings.TIME_ZONE.",
        blank=True,
    )
    # The private iCalendar feed's URL carries this; null: no feed (revoked or never made).
    calendar_secret = models.CharField(max_length=64, unique=True, null=True, blank=True)

    def __str__(self) -> str:
        return f"preferences of {self.user}"
