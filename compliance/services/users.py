"""Users and their roles (SPEC "Who uses it"): admins manage users; commands run as a named
system actor. A role is exactly one of the groups ``staff``, ``auditor``, ``admin``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from knox.models import AuthToken, get_token_model

from compliance import clock, rules
from compliance.audit.context import system_actor
from compliance.models.roles import Role, role_of
from compliance.services.common import (
    lock,
    lock_all,
    require_admin,
    require_choice,
    service_transaction,
    set_many,
    stamp,
)

User = get_user_model()
log = logging.getLogger(__name__)

# Sentinel: leave the password as it is (a new user gets an unusable one).
KEEP = object()


@service_transaction
def ensure_user(
    username: str,
    *,
    role: str,
    actor: User | None = None,
    password: str | None | object = KEEP,
    email: str | None = None,
    reason: str = "",
) -> tuple[User, bool, bool]:
    """Create or update ``username`` so that it holds exactly ``role``.

    ``actor`` is the admin doing it, or ``None`` inside ``system_actor(...)`` (commands).
    ``password``: a string sets it (validated), ``None`` makes it unusable, ``KEEP`` leaves
    it (a new user then gets an unusable password). Writes, and so history rows, happen only
    for what actually changes: running it twice with the same arguments changes nothing.
    Returns ``(user, created, changed)``."""
    if actor is not None:
        require_admin(actor)
    require_choice("role", role, Role.values)
    if email:
        validate_email(email)

    [user] = lock_all(User.objects.filter(username=username)) or [None]
    created = user is None
    if created:
        user = User(username=username, date_joined=clock.now())
        user.set_unusable_password()
    changed_fields: set[str] = set()

    def put(name, value):
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed_fields.add(name)

    if email is not None:
        put("email", email)
    # The Django admin is for admins only; other roles lose it (and any superuser flag,
    # which would otherwise make role_of() answer "admin").
    put("is_staff", role == Role.ADMIN)
    if role != Role.ADMIN:
        put("is_superuser", False)
    if not created and not user.is_active:
        put("is_active", True)
        revoke_tokens(user)  # a token from before the deactivation stays dead
    if _put_password(user, password):
        changed_fields.add("password")

    if created or changed_fields:
        user.full_clean(exclude=["password"])
        stamp(user, actor, reason or ("user created" if created else "user updated"))
        user.save()

    role_names = [r.value for r in Role]
    current = set(user.groups.filter(name__in=role_names).values_list("name", flat=True))
    if current != {role}:
        # One history row from the old role straight to the new one (no role-less state).
        others = list(user.groups.exclude(name__in=role_names))
        set_many(user, "groups", [*others, Group.objects.get(name=role)])
        stamp(user, actor, reason or f"role set to {role}")
        user.save()
        changed_fields.add("groups")
    user._clearance_groups = None  # role_of() cache
    return user, created, bool(changed_fields) and not created


def _put_password(user: User, password: str | None | object) -> bool:
    """ensure_user's ``password``: a string sets it (validated) unless it is already the
    password, ``None`` makes it unusable, ``KEEP`` leaves it. True when it changed."""
    if password is None and user.has_usable_password():
        user.set_unusable_password()
        return True
    if isinstance(password, str) and not user.check_password(password):
        password_validation.validate_password(password, user)
        user.set_password(password)
        return True
    return False


# --- API tokens (issue 13 defect 7) -------------------------------------------------------
# A token is a credential, not a record of the lab's decisions: it keeps no history row.
# What revokes tokens: logout (this token), the owner or an admin (one token), a password
# change and a deactivation (every token of the user).


def issue_token(user: User) -> str:
    """A new API token for ``user``; the clear text exists only in the return value. The
    user's expired tokens are purged here (knox would read them all on every request)."""
    token_model = get_token_model()
    token_model.objects.filter(user=user, expiry__lt=clock.now()).delete()
    _instance, token = token_model.objects.create(user=user)
    return token


def revoke_token(token: AuthToken, *, actor: User) -> None:
    """Revoke one token: its owner may, and an admin may revoke anyone's."""
    if token.user_id != actor.pk:
        require_admin(actor)
    token.delete()


def revoke_tokens(user: User) -> int:
    """Revoke every token of ``user`` (after a password change or a deactivation)."""
    deleted, _ = get_token_model().objects.filter(user=user).delete()
    return deleted


@service_transaction
def set_password(user: User, *, actor: User | None, password: str, reason: str = "") -> User:
    """Set a new password (validated); every API token of the user is revoked. ``actor``: the
    user themselves, an admin, or ``None`` inside ``system_actor(...)``."""
    if actor is not None and actor.pk != user.pk:
        require_admin(actor)
    user = lock(user)
    password_validation.validate_password(password, user)
    user.set_password(password)
    stamp(user, actor, reason or "password changed")
    user.save()  # AbstractBaseUser.save() announces the change: RevokeTokensOnPasswordChange
    return user


