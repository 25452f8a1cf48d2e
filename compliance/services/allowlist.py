"""Partner allowlists (R14): staff and admins propose, admins decide and revoke."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from compliance import clock, errors, selectors
from compliance.errors import Blocker, blocker
from compliance.models import (
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    EvidenceDocument,
    Partner,
    Release,
)
from compliance.notifications import events
from compliance.rules import DOMESTIC_COUNTRY
from compliance.services.common import (
    lock,
    lock_all,
    lock_with_release,
    move_blockers,
    reason_blockers,
    refuse_if,
    require_admin,
    require_choice,
    require_writer,
    save,
    service_transaction,
)
from compliance.services.evidence import citation, cite, lock_documents

DECISIONS = (AllowlistStatus.APPROVED, AllowlistStatus.REJECTED)


@service_transaction
def propose_allowlist_entry(
    release: Release, *, actor: User, partner: Partner, note: str = ""
) -> AllowlistEntry:
    """Propose ``partner`` for ``release``. A rejected or revoked partner may be proposed again."""
    require_writer(actor)
    release = lock(release)
    [entry] = lock_all(AllowlistEntry.objects.filter(release=release, partner=partner)) or [None]
    if entry is None:
        entry = AllowlistEntry(release=release, partner=partner)
    elif entry.status in (AllowlistStatus.PROPOSED, AllowlistStatus.APPROVED):
        raise ValidationError(
            {"partner": [f"This partner is already {entry.status} for this release."]}
        )
    entry.status = AllowlistStatus.PROPOSED
    entry.proposed_by = actor
    entry.decided_by = None
    entry.decided_at = None
    entry.vetted_by = None
    entry.reason = ""
    entry.note = note or ""
    save(entry, actor=actor, reason=note or "partner proposed")
    events.allowlist_changed(entry, actor=actor, reason=note)
    return entry


@service_transaction
def decide_allowlist_entry(
    entry: AllowlistEntry,
    *,
    actor: User,
    decision: str,
    vetted_by: Agency | None = None,
    reason: str = "",
    documents: Iterable[EvidenceDocument] = (),
) -> AllowlistEntry:
    """R14: an admin other than the proposer approves or rejects a proposed entry. R38: the
    decision cites ``documents``; its history row names each with its hash."""
    require_admin(actor)
    require_choice("decision", decision, DECISIONS)
    release, entry = lock_with_release(entry, read="partner")
    documents = lock_documents(documents)
    blockers: list[Blocker] = []
    if entry.status != AllowlistStatus.PROPOSED:
        blockers.append(blocker(errors.ALREADY_DECIDED))
    if entry.proposed_by_id == actor.pk:
        blockers.append(blocker(errors.SAME_USER))
    if decision == AllowlistStatus.REJECTED:
        blockers += reason_blockers(reason)
    else:
        approved = release.allowlist.filter(status=AllowlistStatus.APPROVED).count()
        if approved >= release.partner_cap:
            blockers.append(
                blocker(
                    errors.ALLOWLIST_FULL,
                    context={"cap": release.partner_cap, "approved": approved},
                )
            )
        country = str(entry.partner.country)
        if release.foreign_access_restricted and country != DOMESTIC_COUNTRY:
            blockers.append(
                blocker(errors.FOREIGN_PARTNER_RESTRICTED, context={"country": country})
            )
        if vetted_by is None and selectors.vetting_requests().filter(releases=release).exists():
            blockers.append(blocker(errors.VETTING_REQUIRED))
    refuse_if(blockers)

    entry.status = decision
    entry.decided_by = actor
    entry.decided_at = clock.now()
    entry.vetted_by = vetted_by if decision == AllowlistStatus.APPROVED else None
    entry.reason = reason or ""
    history_reason = reason or f"partner {decision}"
    if documents:
        history_reason = f"{history_reason}; {citation(documents)}"
    save(entry, actor=actor, reason=history_reason)
    cite(
        documents,
        field="allowlist_entries",
        target=entry,
        actor=actor,
        reason=f"cited by allowlist entry #{entry.pk} ({entry.partner.name} {decision})",
    )
    events.allowlist_changed(entry, actor=actor, reason=reason)
    return entry


@service_transaction
def revoke_allowlist_entry(entry: AllowlistEntry, *, actor: User, reason: str) -> AllowlistEntry:
    """R14: an admin revokes an approved entry, with a reason."""
    require_admin(actor)
    _release, entry = lock_with_release(entry, read="partner")
    blockers = move_blockers(
        entry.status, "revoked", allowed=entry.status == AllowlistStatus.APPROVED
    )
    blockers += reason_blockers(reason)
    refuse_if(blockers)
    entry.status = AllowlistStatus.REVOKED
    entry.decided_by = actor
    entry.decided_at = clock.now()
    entry.reason = reason
    save(entry, actor=actor, reason=reason)
    events.allowlist_changed(entry, actor=actor, reason=reason)
    return entry
