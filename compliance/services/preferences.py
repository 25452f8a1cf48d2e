"""A user's own settings: display time zone, private calendar feed secret (SPEC "Pages").
Each user changes their own; an admin may change anyone's. No history row (see the model)."""

from __future__ import annotations

import secrets

from compliance.models import UserPreference
from compliance.services.common import lock, require_admin, service_transaction
from compliance.zones import forget_time_zone


def _own_or_admin(user, actor) -> None:
    if actor is not None and actor.pk != user.pk:
        require_admin(actor)


def preference_of(user) -> UserPreference:
    """The user's preferences, unsaved defaults when they never set any (a read)."""
    return UserPreference.objects.filter(user=user).first() or UserPreference(user=user)


def _locked_preference(user) -> UserPreference:
    # get_or_create then lock: two first saves cannot make two rows (unique user).
    pref, _ = UserPreference.objects.get_or_create(user=user)
    return lock(pref)


@service_transaction
def set_time_zone(user, *, actor, time_zone: str) -> UserPreference:
    """The zone the user's pages show times in and read form times in ("" = TIME_ZONE)."""
    _own_or_admin(user, actor)
    pref = _locked_preference(user)
    pref.time_zone = time_zone
    pref.full_clean()
    pref.save(update_fields=["time_zone"])
    forget_time_zone(user)
    return pref


@service_transaction
def regenerate_calendar_secret(user, *, actor) -> tuple[str, bool]:
    """A new secret for the private calendar feed; the old URL answers 404 from now on.
    Returns the secret and whether it replaced one (read under the lock, so the page can say
    "the previous URL no longer works" only when there was one)."""
    _own_or_admin(user, actor)
    pref = _locked_preference(user)
    replaced = pref.calendar_secret is not None
    pref.calendar_secret = secrets.token_urlsafe(32)
    pref.save(update_fields=["calendar_secret"])
    return pref.calendar_secret, replaced


@service_transaction
def revoke_calendar_secret(user, *, actor) -> None:
    """No feed: every URL given out so far answers 404."""
    _own_or_admin(user, actor)
    pref = _locked_preference(user)
    if pref.calendar_secret is not None:
        pref.calendar_secret = None
        pref.save(update_fields=["calendar_secret"])
