"""Users service: API tokens die with a password change, a deactivation and a revocation
(issue 13 defect 7), wherever the change is made."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from knox.models import AuthToken

from compliance.audit.context import system_actor
from compliance.services import users
from tests.helpers import denied

User = get_user_model()


def tokens_of(user) -> int:
    return AuthToken.objects.filter(user=user).count()


def test_set_password_revokes_every_token_and_records_why(staff):
    users.issue_token(staff)
    users.issue_token(staff)
    users.set_password(staff, actor=staff, password="a-new-long-password")
    assert tokens_of(staff) == 0
    staff.refresh_from_db()
    assert staff.check_password("a-new-long-password")
    latest = staff.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (staff, "password changed")


def test_set_password_by_another_user_needs_an_admin(staff, staff2, admin_user):
    users.issue_token(staff)
    with denied():
        users.set_password(staff, actor=staff2, password="a-new-long-password")
    assert tokens_of(staff) == 1
    users.set_password(staff, actor=admin_user, password="a-new-long-password")
    assert tokens_of(staff) == 0


def test_set_password_validates_and_then_keeps_the_tokens(staff):
    users.issue_token(staff)
    with pytest.raises(ValidationError):
        users.set_password(staff, actor=staff, password="short")
    assert tokens_of(staff) == 1


def test_any_password_change_revokes_tokens(staff, auditor):
    # Not only the service: the admin's form and `changepassword` call set_password + save.
    users.issue_token(staff)
    users.issue_token(auditor)
    staff.set_password("changed-elsewhere-1")
    staff.save()
    assert tokens_of(staff) == 0
    assert tokens_of(auditor) == 1  # only that user's


def test_add_user_with_a_new_password_revokes_tokens(staff):
    users.issue_token(staff)
    call_command("add_user", "sam", "--role", "staff", "--password", "another-password-9")
    assert tokens_of(staff) == 0
    users.issue_token(staff)
    call_command("add_user", "sam", "--role", "staff", "--password", "another-password-9")
    assert tokens_of(staff) == 1  # the same password again changes nothing


def test_deactivate_user_revokes_tokens_and_is_for_admins(staff, staff2, admin_user):
    users.issue_token(staff)
    with denied():
        users.deactivate_user(staff, actor=staff2, reason="left")
    user = users.deactivate_user(staff, actor=admin_user, reason="left the lab")
    assert not user.is_active
    assert tokens_of(staff) == 0
    latest = staff.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (admin_user, "left the lab")
    assert latest.is_active is False


def test_reactivated_user_gets_none_of_the_old_tokens_back(staff):
    users.issue_token(staff)
    User.objects.filter(pk=staff.pk).update(is_active=False)  # deactivated outside a service
    with system_actor("add_user"):
        user, _created, changed = users.ensure_user("sam", role="staff")
    assert user.is_active and changed
    assert tokens_of(staff) == 0


def test_revoke_token_own_or_admin(staff, staff2, admin_user):
    users.issue_token(staff)
    token = AuthToken.objects.get(user=staff)
    with denied():
        users.revoke_token(token, actor=staff2)
    users.revoke_token(token, actor=staff)
    assert tokens_of(staff) == 0
    users.issue_token(staff)
    users.revoke_token(AuthToken.objects.get(user=staff), actor=admin_user)
    assert tokens_of(staff) == 0


def test_issuing_a_token_purges_the_users_expired_ones(staff, auditor):
    AuthToken.objects.create(user=staff, expiry=timedelta(seconds=-1))
    AuthToken.objects.create(user=auditor, expiry=timedelta(seconds=-1))
    live, _ = AuthToken.objects.create(user=staff)
    users.issue_token(staff)
    assert AuthToken.objects.filter(user=staff).count() == 2
    assert AuthToken.objects.filter(user=staff, digest=live.digest).exists()
    assert tokens_of(auditor) == 1  # someone else's expired token waits for their next login
