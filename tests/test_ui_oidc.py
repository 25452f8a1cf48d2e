"""Single sign-on (R40) through the real login: Playwright drives Debian's Chromium from
Clearance's login page to a real OpenID provider (panva's oidc-provider, run by the tests with
Node.js) and back to the callback on the live server. Nothing of the protocol is stubbed:
discovery, PKCE (the provider requires it), state, the code exchange, the ID token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from compliance.models.roles import Role, role_of
from compliance.services.users import issue_token
from tests import factories
from tests.oidc_support import PROVIDER_NAME, TestProvider
from tests.test_ui_browser import PASSWORD, browser, shot  # noqa: F401  (the module's Chromium)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

User = get_user_model()
REASON = f"signed in with {PROVIDER_NAME}: role from the groups claim"


@pytest.fixture(scope="module")
def provider(live_server, tmp_path_factory):
    running = TestProvider(tmp_path_factory.mktemp("oidc-provider"), live_server.url)
    yield running
    running.stop()


@pytest.fixture
def site(settings, live_server, provider):
    provider.settings_for(settings, live_server.url)
    # The live server speaks plain http: let the browser keep its session and CSRF cookies.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # A transactional test starts from empty tables: the role groups of the roles migration.
    for role in Role:
        Group.objects.get_or_create(name=role.value)
    return live_server.url


@pytest.fixture
def new_page(browser):  # noqa: F811
    contexts = []

    def _new_page():
        context = browser.new_context()
        # Only this machine: the provider's pages import a web font from elsewhere.
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost")
                else route.abort()
            ),
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield _new_page
    for context in contexts:
        context.close()


def start_sso(page, site):
    """From Clearance's login page to the provider's sign-in form."""
    page.goto(f"{site}/login/")
    page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}").click()
    page.wait_for_selector("input[name=login]")


def provider_sign_in(page, login):
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the provider's development sign-in")
    page.click("button[type=submit]")


def sso_login(page, site, login):
    start_sso(page, site)
    provider_sign_in(page, login)
    page.wait_for_url(f"{site}/")
    return page


def hold_at_callback(page, provider):
    """Stop the browser before the callback: the provider's answer (code and state) as a URL,
    unused. (Playwright routes no redirect hops, so the sign-in form's POST is sent from the
    browser context here and its redirects are followed by hand up to the callback.)"""
    caught = []

    def hold(route):
        if route.request.method != "POST":
            return route.continue_()
        response = route.fetch(max_redirects=0)
        location = urljoin(route.request.url, response.headers["location"])
        for _hop in range(5):
            if urlsplit(location).path == "/auth/oidc/callback/":
                break
            response = page.context.request.get(location, max_redirects=0)
            location = urljoin(location, response.headers["location"])
        caught.append(location)
        route.fulfill(status=200, content_type="text/html", body="<p>held</p>")

    page.route(f"{provider.issuer}/interaction/**", hold)
    return caught


def with_params(url, **changes):
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def signed_in_as(page, site):
    """The username the page header shows, or None when the page asks to sign in."""
    page.goto(f"{site}/")
    if urlsplit(page.url).path == "/login/":
        return None
    return page.get_by_test_id("whoami").inner_text()


def role_history(user):
    return [
        (
            row.history_actor,
            row.history_change_reason,
            sorted(g.group.name for g in row.groups.all()),
        )
        for row in user.history.order_by("history_id")
    ]


def test_each_group_gets_its_role_and_an_sso_user_has_no_password(new_page, site, provider):
    provider.set_user("ines", groups=["idp-admins", "idp-audit"], email="ines@lab.example")
    provider.set_user("sam.sso", groups=["idp-compliance", "everyone"])
    provider.set_user("audra", groups=["idp-audit"])
    authorize = []
    for login, role in [("ines", "Admin"), ("sam.sso", "Staff"), ("audra", "Auditor")]:
        page = new_page()
        page.on("request", lambda r: authorize.append(r.url) if "/auth?" in r.url else None)
        sso_login(page, site, login)
        assert page.get_by_test_id("whoami").inner_text() == login
        assert page.get_by_test_id("role").inner_text() == role
    # The authorization requests carried PKCE (S256) and a state; the provider requires PKCE.
    assert len(authorize) == 3
    for url in authorize:
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["state"] and query["redirect_uri"] == [f"{site}/auth/oidc/callback/"]

    ines = User.objects.get(username="ines")
    assert role_of(ines) == Role.ADMIN and ines.is_staff and ines.email == "ines@lab.example"
    assert not ines.has_usable_password()
    assert role_history(ines) == [("system:oidc", REASON, []), ("system:oidc", REASON, ["admin"])]
    assert role_of(User.objects.get(username="sam.sso")) == Role.STAFF
    assert role_of(User.objects.get(username="audra")) == Role.AUDITOR

    # An SSO user's API token (made on the profile page) works like anyone's.
    token = issue_token(ines)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/releases/").status_code == 200
    # …while no password opens their account.
    refused = APIClient().post("/api/v1/auth/token/", {"username": "ines", "password": "guess"})
    assert refused.status_code == 401


def test_a_group_change_at_the_provider_changes_the_role_at_the_next_login(
    new_page, site, provider
):
    provider.set_user("bo", groups=["idp-compliance"])
    page = sso_login(new_page(), site, "bo")
    assert page.get_by_test_id("role").inner_text() == "Staff"

    # Sign out: the local session ends, then the provider's (its end-session endpoint).
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{site}/login/")
    assert signed_in_as(page, site) is None

    provider.set_user("bo", groups=["idp-audit"])  # moved to the audit team at the provider
    start_sso(page, site)  # the provider asks again: its session ended too
    provider_sign_in(page, "bo")
    page.wait_for_url(f"{site}/")
    assert page.get_by_test_id("role").inner_text() == "Auditor"

    bo = User.objects.get(username="bo")
    assert role_of(bo) == Role.AUDITOR and not bo.is_staff
    history = role_history(bo)
    assert history[-2:] == [
        ("system:oidc", REASON, ["staff"]),
        ("system:oidc", REASON, ["auditor"]),
    ]
    # The role change is one row from staff straight to auditor, named in the audit log.
    changes = [row.diff_against(row.prev_record) for row in bo.history.all()[:1]]
    assert [c.field for c in changes[0].changes] == ["groups"]

    # A third login with the same groups changes nothing: no history row.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{site}/login/")
    rows = bo.history.count()
    sso_login(page, site, "bo")
    assert bo.history.count() == rows


def test_a_user_whose_groups_map_to_no_role_is_refused(new_page, site, provider):
    provider.set_user("intern", groups=["idp-interns", "everyone"])
    page = new_page()
    start_sso(page, site)
    provider_sign_in(page, "intern")
    page.wait_for_url(f"{site}/auth/oidc/callback/**")
    refusal = page.get_by_test_id("sso-refused")
    assert refusal.get_attribute("data-reason") == "no_role"
    assert "none of your groups there gives a role in Clearance" in refusal.inner_text()
    shot(page, "sso-refused")
    assert signed_in_as(page, site) is None
    assert not User.objects.filter(username="intern").exists()

    # A known user who lost every mapped group keeps the account, gets no session.
    provider.set_user("bo2", groups=["idp-compliance"])
    page = sso_login(new_page(), site, "bo2")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{site}/login/")
    provider.set_user("bo2", groups=["alumni"])
    start_sso(page, site)
    provider_sign_in(page, "bo2")
    page.wait_for_url(f"{site}/auth/oidc/callback/**")
    assert page.get_by_test_id("sso-refused").get_attribute("data-reason") == "no_role"
    assert signed_in_as(page, site) is None
    assert role_of(User.objects.get(username="bo2")) == Role.STAFF  # the account is kept


def test_a_tampered_state_is_refused(new_page, site, provider):
    provider.set_user("tam", groups=["idp-compliance"])
    page = new_page()
    caught = hold_at_callback(page, provider)
    start_sso(page, site)
    provider_sign_in(page, "tam")
    page.wait_for_selector("text=held")
    [answer] = caught

    state = parse_qs(urlsplit(answer).query)["state"][0]
    response = page.goto(
        with_params(answer, state=state[:-2] + ("AA" if state[-2:] != "AA" else "BB"))
    )
    assert response.status == 400
    assert "could not be verified" in page.get_by_test_id("sso-refused").inner_text()
    assert signed_in_as(page, site) is None
    assert not User.objects.filter(username="tam").exists()

    # The untouched answer still signs in: it was the state, and only it, that was refused.
    page.goto(answer)
    page.wait_for_url(f"{site}/")
    assert page.get_by_test_id("whoami").inner_text() == "tam"


def test_a_replayed_code_is_refused(new_page, site, provider):
    provider.set_user("rex", groups=["idp-compliance"])
    first = new_page()
    answers = []
    first.on(
        "request", lambda r: answers.append(r.url) if "/auth/oidc/callback/" in r.url else None
    )
    sso_login(first, site, "rex")
    [answer] = answers
    old_code = parse_qs(urlsplit(answer).query)["code"][0]

    # The same answer again, in the same browser: its state was used up.
    response = first.goto(answer)
    assert response.status == 400

    # The used code with a fresh state, in another browser: the provider refuses the code.
    second = new_page()
    caught = hold_at_callback(second, provider)
    start_sso(second, site)
    provider_sign_in(second, "rex")
    second.wait_for_selector("text=held")
    response = second.goto(with_params(caught[0], code=old_code))
    assert response.status == 400
    assert "could not be verified" in second.get_by_test_id("sso-refused").inner_text()
    assert signed_in_as(second, site) is None


def test_oidc_only_refuses_passwords_on_the_page_and_the_token_endpoint(
    new_page, site, provider, settings, client
):
    settings.OIDC_ONLY = True
    factories.UserFactory(username="pat", role="staff", password=PASSWORD)
    page = new_page()
    page.goto(f"{site}/login/")
    assert page.get_by_role("button", name=f"Sign in with {PROVIDER_NAME}").is_visible()
    assert page.locator("input[name=password]").count() == 0
    assert "Password sign-in is turned off" in page.get_by_test_id("passwords-off").inner_text()
    shot(page, "login-oidc-only")

    # A password POST anyway (as a script would send it): refused, no session.
    response = client.post("/login/", {"username": "pat", "password": PASSWORD})
    assert response.status_code == 403
    assert "Password sign-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session
    token = APIClient().post("/api/v1/auth/token/", {"username": "pat", "password": PASSWORD})
    assert token.status_code == 403
    assert token.json()["detail"].startswith(
        "Password sign-in is turned off: sign in with Test IdP"
    )

    # Single sign-on still works.
    provider.set_user("pat", groups=["idp-compliance"])
    sso_login(page, site, "pat")
    assert page.get_by_test_id("whoami").inner_text() == "pat"
