"""Token endpoint, token storage, throttling, session auth and the offline docs."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from compliance.signin import LOCKED_DETAIL
from tests.api_support import API, client_for


@pytest.fixture(autouse=True)
def _fresh_throttle(db):
    cache.clear()  # throttle counters live in the cache
    yield
    cache.clear()


def token_for(username, password="pw-for-tests"):
    return APIClient().post(
        f"{API}/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_token_is_issued_and_stored_hashed(staff):
    response = token_for("sam")
    assert response.status_code == 200
    assert list(response.json()) == ["token"]
    token = response.json()["token"]
    [row] = AuthToken.objects.filter(user=staff)
    assert token not in (row.digest, row.token_key)
    assert row.token_key == token[: len(row.token_key)]  # only a short lookup prefix is kept

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"{API}/releases/").status_code == 200


@pytest.mark.parametrize(
    "body,status,keys",
    [
        ({"username": "sam", "password": "wrong"}, 401, ["detail"]),
        ({"username": "ghost", "password": "pw-for-tests"}, 401, ["detail"]),
        ({"username": "sam"}, 400, ["password"]),
        ({}, 400, ["password", "username"]),
        ({"username": ["sam"], "password": "pw-for-tests"}, 400, ["username"]),
        ({"username": "sam", "password": "pw-for-tests", "otp": "1"}, 400, ["otp"]),
    ],
)
def test_token_errors(staff, body, status, keys):
    response = APIClient().post(f"{API}/auth/token/", body, format="json")
    assert response.status_code == status
    assert sorted(response.json()) == keys
    assert not AuthToken.objects.exists()


def test_inactive_user_gets_no_token(staff):
    staff.is_active = False
    staff.save()
    assert token_for("sam").status_code == 401


def test_token_endpoint_is_throttled(staff, monkeypatch):
    # DRF reads the rates into a class attribute at import time: patch that attribute.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    codes = [token_for("sam", "wrong").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert token_for("sam").status_code == 429  # good credentials wait too


def test_session_auth_reads(client, auditor):
    client.force_login(auditor)
    assert client.get(f"{API}/releases/").status_code == 200


def test_session_writes_need_csrf(auditor, staff, agencies):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(f"{API}/releases/", {"slug": "s-1", "name": "S"}, format="json")
    assert response.status_code == 403


def test_docs_render_offline_from_local_assets(client, auditor):
    client.force_login(auditor)
    response = client.get(f"{API}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<style" not in html and "<script>" not in html  # CSP: no inline style or script
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for url in assets:
        assert not url.startswith(("http://", "https://", "//")), url
    static = [u for u in assets if u.startswith("/static/")]
    assert any("swagger-ui-bundle" in u for u in static)
    for url in static:
        assert finders.find(url.removeprefix("/static/")), url
    init = [u for u in assets if not u.startswith("/static/")]
    assert init, "the Swagger UI init script is served by the app (CSP: no inline script)"
    for url in init:
        assert client.get(url).status_code == 200
    assert client.get(f"{API}/schema/").status_code == 200


def test_schema_and_docs_need_login():
    assert APIClient().get(f"{API}/schema/").status_code == 401
    assert APIClient().get(f"{API}/docs/").status_code == 401


def _token_client(user, **token_kwargs):
    _instance, token = AuthToken.objects.create(user=user, **token_kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_expired_token_is_refused_and_deleted(staff):
    from datetime import timedelta

    client = _token_client(staff, expiry=timedelta(seconds=-1))
    assert client.get(f"{API}/agencies/").status_code == 401
    assert not AuthToken.objects.filter(user=staff).exists()


def test_token_auth_carries_the_role_read_with_the_token(staff, auditor, agencies):
    # Roles come with the token (one query on PostgreSQL): an auditor still cannot write,
    # staff still can, and a user who lost every role reads nothing.
    body = {"slug": "r-1", "name": "R 1", "required_agencies": ["DOC"]}
    assert _token_client(auditor).post(f"{API}/releases/", body, format="json").status_code == 403
    assert _token_client(staff).post(f"{API}/releases/", body, format="json").status_code == 201
    staff.groups.clear()
    assert _token_client(staff).get(f"{API}/releases/").status_code == 403


def test_other_expired_tokens_do_not_block_a_valid_one(staff):
    from datetime import timedelta

    AuthToken.objects.create(user=staff, expiry=timedelta(seconds=-1))
    assert _token_client(staff).get(f"{API}/agencies/").status_code == 200


# --- issue 13 defect 5: the throttle keys on the real client address --------------------


def test_token_throttle_ignores_a_client_chosen_forwarded_for(staff, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    codes = [
        APIClient()
        .post(
            f"{API}/auth/token/",
            {"username": "sam", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
        .status_code
        for i in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]


@override_settings(NUM_PROXIES=1)
def test_behind_one_trusted_proxy_the_address_it_saw_is_the_client(staff, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "3/min"})

    def attempt(forwarded):
        return (
            APIClient()
            .post(
                f"{API}/auth/token/",
                {"username": "sam", "password": "wrong"},
                format="json",
                HTTP_X_FORWARDED_FOR=forwarded,
            )
            .status_code
        )

    # The client may prepend anything; the proxy appends the address it saw (the last one).
    assert [attempt(f"10.0.0.{i}, 203.0.113.7") for i in range(4)] == [401, 401, 401, 429]
    assert attempt("203.0.113.8") == 401  # another client behind the same proxy


def test_client_address_rule():
    from django.test import RequestFactory

    from compliance.signin import client_address

    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client_address(request) == "192.0.2.1"  # no proxy configured: header ignored
    with override_settings(NUM_PROXIES=2):
        request.META["HTTP_X_FORWARDED_FOR"] = "6.6.6.6, 203.0.113.9, 10.0.0.1"
        assert client_address(request) == "203.0.113.9"
        request.META["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
        assert client_address(request) == "203.0.113.9"


# --- issue 13 defect 6: password spraying from one address is locked out -------------------

SPRAY = "Winter2026!"


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5, AXES_ADDRESS_FAILURE_LIMIT=8)
def test_password_spraying_locks_the_address_on_the_token_endpoint(staff, auditor):
    codes = [token_for(f"user{i}", SPRAY).status_code for i in range(10)]
    assert codes == [401] * 7 + [429] * 3
    locked = token_for("sam")  # the right password, from the same address
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/json"
    assert locked.json() == {"detail": LOCKED_DETAIL}
    assert locked["Retry-After"] == "900"
    elsewhere = APIClient().post(
        f"{API}/auth/token/",
        {"username": "sam", "password": "pw-for-tests"},
        format="json",
        REMOTE_ADDR="192.0.2.50",
    )
    assert elsewhere.status_code == 200


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3, AXES_ADDRESS_FAILURE_LIMIT=20)
def test_one_persons_failures_lock_that_account_not_the_address(staff, auditor):
    assert [token_for("sam", "typo").status_code for _ in range(4)] == [401, 401, 429, 429]
    assert token_for("sam").status_code == 429
    assert token_for("audrey").status_code == 200  # same address, another account


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5, AXES_ADDRESS_FAILURE_LIMIT=8)
def test_password_spraying_locks_the_address_on_the_login_page(client, staff):
    from django.urls import reverse

    url = reverse("web:login")
    codes = [
        client.post(url, {"username": f"user{i}", "password": SPRAY}).status_code for i in range(10)
    ]
    assert codes == [200] * 7 + [429] * 3
    response = client.post(url, {"username": "sam", "password": "pw-for-tests"})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_token_schema_documents_the_lockout_as_it_answers(auditor):
    schema = client_for(auditor).get(f"{API}/schema/").json()
    responses = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert sorted(responses) == ["200", "400", "401", "403", "429"]  # 403: OIDC_ONLY (R40)
    detail = responses["429"]["content"]["application/json"]["schema"]
    assert detail == {"$ref": "#/components/schemas/Detail"}


# --- issue 14 item 5: the access check through the ORM -----------------------------------


def test_access_check_with_an_out_of_range_partner_is_a_400(staff, agencies):
    from tests.factories import make_release

    make_release(staff, slug="r-1", agencies=agencies)
    client = client_for(staff)
    huge = client.get(f"{API}/releases/r-1/access/?partner=99999999999999999999")
    assert huge.status_code == 400
    assert list(huge.json()) == ["partner"]
    assert client.get(f"{API}/releases/r-1/access/?partner=9223372036854775807").status_code == 404
    assert client.get(f"{API}/releases/nope/access/?partner=x").status_code == 404
