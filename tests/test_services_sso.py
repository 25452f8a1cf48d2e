"""Single sign-on at the service layer (R40): the provider's verified claims → a user with the
role their groups give, written by the users service as ``system:oidc``, or a refusal that
writes nothing. The real protocol round trip is tests/test_ui_oidc.py."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from compliance import rules
from compliance.models.roles import Role, role_of
from compliance.services import users
from compliance.services.users import SignInRefused, sign_in_from_identity_provider
from config.settings import parse_role_map
from tests import factories
from tests.helpers import unchanged_db

User = get_user_model()
ROLE_MAP = {"idp-admins": "admin", "idp-compliance": "staff", "idp-audit": "auditor"}
REASON = "signed in with single sign-on: role from the groups claim"


@pytest.fixture(autouse=True)
def oidc(settings):
    settings.OIDC_ROLE_MAP = dict(ROLE_MAP)
    settings.OIDC_ROLE_CLAIM = "groups"
    settings.OIDC_PROVIDER_NAME = "single sign-on"


def claims(username="ines", *groups, **extra):
    return {
        "sub": f"sub-{username}",
        "preferred_username": username,
        "groups": list(groups),
        **extra,
    }


def history(user):
    return [
        (
            row.history_actor,
            row.history_change_reason,
            sorted(g.group.name for g in row.groups.all()),
        )
        for row in User.objects.get(pk=user.pk).history.order_by("history_id")
    ]


def refusal(reason, claims_):
    with unchanged_db(), pytest.raises(SignInRefused) as exc:
        sign_in_from_identity_provider(claims_)
    assert exc.value.reason == reason
    return exc.value


# --- the pure rules ----------------------------------------------------------------------


def test_role_map_parsing():
    assert parse_role_map("") == {}
    assert parse_role_map(" a = admin , /lab/compliance=staff,x=y=auditor,") == {
        "a": "admin",
        "/lab/compliance": "staff",
        "x=y": "auditor",
    }
    for wrong in ("a", "a=root", "=admin", "a=gateway", "a=admin,a=staff"):
        with pytest.raises(ImproperlyConfigured):
            parse_role_map(wrong)
    assert parse_role_map("a=admin,a=admin") == {"a": "admin"}


def test_groups_and_the_strongest_role():
    assert rules.claimed_groups({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert rules.claimed_groups({"groups": "a"}, "groups") == ["a"]
    assert rules.claimed_groups({"groups": {"a": 1}}, "groups") == []
    assert rules.claimed_groups({}, "groups") == []
    nested = {"realm_access": {"roles": ["lab-admin"]}}
    assert rules.claimed_groups(nested, "realm_access.roles") == ["lab-admin"]
    assert rules.claimed_groups(
        {"https://lab.example/groups": ["g"]}, "https://lab.example/groups"
    ) == ["g"]
    assert rules.role_for_groups(["idp-audit", "idp-admins"], ROLE_MAP) == "admin"
    assert rules.role_for_groups(["idp-audit", "idp-compliance"], ROLE_MAP) == "staff"
    assert rules.role_for_groups(["other"], ROLE_MAP) is None
    assert rules.demotes_last_admin(current_role="admin", new_role="staff", other_admins=0)
    assert not rules.demotes_last_admin(current_role="admin", new_role="staff", other_admins=1)
    assert not rules.demotes_last_admin(current_role="staff", new_role="auditor", other_admins=0)


# --- the service ---------------------------------------------------------------------------


def test_first_sign_in_creates_the_user_with_its_role_audited_as_system_oidc(db):
    user = sign_in_from_identity_provider(claims("ines", "idp-admins", email="ines@lab.example"))
    assert (user.username, user.email, role_of(user), user.is_staff) == (
        "ines",
        "ines@lab.example",
        Role.ADMIN,
        True,
    )
    assert not user.has_usable_password()
    assert history(user) == [("system:oidc", REASON, []), ("system:oidc", REASON, ["admin"])]
    assert [row.history_user for row in user.history.all()] == [None, None]


def test_the_email_names_the_user_without_a_preferred_username(db):
    user = sign_in_from_identity_provider(
        {"sub": "x", "email": "kim@lab.example", "groups": ["idp-audit"]}
    )
    assert (user.username, role_of(user)) == ("kim@lab.example", Role.AUDITOR)


def test_the_role_follows_the_claim_at_every_sign_in_and_only_changes_leave_rows(db):
    user = sign_in_from_identity_provider(claims("bo", "idp-compliance"))
    rows = len(history(user))
    assert sign_in_from_identity_provider(claims("bo", "idp-compliance")).pk == user.pk
    assert len(history(user)) == rows  # nothing changed, nothing written
    sign_in_from_identity_provider(claims("bo", "idp-audit"))
    assert role_of(User.objects.get(pk=user.pk)) == Role.AUDITOR
    assert history(user)[rows:] == [("system:oidc", REASON, ["auditor"])]


def test_an_existing_password_user_loses_the_password_but_keeps_tokens(db):
    sam = factories.UserFactory(username="sam", role="staff")
    token = users.issue_token(sam)
    user = sign_in_from_identity_provider(claims("sam", "idp-compliance"))
    assert user.pk == sam.pk and not user.has_usable_password()
    assert history(user)[-1] == ("system:oidc", REASON, ["staff"])
    assert users.revoke_tokens(user) == 1, token  # the token survived the sign-in


def test_a_superuser_demoted_by_the_claim_loses_the_superuser_flag(db):
    factories.UserFactory(username="alan", role="admin")
    root = factories.UserFactory(username="root", is_superuser=True, is_staff=True)
    user = sign_in_from_identity_provider(claims("root", "idp-audit"))
    assert user.pk == root.pk and (user.is_superuser, user.is_staff) == (False, False)
    assert role_of(user) == Role.AUDITOR


def test_groups_that_map_to_no_role_are_refused_and_nothing_is_written(db):
    refused = refusal(users.NO_ROLE, claims("intern", "idp-interns"))
    assert refused.username == "intern"
    bo = factories.UserFactory(username="bo", role="staff")
    refusal(users.NO_ROLE, claims("bo"))
    assert role_of(User.objects.get(pk=bo.pk)) == Role.STAFF  # unchanged, but no session


def test_refusals_that_write_nothing(db, admin_user):
    refusal(users.NO_USERNAME, {"sub": "x", "groups": ["idp-admins"]})
    refusal(users.INVALID_USERNAME, claims("Jane Doe", "idp-compliance"))
    gone = factories.UserFactory(username="gone", role="staff", is_active=False)
    refusal(users.DEACTIVATED, claims("gone", "idp-compliance"))
    assert not User.objects.get(pk=gone.pk).is_active  # a sign-in does not reactivate
    factories.UserFactory(username="gw-1", role="gateway")
    refusal(users.NOT_A_PERSON, claims("gw-1", "idp-admins"))


def test_a_malformed_email_claim_is_left_out(db):
    user = sign_in_from_identity_provider(claims("lee", "idp-audit", email="not-an-address"))
    assert user.email == ""


def test_the_last_active_admin_is_not_demoted_by_a_sign_in(db):
    ada = factories.UserFactory(username="ada", role="admin")
    factories.UserFactory(username="old", role="admin", is_active=False)  # does not count
    refused = refusal(users.LAST_ADMIN, claims("ada", "idp-compliance"))
    assert refused.username == "ada"
    assert role_of(User.objects.get(pk=ada.pk)) == Role.ADMIN
    # With a second active admin the demotion goes through.
    factories.UserFactory(username="alan", role="admin")
    assert role_of(sign_in_from_identity_provider(claims("ada", "idp-compliance"))) == Role.STAFF
    # Now alan is the last one; an active superuser counts as an admin too.
    refusal(users.LAST_ADMIN, claims("alan", "idp-audit"))
    factories.UserFactory(username="root", is_superuser=True)
    assert role_of(sign_in_from_identity_provider(claims("alan", "idp-audit"))) == Role.AUDITOR


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_last_admins_demoted_at_once_leave_one_admin():
    """Two sign-ins at the same moment, each demoting one of the two admins: the locks make
    one wait for the other, which then sees it is the last admin and is refused."""
    from django.contrib.auth.models import Group

    for role in Role:
        Group.objects.get_or_create(name=role.value)
    factories.UserFactory(username="ada", role="admin")
    factories.UserFactory(username="alan", role="admin")
    barrier = threading.Barrier(2)
    outcomes = {}

    def sign_in(name):
        barrier.wait()
        try:
            sign_in_from_identity_provider(claims(name, "idp-compliance"))
            outcomes[name] = "demoted"
        except SignInRefused as exc:
            outcomes[name] = exc.reason
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in ("ada", "alan")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["demoted", users.LAST_ADMIN]
    admins = [u.username for u in User.objects.all() if role_of(u) == Role.ADMIN]
    assert len(admins) == 1
