"""Single sign-on with OpenID Connect (R40): the login page, the provider round trip, logout.

django-allauth's ``openid_connect`` provider does the protocol: discovery from OIDC_ISSUER,
the authorization code flow with PKCE (S256), the state kept in the session and used once,
the code exchange, the ID token's issuer, audience and expiry. Clearance plugs into its
documented hooks only: a provider class (``SOCIALACCOUNT_PROVIDERS["openid_connect"]
["provider_class"]``) whose redirect URI is exactly ``<SITE_URL>/auth/oidc/callback/``, and
a social account adapter (``SOCIALACCOUNT_ADAPTER``) that builds the one provider app from
the OIDC_* settings, hands the verified claims to the users service
(``sign_in_from_identity_provider``: user, role, audited as ``system:oidc``) and turns every
refusal and protocol failure into a page that says what happened, with no session.
allauth's own account pages (its password login, sign-up, e-mail management) are never
routed: Clearance's users are made by admins, commands and this sign-in only."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from allauth.account.signals import user_logged_in
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base.constants import AuthError
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse

from compliance.services import users
from compliance.signin import password_login_detail

log = logging.getLogger(__name__)

PROVIDER = "openid_connect"  # allauth's provider class id
PROVIDER_ID = "oidc"  # our one app of it
BACKEND = "compliance.signin.IdentityProviderBackend"
LOGOUT_SESSION_KEY = "clearance_oidc_logout"

REFUSALS = {
    users.NO_USERNAME: "{provider} sent neither a preferred_username nor an e-mail address, so "
    "Clearance cannot tell who you are.",
    users.INVALID_USERNAME: "{provider} names you “{username}”, which Clearance cannot take as "
    "a username (letters, digits and @ . + - _ only, at most 150).",
    users.NO_ROLE: "You signed in at {provider} as “{username}”, but none of your groups there "
    "gives a role in Clearance (admin, staff or auditor). Ask your administrator to add you "
    "to a group that Clearance maps to a role, then sign in again.",
    users.DEACTIVATED: "The Clearance account “{username}” is deactivated. Ask a Clearance "
    "admin to reactivate it.",
    users.NOT_A_PERSON: "“{username}” is the account of a gateway (a machine), not of a "
    "person: it cannot sign in.",
    users.LAST_ADMIN: "{provider} no longer puts “{username}” in an admin group, but you are "
    "the last active admin of Clearance: this sign-in would leave it with none. Another admin "
    "must exist first (or restore your admin group at {provider}). Your role is unchanged.",
}


def configured() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID)


def callback_url() -> str:
    """The redirect URI registered at the provider: exactly ``<SITE_URL>/auth/oidc/callback/``
    (not derived from the request's Host header)."""
    return settings.SITE_URL.rstrip("/") + reverse("web:oidc_callback")


class ClearanceOIDCAdapter(OpenIDConnectOAuth2Adapter):
    """allauth's OpenID Connect client with Clearance's fixed redirect URI; it also keeps
    what an RP-initiated logout needs (the raw ID token as a hint, the end-session
    endpoint), both from the provider's own answers."""

    def get_callback_url(self, request: HttpRequest, app) -> str:
        return callback_url()

    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        login = super().complete_login(request, app, token, **kwargs)
        login.clearance_logout = {
            "endpoint": self.openid_config.get("end_session_endpoint") or "",
            "id_token": kwargs["response"].get("id_token") or "",
        }
        return login


class ClearanceOIDCProvider(OpenIDConnectProvider):
    """allauth's ``openid_connect`` provider, served at Clearance's own paths."""

    oauth2_adapter_class = ClearanceOIDCAdapter

    def get_login_url(self, request: HttpRequest, **kwargs) -> str:
        url = reverse("web:oidc_login")
        return f"{url}?{urlencode(kwargs)}" if kwargs else url

    def get_callback_url(self) -> str:
        return reverse("web:oidc_callback")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Where allauth asks Clearance: which provider app exists, and who may sign in."""

    def list_apps(self, request, provider=None, client_id=None) -> list[SocialApp]:
        # Configured only by the environment: no database rows, no admin page.
        if not configured() or provider not in (None, PROVIDER, PROVIDER_ID):
            return []
        if client_id and client_id != settings.OIDC_CLIENT_ID:
            return []
        app = SocialApp(
            provider=PROVIDER,
            provider_id=PROVIDER_ID,
            name=settings.OIDC_PROVIDER_NAME,
            client_id=settings.OIDC_CLIENT_ID,
            secret=settings.OIDC_CLIENT_SECRET,
            settings={"server_url": settings.OIDC_ISSUER},
        )
        return [app]

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        """The provider vouched for these claims: find or make the user with the role they
        give (the users service), or refuse with a page. allauth then opens the session
        for this user (``sociallogin.user``: an existing row, so it signs in, never signs
        up)."""
        claims = verified_claims(sociallogin.account.extra_data)
        if claims is None:
            log.warning("single sign-on failed: userinfo and ID token name different subjects")
            raise ImmediateHttpResponse(unverified(request))
        try:
            user = users.sign_in_from_identity_provider(claims)
        except users.SignInRefused as refusal:
            log.warning("%s", refusal)
            raise ImmediateHttpResponse(refused(request, refusal)) from refusal
        user.backend = BACKEND
        sociallogin.user = user

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        """A tampered or reused state, a code the provider refuses (replayed, expired), an
        ID token that does not verify, a cancelled sign-in: a page, no session."""
        log.warning("single sign-on failed: %s %r", error, exception)
        raise ImmediateHttpResponse(unverified(request, cancelled=error == AuthError.CANCELLED))

    def is_open_for_signup(self, request, sociallogin) -> bool:
        # pre_social_login always names an existing user or refuses; allauth's sign-up
        # (its form, its own user creation) must never run.
        return False


def verified_claims(extra_data: dict) -> dict | None:
    """The claims of the verified ID token, completed by the userinfo answer (which allauth
    fetched with the access token); None when the two are not about the same subject (OIDC
    Core 5.3.2: the userinfo answer must then not be used)."""
    id_token = extra_data.get("id_token") or {}
    userinfo = extra_data.get("userinfo") or {}
    if id_token and userinfo and userinfo.get("sub") != id_token.get("sub"):
        return None
    return {**id_token, **userinfo}


@receiver(user_logged_in, dispatch_uid="clearance_oidc_logout_hint")
def remember_logout(sender, request, user, sociallogin=None, **kwargs) -> None:
    """After allauth opened the session (its key cycled): what logout needs to end the
    provider's session too."""
    hint = getattr(sociallogin, "clearance_logout", None)
    if hint and hint["endpoint"]:
        request.session[LOGOUT_SESSION_KEY] = hint


def unverified(request: HttpRequest, *, cancelled: bool = False) -> HttpResponse:
    """400: the provider's answer is not one to sign in with, or the person cancelled."""
    if request.user.is_authenticated:
        auth_logout(request)  # whoever was signed in here: no session after a failure
    # An anonymous session keeps its other pending states: a forged answer sent to the
    # browser does not break the sign-in its user has under way.
    message = (
        "The sign-in was cancelled at {provider}."
        if cancelled
        else "The answer from {provider} could not be verified (it may have been used "
        "already, have expired, or been altered), so you are not signed in."
    )
    context = {
        "title": "Sign-in failed",
        "message": message.format(provider=settings.OIDC_PROVIDER_NAME),
        "sso": login_options(),
    }
    return render(request, "registration/sso_refused.html", context, status=400)


def refused(request: HttpRequest, refusal: users.SignInRefused) -> HttpResponse:
    auth_logout(request)  # whoever was signed in here before: no session after a refusal
    text = REFUSALS[refusal.reason].format(
        provider=settings.OIDC_PROVIDER_NAME, username=refusal.username
    )
    context = {
        "title": "Not signed in",
        "message": text,
        "reason": refusal.reason,
        "sso": login_options(),
    }
    return render(request, "registration/sso_refused.html", context, status=403)


def login_options() -> dict:
    """What the login page offers."""
    return {
        "enabled": configured(),
        "name": settings.OIDC_PROVIDER_NAME,
        "passwords": not settings.OIDC_ONLY,
        "passwords_off": password_login_detail(),
    }


def _adapter_view(view_class, request: HttpRequest) -> HttpResponse:
    try:
        view = view_class.adapter_view(ClearanceOIDCAdapter(request, PROVIDER_ID))
        return view(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404("Single sign-on is not configured.") from exc


def oidc_login(request: HttpRequest) -> HttpResponse:
    """POST (the login page's button, CSRF-checked): off to the provider, with a fresh state
    and PKCE verifier in the session. A GET shows the login page."""
    if not configured():
        raise Http404("Single sign-on is not configured.")
    if request.method != "POST":
        return redirect("web:login")
    return _adapter_view(OAuth2LoginView, request)


def oidc_callback(request: HttpRequest) -> HttpResponse:
    """GET ``/auth/oidc/callback/?code=…&state=…``: the provider's answer."""
    if not configured():
        raise Http404("Single sign-on is not configured.")
    return _adapter_view(OAuth2CallbackView, request)


class LoginView(auth_views.LoginView):
    """Django's login page, offering "Sign in with <OIDC_PROVIDER_NAME>"; with OIDC_ONLY the
    password form is gone and a password POST is refused (403) without being checked."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "sso": login_options()}

    def post(self, request, *args, **kwargs):
        if settings.OIDC_ONLY:
            context = self.get_context_data(password_refused=password_login_detail())
            return self.render_to_response(context, status=403)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """Ends the local session; a session opened by single sign-on then goes on to the
    provider's end-session endpoint (when its discovery offers one), which comes back to
    the login page."""

    def post(self, request, *args, **kwargs):
        hint = request.session.get(LOGOUT_SESSION_KEY)
        response = super().post(request, *args, **kwargs)
        if not hint or not configured():
            return response
        params = {
            "client_id": settings.OIDC_CLIENT_ID,
            "post_logout_redirect_uri": settings.SITE_URL.rstrip("/") + reverse("web:login"),
        }
        if hint.get("id_token"):
            params["id_token_hint"] = hint["id_token"]
        endpoint = hint["endpoint"]
        joiner = "&" if "?" in endpoint else "?"
        return HttpResponseRedirect(f"{endpoint}{joiner}{urlencode(params)}")


def admin_login(request: HttpRequest) -> HttpResponse:
    """With OIDC_ONLY the Django admin's password form is replaced by the login page (an
    admin signs in there, then comes back to the admin)."""
    from django.contrib import admin

    if not settings.OIDC_ONLY:
        return admin.site.login(request)
    target = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('web:login')}?{urlencode({'next': target})}")
