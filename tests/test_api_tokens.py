"""Tokens can be revoked (issue 13 defect 7): POST /auth/logout/, GET /auth/tokens/ and
DELETE /auth/tokens/{id}/, and a password change or deactivation ends every token."""

from __future__ import annotations

from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from compliance.services import users
from tests.api_support import API, results


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_logout_revokes_this_token_only(staff):
    first, second = users.issue_token(staff), users.issue_token(staff)
    response = with_token(first).post(f"{API}/auth/logout/")
    assert response.status_code == 204
    assert with_token(first).get(f"{API}/releases/").status_code == 401
    assert with_token(second).get(f"{API}/releases/").status_code == 200


def test_logout_with_a_session_signs_out(client, staff):
    client.force_login(staff)
    assert client.post(f"{API}/auth/logout/").status_code == 204
    assert client.get(f"{API}/releases/").status_code == 401


def test_users_list_their_own_tokens_and_admins_everyones(staff, auditor, admin_user):
    mine = users.issue_token(staff)
    users.issue_token(staff)
    users.issue_token(auditor)
    rows = results(with_token(mine).get(f"{API}/auth/tokens/"))
    assert [r["user"] for r in rows] == ["sam", "sam"]
    assert sorted(r["current"] for r in rows) == [False, True]
    assert set(rows[0]) == {"id", "user", "created", "expiry", "current"}
    assert all(mine not in str(r) for r in rows)  # the token itself is never shown again
    # someone else's username narrows nothing for a non-admin: still only their own
    assert results(with_token(mine).get(f"{API}/auth/tokens/?user=audrey")) == []

    admin = with_token(users.issue_token(admin_user))
    assert sorted(r["user"] for r in results(admin.get(f"{API}/auth/tokens/"))) == [
        "ada",
        "audrey",
        "sam",
        "sam",
    ]
    assert [r["user"] for r in results(admin.get(f"{API}/auth/tokens/?user=audrey"))] == ["audrey"]


def test_revoke_a_token_by_id(staff, staff2, admin_user):
    token = users.issue_token(staff)
    digest = AuthToken.objects.get(user=staff).digest
    other = with_token(users.issue_token(staff2))
    assert other.delete(f"{API}/auth/tokens/{digest}/").status_code == 404  # not theirs
    assert with_token(token).get(f"{API}/releases/").status_code == 200

    admin = with_token(users.issue_token(admin_user))
    assert admin.delete(f"{API}/auth/tokens/{digest}/").status_code == 204
    assert with_token(token).get(f"{API}/releases/").status_code == 401
    assert admin.delete(f"{API}/auth/tokens/{digest}/").status_code == 404

    own = users.issue_token(staff)
    own_id = AuthToken.objects.get(user=staff).digest
    assert with_token(own).delete(f"{API}/auth/tokens/{own_id}/").status_code == 204
    assert not AuthToken.objects.filter(user=staff).exists()


def test_password_change_ends_every_token(staff):
    token = users.issue_token(staff)
    users.set_password(staff, actor=staff, password="a-new-long-password")
    assert with_token(token).get(f"{API}/releases/").status_code == 401


def test_deactivation_ends_every_token_even_after_reactivation(staff, admin_user):
    token = users.issue_token(staff)
    users.deactivate_user(staff, actor=admin_user, reason="left")
    assert with_token(token).get(f"{API}/releases/").status_code == 401
    users.ensure_user("sam", role="staff", actor=admin_user)  # back again
    assert with_token(token).get(f"{API}/releases/").status_code == 401


def test_inactive_users_token_is_refused(staff):
    # Deactivated without the service (a raw write): the token is still refused.
    token = users.issue_token(staff)
    type(staff).objects.filter(pk=staff.pk).update(is_active=False)
    assert with_token(token).get(f"{API}/releases/").status_code == 401


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@lab.example", "root-pw-123")


def test_django_admin_password_change_and_deactivation_revoke_tokens(client, staff):
    client.force_login(_superuser())
    change = reverse("admin:auth_user_change", args=[staff.pk])
    form = {"email": staff.email, "role": "staff", "change_reason": "", "is_active": "on"}
    token = users.issue_token(staff)
    response = client.post(change, {**form, "new_password": "set-by-admin-1"})
    assert response.status_code == 302, response.content[:500]
    assert with_token(token).get(f"{API}/releases/").status_code == 401

    token = users.issue_token(staff)
    form.pop("is_active")  # unticked
    response = client.post(change, {**form, "new_password": "", "change_reason": "left the lab"})
    assert response.status_code == 302, response.content[:2000]
    staff.refresh_from_db()
    assert staff.is_active is False
    assert not AuthToken.objects.filter(user=staff).exists()
    assert staff.history.latest().history_change_reason == "left the lab"
