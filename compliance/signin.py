"""Sign-in protection shared by the login page and POST /api/v1/auth/token/ (issue 13,
defects 5 and 6): whose address a request comes from, the per-address lock-out that stops
password spraying, and the lock-out answer (JSON for the API, the page otherwise).

django-axes does the counting (AccessAttempt rows, so every worker sees the same counts);
this module plugs into its documented settings: AXES_CLIENT_IP_CALLABLE, AXES_HANDLER and
AXES_LOCKOUT_CALLABLE."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

LOCKED_DETAIL = "Too many failed sign-ins from this address or for this account: try again later."


def password_login_detail() -> str:
    """What the login page and the token endpoint answer when OIDC_ONLY turns passwords off."""
    return (
        "Password sign-in is turned off: sign in with "
        f"{settings.OIDC_PROVIDER_NAME} instead. API tokens are created on your profile page."
    )


class PasswordBackend(ModelBackend):
    """Django's username and password check, off when OIDC_ONLY (R40): every password path
    (the login page, the Django admin, the token endpoint, a shell's ``authenticate``) is
    refused, and a session opened by a password before OIDC_ONLY was set ends."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if settings.OIDC_ONLY:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        if settings.OIDC_ONLY:
            return None
        return super().get_user(user_id)


class IdentityProviderBackend(ModelBackend):
    """The backend of sessions that the single sign-on callback opens (compliance.web.oidc):
    it checks no credentials (the provider did), it only brings the session's user back, if
    still active."""

    def authenticate(self, request, **credentials):
        return None


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's, unless NUM_PROXIES trusted proxies append to
    X-Forwarded-For, then the address the outermost trusted proxy saw. A client can write
    anything into the header, so with no proxy configured it is ignored (the same rule as
    DRF's throttles with REST_FRAMEWORK["NUM_PROXIES"])."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    if not addresses:
        return remote
    return addresses[-min(proxies, len(addresses))]


class AddressLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler locks a (username, address) pair after AXES_FAILURE_LIMIT
    failures. This one also locks the address itself once all its failures within the
    cool-off, whatever the usernames, reach AXES_ADDRESS_FAILURE_LIMIT: 40 usernames × one
    password from one address are stopped, while a typo by one person behind a shared
    address does not lock out everyone else there."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        """Asked before a sign-in is tried (AxesStandaloneBackend)."""
        return super().is_locked(request, credentials) or self.address_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """After a failure is recorded, axes compares only its own counts: the address count
        decides too, so the failure that reaches the limit already gets the lock-out answer."""
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False):
            if self.address_locked(request):
                request.axes_locked_out = True
                request.axes_credentials = credentials

    def address_locked(self, request) -> bool:
        address = getattr(request, "axes_ip_address", None) or client_address(request)
        failures = AccessAttempt.objects.filter(
            ip_address=address, attempt_time__gte=timezone.now() - get_cool_off(request)
        ).aggregate(n=Sum("failures_since_start"))["n"]
        return (failures or 0) >= settings.AXES_ADDRESS_FAILURE_LIMIT


def lockout_response(
    request: HttpRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """429 with Retry-After: a JSON ``{"detail"}`` on the API (what its schema documents), the
    "Too many failed sign-ins" page elsewhere."""
    cool_off = get_cool_off(request)
    retry_after = str(int(cool_off.total_seconds())) if cool_off else None
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": LOCKED_DETAIL}, status=429)
    else:
        response = render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
    if retry_after:
        response["Retry-After"] = retry_after
    return response
