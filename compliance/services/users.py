"""Users and their roles (SPEC "Who uses it"): admins manage users; commands run as a named
system actor. A role is exactly one of the groups ``staff``, ``auditor``, ``admin``."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from compliance import clock
from compliance.models.roles import Role
from compliance.services.common import lock_all, require_admin, service_transaction, set_many, stamp

User = get_user_model()

# Sentinel: leave the password as it is (a new user gets an unusable one).
KEEP = object()


@service_transaction
def ensure_user(
    username: str,
    *,
    role: str,
    actor=None,
    password=KEEP,
    email: str | None = None,
    reason: str = "",
):
    """Create or update ``username`` so that it holds exactly ``role``.

    ``actor`` is the admin doing it, or ``None`` inside ``system_actor(...)`` (commands).
    ``password``: a string sets it (validated), ``None`` makes it unusable, ``KEEP`` leaves
    it (a new user then gets an unusable password). Writes, and so history rows, happen only
    for what actually changes: running it twice with the same arguments changes nothing.
    Returns ``(user, created, changed)``."""
    if actor is not None:
        require_admin(actor)
    if role not in Role.values:
        raise ValidationError({"role": [f"Must be one of {', '.join(Role.values)}."]})
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
    if not user.is_active:
        put("is_active", True)
    if password is None and user.has_usable_password():
        user.set_unusable_password()
        changed_fields.add("password")
    elif isinstance(password, str) and not user.check_password(password):
        password_validation.validate_password(password, user)
        user.set_password(password)
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
