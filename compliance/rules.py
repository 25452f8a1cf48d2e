"""Pure rule evaluators over already-loaded facts: no queries, so services (to refuse) and
selectors (to explain) share them, and they are tested with plain values. Each rule's
vocabulary (access reasons, alert kinds, which statuses count) is defined here once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from compliance import errors
from compliance.errors import Blocker, blocker
from compliance.models import (
    LIVE_STATUSES,
    AllowlistEntry,
    GovernmentRequest,
    Release,
    ReleaseStatus,
    RequestKind,
    SignOff,
    SignOffStatus,
    Stage,
)
from compliance.models.roles import Role

DOMESTIC_COUNTRY = "US"

# R2/R3: which binding request kinds hold back which stage.
STAGE_BLOCKING_KINDS = {
    Stage.LIMITED: (RequestKind.POSTPONE_RELEASE, RequestKind.SUSPEND_ACCESS),
    Stage.GENERAL: (
        RequestKind.POSTPONE_RELEASE,
        RequestKind.LIMIT_RELEASE,
        RequestKind.SUSPEND_ACCESS,
    ),
}
ALERT_DIRECTIVE_KINDS = (RequestKind.POSTPONE_RELEASE, RequestKind.SUSPEND_ACCESS)
STAGE_FOR_STATUS = {ReleaseStatus.LIMITED: Stage.LIMITED, ReleaseStatus.GENERAL: Stage.GENERAL}

# R1: the statuses a release may be submitted (or resubmitted) for review from.
SUBMITTABLE_STATUSES = (ReleaseStatus.DRAFT, ReleaseStatus.SUSPENDED)
# R17: a review on hold (suspended), not started (draft) or over (retired) needs no one's
# attention: resubmission opens a new round anyway. Every other status's pending sign-offs
# are due (the dashboard and the reminder sweep alike).
QUIET_RELEASE_STATUSES = (ReleaseStatus.DRAFT, ReleaseStatus.SUSPENDED, ReleaseStatus.RETIRED)

# R15: why access is (not) allowed (the API schema lists them in this order).
ACCESS_RETIRED = "retired"
ACCESS_SUSPENDED = "suspended"
ACCESS_NOT_RELEASED = "not_released"
ACCESS_FOREIGN_RESTRICTED = "foreign_restricted"
ACCESS_GENERAL = "general"
ACCESS_ALLOWLISTED = "allowlisted"
ACCESS_NOT_ALLOWLISTED = "not_allowlisted"
ACCESS_REASONS = (
    ACCESS_GENERAL,
    ACCESS_ALLOWLISTED,
    ACCESS_NOT_ALLOWLISTED,
    ACCESS_NOT_RELEASED,
    ACCESS_SUSPENDED,
    ACCESS_RETIRED,
    ACCESS_FOREIGN_RESTRICTED,
)

# R16: the kinds of compliance alert.
ALERT_LIVE_WITHOUT_SIGNOFFS = "live_without_signoffs"
ALERT_LIVE_UNDER_DIRECTIVE = "live_under_directive"
ALERT_FOREIGN_PARTNER_APPROVED = "foreign_partner_approved"
ALERT_KINDS = (
    ALERT_LIVE_WITHOUT_SIGNOFFS,
    ALERT_LIVE_UNDER_DIRECTIVE,
    ALERT_FOREIGN_PARTNER_APPROVED,
)


def can_submit(status: str) -> bool:
    """R1: whether a release in ``status`` may be submitted for review."""
    return status in SUBMITTABLE_STATUSES


@dataclass
class GateFacts:
    """Everything the gate rules read about one release, loaded in a fixed number of queries."""

    release: Release
    required_codes: list[str]
    signoffs: list[SignOff]  # current round only
    binding_requests: list[GovernmentRequest]  # binding, in force, naming the release
    approved_entries: list[AllowlistEntry]


def _signoffs_by_agency(facts: GateFacts, stage: str) -> dict[str, SignOff]:
    return {s.agency.code: s for s in facts.signoffs if s.stage == stage}


def signoff_summary(facts: GateFacts, stage: str) -> dict[str, list[str]]:
    by_agency = _signoffs_by_agency(facts, stage)
    out: dict[str, list[str]] = {k: [] for k in SignOffStatus.values}
    for code in facts.required_codes:
        so = by_agency.get(code)
        out[so.status if so else SignOffStatus.PENDING].append(code)
    return out


def signoff_blockers(facts: GateFacts, stage: str) -> list[Blocker]:
    """Every required agency whose current-round sign-off for ``stage`` is not approved."""
    by_agency = _signoffs_by_agency(facts, stage)
    kind_for = {
        SignOffStatus.PENDING: errors.SIGNOFF_MISSING,
        SignOffStatus.REJECTED: errors.SIGNOFF_REJECTED,
        SignOffStatus.WITHDRAWN: errors.SIGNOFF_WITHDRAWN,
    }
    out = []
    for code in facts.required_codes:
        so = by_agency.get(code)
        status = so.status if so else SignOffStatus.PENDING
        if status != SignOffStatus.APPROVED:
            out.append(blocker(kind_for[status], agency=code, stage=str(stage)))
    return out


def request_blockers(facts: GateFacts, kinds: Iterable[str]) -> list[Blocker]:
    kinds = set(kinds)
    return [
        errors.request_blocker(errors.REQUEST_IN_FORCE, r)
        for r in facts.binding_requests
        if r.kind in kinds
    ]


def stage_blockers(facts: GateFacts, stage: str) -> list[Blocker]:
    """R2 (limited) / R3 (general): what stands between the release and ``stage``."""
    out = signoff_blockers(facts, stage)
    if stage == Stage.LIMITED and not facts.approved_entries:
        out.append(blocker(errors.ALLOWLIST_EMPTY))
    out += request_blockers(facts, STAGE_BLOCKING_KINDS[stage])
    return out


def alerts_for(facts: GateFacts) -> list[dict]:
    """R16 compliance alerts for one release, computed from its gate facts."""
    release = facts.release
    alerts: list[dict] = []
    stage = STAGE_FOR_STATUS.get(release.status)
    if stage is not None:
        unapproved = signoff_blockers(facts, stage)
        if unapproved:
            alerts.append(
                {
                    "kind": ALERT_LIVE_WITHOUT_SIGNOFFS,
                    "release": release.slug,
                    "stage": str(stage),
                    "agencies": [b.fields["agency"] for b in unapproved],
                    "detail": f"{release.slug} is {release.status} but "
                    + ", ".join(b.message for b in unapproved),
                }
            )
        for r in facts.binding_requests:
            if r.kind in ALERT_DIRECTIVE_KINDS:
                alerts.append(
                    {
                        "kind": ALERT_LIVE_UNDER_DIRECTIVE,
                        "release": release.slug,
                        "request": r.pk,
                        "detail": f"{release.slug} is {release.status} while binding "
                        f"{r.kind} request #{r.pk} ({r.reference}) is in force",
                    }
                )
    if release.foreign_access_restricted:
        for e in facts.approved_entries:
            if e.partner.country != DOMESTIC_COUNTRY:
                alerts.append(
                    {
                        "kind": ALERT_FOREIGN_PARTNER_APPROVED,
                        "release": release.slug,
                        "partner": e.partner_id,
                        "detail": f"{release.slug} is restricted to {DOMESTIC_COUNTRY} but "
                        f"{e.partner.name} ({e.partner.country}) is approved",
                    }
                )
    return alerts


def access_answer(
    status: str, restricted: bool, country: object, approved: Callable[[], bool]
) -> dict:
    """The R15 decision from already-loaded facts; ``approved()`` is asked only when needed."""
    if status == ReleaseStatus.RETIRED:
        return {"allowed": False, "reason": ACCESS_RETIRED}
    if status == ReleaseStatus.SUSPENDED:
        return {"allowed": False, "reason": ACCESS_SUSPENDED}
    if status not in LIVE_STATUSES:
        return {"allowed": False, "reason": ACCESS_NOT_RELEASED}
    if restricted and str(country) != DOMESTIC_COUNTRY:
        return {"allowed": False, "reason": ACCESS_FOREIGN_RESTRICTED}
    if status == ReleaseStatus.GENERAL:
        return {"allowed": True, "reason": ACCESS_GENERAL}
    allowed = bool(approved())
    return {"allowed": allowed, "reason": ACCESS_ALLOWLISTED if allowed else ACCESS_NOT_ALLOWLISTED}


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
