"""Releases: create, edit, submit for review (R1), move between states (R2–R6, R11, R13)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from compliance import clock, errors, rules
from compliance.errors import Blocker, blocker
from compliance.models import (
    LIVE_STATUSES,
    Agency,
    AllowlistStatus,
    GovernmentRequest,
    Release,
    ReleaseStatus,
    RequestKind,
    SignOff,
    Stage,
)
from compliance.notifications import events
from compliance.notifications.outbox import notify_release_owner
from compliance.rules import stage_blockers
from compliance.selectors import load_gate_facts
from compliance.services.common import (
    lock,
    move_blockers,
    reason_blockers,
    refuse_if,
    require_admin,
    require_editable,
    require_writer,
    save,
    service_transaction,
    set_many,
)

DEFAULT_PARTNER_CAP = 20
EDITABLE_FIELDS = (
    "name",
    "description",
    "owner",
    "target_date",
    "artifact_digest",
    "required_agencies",
    "partner_cap",
    "review_days",
    "foreign_access_restricted",
)
SUSPENDABLE = (ReleaseStatus.IN_REVIEW, ReleaseStatus.LIMITED, ReleaseStatus.GENERAL)


def _agencies_or_error(agencies: Iterable[Agency]) -> list[Agency]:
    agencies = list(agencies)
    if not agencies:
        raise ValidationError({"required_agencies": ["At least one agency is required."]})
    return agencies


@service_transaction
def create_release(
    *,
    actor: User,
    slug: str,
    name: str,
    description: str = "",
    owner: User | None = None,
    target_date: date | None = None,
    artifact_digest: str = "",
    required_agencies: Iterable[Agency] | None = None,
    partner_cap: int = DEFAULT_PARTNER_CAP,
    review_days: int = 14,
    foreign_access_restricted: bool = False,
    reason: str = "",
) -> Release:
    """A new draft release; ``required_agencies`` defaults to every active agency."""
    require_writer(actor)
    if partner_cap != DEFAULT_PARTNER_CAP:
        require_admin(actor)  # admins set caps (SPEC roles)
    agencies = _agencies_or_error(
        Agency.objects.active() if required_agencies is None else required_agencies
    )
    release = Release(
        slug=slug,
        name=name,
        description=description,
        owner=owner or actor,
        target_date=target_date,
        artifact_digest=artifact_digest,
        partner_cap=partner_cap,
        review_days=review_days,
        foreign_access_restricted=foreign_access_restricted,
    )
    save(release, actor=actor, reason=reason or "release created")
    release.required_agencies.set(agencies)
    return release


@service_transaction
def update_release(
    release: Release, *, actor: User, reason: str = "", **changes: object
) -> Release:
    """Edit a release. R11: a new artifact digest restarts review (refused while live);
    R13: the foreign-access flag cannot be lifted under an in-force restriction;
    R14: only admins set the cap, never below the approved count."""
    require_writer(actor)
    require_editable(changes, EDITABLE_FIELDS)
    release = lock(release)
    agencies = changes.pop("required_agencies", None)
    old_codes = set(release.required_agencies.values_list("code", flat=True))
    new_agencies = None if agencies is None else _agencies_or_error(agencies)
    agencies_changed = new_agencies is not None and {a.code for a in new_agencies} != old_codes
    changed = {k: v for k, v in changes.items() if getattr(release, k) != v}

    refuse_if(_edit_blockers(release, changed, agencies_changed=agencies_changed, actor=actor))

    for name, value in changed.items():
        setattr(release, name, value)
    if agencies_changed:
        set_many(release, "required_agencies", new_agencies)
    if changed or agencies_changed:
        save(release, actor=actor, reason=reason or "release edited")
    if release.status == ReleaseStatus.IN_REVIEW and (
        "artifact_digest" in changed or agencies_changed
    ):
        # Earlier approvals were given for other weights or another panel: start over (R11).
        _start_round(release, actor=actor, reason=reason or "review restarted: release changed")
    if "foreign_access_restricted" in changed:
        events.access_changed([release])
    return release


def _edit_blockers(
    release: Release, changed: dict, *, agencies_changed: bool, actor: User
) -> list[Blocker]:
    """What refuses an edit of a live, capped or restricted release (R11, R13, R14)."""
    blockers: list[Blocker] = []
    live = release.status in LIVE_STATUSES
    if ("artifact_digest" in changed or agencies_changed) and live:
        blockers.append(blocker(errors.RELEASE_LIVE))
    if "partner_cap" in changed:
        require_admin(actor)
        approved = release.allowlist.filter(status=AllowlistStatus.APPROVED).count()
        if changed["partner_cap"] < approved:
            blockers.append(
                blocker(
                    errors.CAP_BELOW_APPROVED,
                    context={"cap": changed["partner_cap"], "approved": approved},
                )
            )
    if changed.get("foreign_access_restricted") is False:
        blockers += [
            errors.request_blocker(errors.RESTRICTION_IN_FORCE, r)
            for r in _restrictions_in_force(release).select_related("agency")
        ]
    return blockers


def _restrictions_in_force(release: Release) -> QuerySet[GovernmentRequest]:
    return (
        GovernmentRequest.objects.in_force()
        .binding()
        .filter(releases=release, kind=RequestKind.RESTRICT_FOREIGN_ACCESS)
        .order_by("pk")
    )


def _start_round(release: Release, *, actor: User, reason: str) -> None:
    """R1: a new review round with one pending sign-off per required agency and stage."""
    release.review_round += 1
    save(
        release, actor=actor, reason=reason, update_fields=["review_round", "status", "updated_at"]
    )
    due = clock.now() + timedelta(days=release.review_days)
    for agency in release.required_agencies.order_by("code"):
        for stage in (Stage.LIMITED, Stage.GENERAL):
            signoff = SignOff(
                release=release, round=release.review_round, agency=agency, stage=stage, due_at=due
            )
            save(signoff, actor=actor, reason=f"review round {release.review_round} opened")


@service_transaction
def submit_release(release: Release, *, actor: User, reason: str = "") -> Release:
    """R1: draft or suspended → in_review, opening review round N+1."""
    require_writer(actor)
    release = lock(release)
    refuse_if(move_blockers(release.status, "in_review", allowed=rules.can_submit(release.status)))
    previous = release.status
    release.status = ReleaseStatus.IN_REVIEW
    _start_round(release, actor=actor, reason=reason or "submitted for review")
    _notify_state(release, actor=actor, previous=previous, reason=reason)
    return release


@service_transaction
def transition_release(release: Release, *, to: str, actor: User, reason: str = "") -> Release:
    """R2–R6: move a release to ``to`` if every rule allows it; otherwise refuse with every
    blocker. ``to="in_review"`` is a submission (R1)."""
    require_writer(actor)
    if to == ReleaseStatus.IN_REVIEW:
        return submit_release(release, actor=actor, reason=reason)
    release = lock(release)
    blockers = transition_blockers(release, to=to, reason=reason, lock_rows=True)
    refuse_if(blockers)
    previous = release.status
    release.status = to
    save(
        release,
        actor=actor,
        reason=reason or f"{previous} → {to}",
        update_fields=["status", "updated_at"],
    )
    _notify_state(release, actor=actor, previous=previous, reason=reason)
    return release


ALLOWED = {
    ReleaseStatus.LIMITED: (ReleaseStatus.IN_REVIEW, ReleaseStatus.GENERAL),
    ReleaseStatus.GENERAL: (ReleaseStatus.IN_REVIEW, ReleaseStatus.LIMITED),
    ReleaseStatus.SUSPENDED: SUSPENDABLE,
    ReleaseStatus.RETIRED: tuple(s for s in ReleaseStatus if s != ReleaseStatus.RETIRED),
}
NEEDS_REASON = (ReleaseStatus.SUSPENDED, ReleaseStatus.RETIRED)


def transition_blockers(
    release: Release, *, to: str, reason: str = "", lock_rows: bool = False
) -> list[Blocker]:
    """Every reason the release cannot go to ``to`` now (empty list: it can)."""
    blockers = move_blockers(release.status, to, allowed=release.status in ALLOWED.get(to, ()))
    if to in NEEDS_REASON:
        blockers += reason_blockers(reason)
    if to in (ReleaseStatus.LIMITED, ReleaseStatus.GENERAL) and not blockers:
        facts = load_gate_facts(release, lock=lock_rows)
        if to == ReleaseStatus.LIMITED and release.status == ReleaseStatus.GENERAL:
            # R4 narrowing: only an approved allowlist is needed.
            if not facts.approved_entries:
                blockers.append(blocker(errors.ALLOWLIST_EMPTY))
        else:
            blockers += stage_blockers(facts, Stage(to))
    return blockers


def _notify_state(release: Release, *, actor: User, previous: str, reason: str) -> None:
    notify_release_owner(
        release=release,
        actor=actor,
        event="state_changed",
        subject={"from": previous, "to": release.status},
        reason=reason,
    )
    events.release_status_changed(release, previous=previous, actor=actor, reason=reason)
