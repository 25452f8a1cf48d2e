"""Single sign-on pages without a provider (R40): what the login page offers, OIDC_ONLY on the
admin and on old password sessions, logout towards the provider's end-session endpoint, and
everything as before when OIDC is not configured. The round trip itself: test_ui_oidc.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from compliance.web.oidc import LOGOUT_SESSION_KEY, verified_claims
from tests import factories

PASSWORD = "pw-for-tests"


@pytest.fixture
def sso(settings):
    settings.OIDC_ISSUER = "https://login.lab.example"
    settings.OIDC_CLIENT_ID = "clearance"
    settings.OIDC_CLIENT_SECRET = "s3cret"
    settings.OIDC_PROVIDER_NAME = "Okta"
    settings.SITE_URL = "https://clearance.lab.example"
    return settings


def test_without_oidc_everything_is_as_before(client, staff):
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    assert client.get("/auth/oidc/login/").status_code == 404
    assert client.post("/auth/oidc/login/").status_code == 404
    assert client.get("/auth/oidc/callback/?code=x&state=y").status_code == 404
    response = client.post("/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)
    assert client.post("/logout/").url == "/login/"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/login/").status_code == 200  # the admin's own form


def test_the_login_page_offers_the_provider_beside_passwords(client, sso):
    page = client.get("/login/?next=/releases/").content.decode()
    assert "Sign in with Okta" in page and 'action="/auth/oidc/login/"' in page
    assert 'name="password"' in page
    assert client.get("/auth/oidc/login/").url == "/login/"  # starting takes a POST (CSRF)


def test_oidc_only_hides_passwords_ends_password_sessions_and_sends_the_admin_to_sso(
    client, sso, staff
):
    assert client.login(username="sam", password=PASSWORD)
    sso.OIDC_ONLY = True
    assert client.get("/").url.startswith("/login/")  # the password session is over
    page = client.get("/login/").content.decode()
    assert "Sign in with Okta" in page and 'name="password"' not in page
    assert "Password sign-in is turned off: sign in with Okta instead." in page
    assert not client.login(username="sam", password=PASSWORD)  # any password path
    assert client.get("/admin/login/?next=/admin/compliance/").url == (
        "/login/?next=%2Fadmin%2Fcompliance%2F"
    )


def test_logout_ends_the_provider_session_too_when_it_offers_one(db, client, sso):
    user = factories.UserFactory(username="ines", role="staff")
    client.force_login(user)
    session = client.session
    session[LOGOUT_SESSION_KEY] = {
        "endpoint": "https://login.lab.example/oauth2/v1/logout",
        "id_token": "eyJ.raw.token",
    }
    session.save()
    response = client.post("/logout/")
    assert "_auth_user_id" not in client.session
    target = urlsplit(response.url)
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        "https://login.lab.example/oauth2/v1/logout"
    )
    assert parse_qs(target.query) == {
        "client_id": ["clearance"],
        "id_token_hint": ["eyJ.raw.token"],
        "post_logout_redirect_uri": ["https://clearance.lab.example/login/"],
    }
    # A password session (no hint) ends locally only.
    client.force_login(user)
    assert client.post("/logout/").url == "/login/"


def test_claims_come_from_the_id_token_and_userinfo_about_one_subject():
    id_token = {"sub": "u1", "iss": "https://login.lab.example", "groups": ["a"]}
    assert verified_claims({"id_token": id_token, "userinfo": {"sub": "u1", "groups": ["b"]}}) == {
        "sub": "u1",
        "iss": "https://login.lab.example",
        "groups": ["b"],
    }
    assert verified_claims({"id_token": id_token}) == id_token
    # Userinfo about someone else (OIDC Core 5.3.2): nothing to sign in with.
    assert verified_claims({"id_token": id_token, "userinfo": {"sub": "u2"}}) is None