@service_transaction
def deactivate_user(user: User, *, actor: User | None, reason: str = "") -> User:
    """Deactivate a user (admins): they can no longer sign in, and every API token of theirs
    is revoked, so reactivating them later revives none."""
    if actor is not None:
        require_admin(actor)
    user = lock(user)
    if user.is_active:
        user.is_active = False
        stamp(user, actor, reason or "user deactivated")
        user.save(update_fields=["is_active"])
    revoke_tokens(user)
    return user


class RevokeTokensOnPasswordChange:
    """A password validator that validates nothing: Django calls ``password_changed`` on every
    validator in AUTH_PASSWORD_VALIDATORS whenever a user saved after ``set_password()``
    (``AbstractBaseUser.save``), so a password change revokes the user's tokens wherever it
    happens: this service, the Django admin, ``manage.py changepassword``, a shell."""

    def validate(self, password: str, user: User | None = None) -> None:
        return None

    def password_changed(self, password: str, user: User | None = None) -> None:
        if user is not None and user.pk is not None:
            revoke_tokens(user)

    def get_help_text(self) -> str:
        return ""


# --- Single sign-on (R40) -----------------------------------------------------------------
# Why a sign-in through the identity provider is refused (the refusal page says which).
NO_USERNAME = "no_username"
INVALID_USERNAME = "invalid_username"
NO_ROLE = "no_role"
DEACTIVATED = "deactivated"
NOT_A_PERSON = "not_a_person"
LAST_ADMIN = "last_admin"


@dataclass
class SignInRefused(Exception):
    """The provider vouched for the person, yet Clearance gives them no session; nothing has
    been written. ``reason`` is one of the kinds above."""

    reason: str
    username: str = ""

    def __str__(self) -> str:
        return f"single sign-on refused ({self.reason}) for {self.username!r}"


def sign_in_from_identity_provider(claims: dict) -> User:
    """R40: the user a provider's verified claims name, with the role their groups give,
    ready for a session. The user is named by ``preferred_username`` (else the e-mail); at
    every sign-in the role follows ``OIDC_ROLE_CLAIM`` through ``OIDC_ROLE_MAP``, written by
    ``ensure_user`` as ``system:oidc`` (history only when something changes), and the user
    gets no usable password. Refused (``SignInRefused``, nothing written): no name; a name
    Django cannot take; groups that give no role; a deactivated user (a sign-in does not
    bring them back); a gateway's account; the last active admin losing the admin group."""
    username = str(claims.get("preferred_username") or claims.get("email") or "").strip()
    if not username:
        raise SignInRefused(NO_USERNAME)
    groups = rules.claimed_groups(claims, settings.OIDC_ROLE_CLAIM)
    role = rules.role_for_groups(groups, settings.OIDC_ROLE_MAP)
    if role is None:
        raise SignInRefused(NO_ROLE, username)
    with system_actor("oidc"):
        try:
            return _sign_in(username, role=role, email=_valid_email(claims.get("email")))
        except ValidationError as exc:
            log.warning("single sign-on: %s is not a valid user: %s", username, exc)
            raise SignInRefused(INVALID_USERNAME, username) from exc


def _valid_email(value: object) -> str | None:
    """The e-mail claim if it is one (a malformed one is left out, not a refusal)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        validate_email(value)
    except ValidationError:
        return None
    return value


@service_transaction
def _sign_in(username: str, *, role: str, email: str | None) -> User:
    # The user and every active admin, locked in one pk-ordered call: two last admins
    # demoted at once by two sign-ins cannot both see the other one still there.
    admins = Q(is_active=True) & (Q(is_superuser=True) | Q(groups__name=Role.ADMIN))
    candidates = User.objects.filter(Q(username=username) | admins).values("pk")
    locked = {u.username: u for u in lock_all(User.objects.filter(pk__in=candidates))}
    user = locked.get(username)
    if user is not None:
        current = role_of(user)
        if not user.is_active:
            raise SignInRefused(DEACTIVATED, username)
        if current == Role.GATEWAY:
            raise SignInRefused(NOT_A_PERSON, username)
        other_admins = sum(1 for u in locked.values() if u.pk != user.pk and is_admin_row(u))
        if rules.demotes_last_admin(current_role=current, new_role=role, other_admins=other_admins):
            raise SignInRefused(LAST_ADMIN, username)
    user, _created, _changed = ensure_user(
        username,
        role=role,
        password=None,  # an SSO user signs in at the provider only
        email=email,
        reason=f"signed in with {settings.OIDC_PROVIDER_NAME}: role from the "
        f"{settings.OIDC_ROLE_CLAIM} claim",
    )
    return user


def is_admin_row(user: User) -> bool:
    """An active admin among rows locked by ``_sign_in`` (they were selected as such, or as
    the signing-in user: ``role_of`` tells which)."""
    return user.is_active and role_of(user) == Role.ADMIN
