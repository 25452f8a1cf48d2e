"""Token endpoint, token storage, throttling, session auth and the offline docs."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.api_support import API


@pytest.fixture(autouse=True)
def _fresh_throttle():
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
