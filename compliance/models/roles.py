from django.db import models


class Role(models.TextChoices):
    """Roles are Django groups of these names (created by a data migration)."""

    STAFF = "staff"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # A machine (the lab's model-serving gateway), not a person: reads access decisions and
    # the entitlement feed and reports receipts (R25–R30), nothing else.
    GATEWAY = "gateway"


# The roles of people: they read the records (pages and API). A gateway does not.
PERSON_ROLES = (Role.ADMIN, Role.STAFF, Role.AUDITOR)


def role_of(user) -> str | None:
    """The strongest role a user holds (admin > staff > auditor), or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.ADMIN
    names = _group_names(user)
    for role in (*PERSON_ROLES, Role.GATEWAY):
        if role in names:
            return role
    return None


def _group_names(user) -> set[str]:
    # Cached per user object: a request asks several times, and the answer does not change.
    cached = getattr(user, "_clearance_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._clearance_groups = cached
    return cached


def is_admin(user) -> bool:
    return role_of(user) == Role.ADMIN


def can_write(user) -> bool:
    return role_of(user) in (Role.STAFF, Role.ADMIN)


def can_read(user) -> bool:
    """The records, pages and API: every role of a person (a gateway reads only its own
    endpoints, ``can_read_access``)."""
    return role_of(user) in PERSON_ROLES


def can_read_access(user) -> bool:
    """Access decisions, the entitlement feed and its stream (R26, R27): every role."""
    return role_of(user) is not None


def is_gateway(user) -> bool:
    return role_of(user) == Role.GATEWAY


def can_read_audit(user) -> bool:
    """The audit log and the reminder log: auditors and admins."""
    return role_of(user) in (Role.AUDITOR, Role.ADMIN)
