"""Pure rule evaluators over already-loaded facts: no queries, so services (to refuse) and
selectors (to explain) share them, and they are tested with plain values."""

from __future__ import annotations

from compliance import errors
from compliance.errors import Blocker, blocker
from compliance.models import ReleaseStatus, Stage
from compliance.models.roles import Role

# R32: the release statuses at which artifacts may be deployed for each stage.
DEPLOYABLE_STATUSES = {
    Stage.LIMITED: (ReleaseStatus.LIMITED, ReleaseStatus.GENERAL),
    Stage.GENERAL: (ReleaseStatus.GENERAL,),
}


def normalise_digest(digest: str | None) -> str:
    """``sha256:ABC…`` and ``abc…`` name the same weights: compare without the algorithm
    prefix and case (hex digests)."""
    value = (digest or "").strip().lower()
    return value.removeprefix("sha256:")


def digest_matches(reviewed: str, given: str | None) -> bool | None:
    """Whether ``given`` is the reviewed digest; ``None`` when the release names none."""
    if not reviewed:
        return None
    return bool(given) and normalise_digest(reviewed) == normalise_digest(given)


def deploy_blockers(
    *, status: str, stage: str, reviewed_digest: str, digest: str | None
) -> list[Blocker]:
    """R32: every reason artifacts may not be deployed at ``stage`` now."""
    out = []
    if status not in DEPLOYABLE_STATUSES[stage]:
        out.append(blocker(errors.STAGE_NOT_RELEASED, status=str(status), stage=str(stage)))
    if reviewed_digest:
        if not (digest or "").strip():
            out.append(blocker(errors.DIGEST_REQUIRED))
        elif not digest_matches(reviewed_digest, digest):
            out.append(blocker(errors.DIGEST_MISMATCH))
    return out


# --- Single sign-on (R40) ---------------------------------------------------------------
# When a user's groups map to several roles, the strongest wins (as role_of() reads them).
_ROLE_STRENGTH = (Role.ADMIN, Role.STAFF, Role.AUDITOR)


def claimed_groups(claims: dict, claim: str) -> list[str]:
    """The group names in the provider's ``claim``: a list, or one string. A name with dots
    that is not itself a claim is a path into nested claims (Keycloak's
    ``realm_access.roles``); anything else is no group at all."""
    value = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [str(g) for g in value if isinstance(g, str | int)]


def role_for_groups(groups: list[str], role_map: dict[str, str]) -> str | None:
    """R40: the role the provider's groups give (the strongest if several), or None."""
    roles = {role_map[g] for g in groups if g in role_map}
    return next((r.value for r in _ROLE_STRENGTH if r in roles), None)


def demotes_last_admin(*, current_role: str | None, new_role: str, other_admins: int) -> bool:
    """R40: a login whose claim lost the admin group must not leave no active admin."""
    return current_role == Role.ADMIN and new_role != Role.ADMIN and other_admins == 0
