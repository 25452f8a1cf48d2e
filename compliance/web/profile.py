"""The profile page (SPEC "Pages"): display time zone, API tokens (create — shown once —,
list, revoke) and the private calendar feed URL (regenerate, revoke)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from knox.models import get_token_model

from compliance.models.preferences import time_zone_names
from compliance.services import preferences
from compliance.services import users as user_services
from compliance.web import once
from compliance.web.timezones import remember_time_zone, time_zone_name, user_time_zone
from compliance.web.views import _attempt

NEW_TOKEN = "clearance_new_token"  # session key: the token just created, shown once
CALENDAR_ON = "Calendar feed turned on: subscribe to the URL below."
CALENDAR_REPLACED = "New calendar feed URL: the previous one no longer works."


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Display time zone",
        help_text="Every time is shown in it, and times you type in forms are read in it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in time_zone_names()]


class EmptyForm(forms.Form):
    pass


def _page(request, *, tz_form=None, status=200):
    user = request.user
    pref = preferences.preference_of(user)
    feed_url = (
        request.build_absolute_uri(reverse("web:calendar", args=[pref.calendar_secret]))
        if pref.calendar_secret
        else None
    )
    tokens = get_token_model().objects.filter(user=user, expiry__gt=timezone.now())
    return render(
        request,
        "compliance/profile.html",
        {
            "tz_form": tz_form or TimeZoneForm(initial={"time_zone": time_zone_name(user)}),
            "tokens": tokens.order_by("-created"),
            "new_token": request.session.pop(NEW_TOKEN, None),
            "feed_url": feed_url,
            "nav": "profile",
        },
        status=status,
    )


@login_required
def profile(request):
    return _page(request)


def _profile_action(request, form, call, done):
    return _attempt(
        request,
        form,
        call,
        success=reverse("web:profile"),
        done=done,
        rerender=lambda refusal, status: _page(
            request, tz_form=form if isinstance(form, TimeZoneForm) else None, status=status
        ),
    )


@login_required
@once.post_only(lambda **_: reverse("web:profile"))
@once.submit_once
def profile_time_zone(request):
    return _profile_action(
        request,
        TimeZoneForm(request.POST),
        lambda d: _set_zone(request, d["time_zone"]),
        "Time zone saved.",
    )


def _set_zone(request, name: str) -> None:
    preferences.set_time_zone(request.user, actor=request.user, time_zone=name)
    remember_time_zone(request, user_time_zone(request.user))


def _issue(request):
    # The clear token travels to the next page in the session and is removed as it is shown.
    request.session[NEW_TOKEN] = user_services.issue_token(request.user)


@login_required
@once.post_only(lambda **_: reverse("web:profile"))
@once.submit_once
def token_create(request):
    return _profile_action(
        request,
        EmptyForm(request.POST),
        lambda d: _issue(request),
        "API token created: copy it now, it is not shown again.",
    )


@login_required
@once.post_only(lambda **_: reverse("web:profile"))
@once.submit_once
def token_revoke(request, digest):
    token = get_object_or_404(get_token_model(), digest=digest, user=request.user)
    return _profile_action(
        request,
        EmptyForm(request.POST),
        lambda d: user_services.revoke_token(token, actor=request.user),
        "API token revoked.",
    )


@login_required
@once.post_only(lambda **_: reverse("web:profile"))
@once.submit_once
def calendar_regenerate(request):
    return _profile_action(
        request,
        EmptyForm(request.POST),
        lambda d: preferences.regenerate_calendar_secret(request.user, actor=request.user),
        lambda secret_and_replaced: CALENDAR_REPLACED if secret_and_replaced[1] else CALENDAR_ON,
    )


@login_required
@once.post_only(lambda **_: reverse("web:profile"))
@once.submit_once
def calendar_revoke(request):
    return _profile_action(
        request,
        EmptyForm(request.POST),
        lambda d: preferences.revoke_calendar_secret(request.user, actor=request.user),
        "Calendar feed turned off: its URL no longer works.",
    )
